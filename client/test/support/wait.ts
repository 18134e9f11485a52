import type { HeraldClient, HeraldClientEvents } from '../../src';

/** Resolves with the client's next `event`; rejects after `timeoutMs`. */
export function nextEvent<TPayloads extends object, E extends keyof HeraldClientEvents<TPayloads>>(
  client: HeraldClient<TPayloads>,
  event: E,
  timeoutMs = 2000,
): Promise<HeraldClientEvents<TPayloads>[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stopListening();
      reject(new Error(`no '${String(event)}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const stopListening = client.on(event, (payload) => {
      clearTimeout(timer);
      stopListening();
      resolve(payload);
    });
  });
}

/** Polls `condition` every 5 ms; rejects after `timeoutMs`, naming `what` it waited for. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Everything the client delivered, as `channel#offset`, in delivery order. */
export function recordDeliveries(client: HeraldClient): string[] {
  const delivered: string[] = [];
  client.on('notification', (notification) =>
    delivered.push(`${notification.channel}#${notification.offset}`),
  );
  return delivered;
}
