import type { HeraldClient, HeraldClientEvents, HeraldNotification } from '../../client/src/index';
import { waitUntil } from './wait';

/** What an SDK client reported, event by event. */
export interface SdkRecording {
  received: HeraldNotification[];
  events: { [E in 'connected' | 'disconnected' | 'unrecovered' | 'error']: HeraldClientEvents[E][] };
}

/**
 * Records every notification and state event of `client`, subscribes it to `topic:<topic>`, and
 * waits until it is connected and on the topic.
 */
export async function recordOnTopic(client: HeraldClient, topic: string): Promise<SdkRecording> {
  const recording: SdkRecording = {
    received: [],
    events: { connected: [], disconnected: [], unrecovered: [], error: [] },
  };
  const { received, events } = recording;
  client.on('notification', (notification) => received.push(notification));
  client.on('connected', (event) => events.connected.push(event));
  client.on('disconnected', (event) => events.disconnected.push(event));
  client.on('unrecovered', (event) => events.unrecovered.push(event));
  client.on('error', (event) => events.error.push(event));
  client.subscribe(`topic:${topic}`);
  await waitUntil(
    () => client.state === 'connected' && client.positions[`topic:${topic}`] !== undefined,
    5000,
    'the client to be connected and on the topic',
  );
  return recording;
}
