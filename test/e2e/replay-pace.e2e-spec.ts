import { request as httpGet, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { aToken, aUserId, post, type NotificationData } from '../support/client';
import { range, startCluster, TestCluster } from '../support/cluster';
import { getJson } from '../support/http';
import { encodeEventId } from '../../src/sse/sse-event-id';
import { TEST_API_KEY } from '../support/app';
import { sleep, waitUntil } from '../support/wait';

/** 1,000 stored notifications of ~5.4 KB: a replay of ~5.4 MB, over five times WS_MAX_BUFFERED_BYTES. */
const REPLAYED = 1000;
const PAYLOAD = 'x'.repeat(5300);
/** Published while the client is not reading: they wait behind the replay. */
const LIVE = 20;

/**
 * Stops reading the socket for `stallMs`, then reads in short bursts (10 ms every 100 ms) until
 * stopped: a mobile client that went quiet, then crawls.
 */
function readSlowly(socket: { pause(): unknown; resume(): unknown }, stallMs: number): () => void {
  socket.pause();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const burst = () => {
    if (stopped) return;
    socket.resume();
    timer = setTimeout(() => {
      if (stopped) return;
      socket.pause();
      timer = setTimeout(burst, 90);
    }, 10);
  };
  timer = setTimeout(burst, stallMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket.resume();
  };
}

/**
 * A recovery replay is written at the pace the client reads it (contract: "Replay pace and outages"):
 * a client that missed ~5.4 MB, stops reading for 3 s and then reads slowly gets all of it, then the
 * live notifications that arrived meanwhile, in order, once — and no 4008.
 */
describe('recovery replay to a slow reader', () => {
  let cluster: TestCluster;
  let user: string;
  let epoch: string;

  beforeAll(async () => {
    cluster = await startCluster(1, { HISTORY_SIZE: '2000' });
  });
  afterAll(() => cluster.stop());

  beforeEach(async () => {
    user = aUserId('slow');
    // Reading an empty channel starts its life at offset 0: the client recovers from there.
    const history = await getJson(`${cluster.replicas[0].url}/v1/channels/user:${user}/history`, {
      authorization: `Bearer ${TEST_API_KEY}`,
    });
    epoch = history.body.epoch as string;
    const notifications = range(1, REPLAYED).map((n) => ({
      users: [user],
      type: 'big',
      payload: { n, PAYLOAD },
    }));
    const batch = await post(cluster.replicas[0], '/v1/notifications/batch', { notifications });
    expect(batch.status).toBe(202);
  });

  const publishLive = async () => {
    for (const n of range(REPLAYED + 1, REPLAYED + LIVE)) {
      const response = await post(cluster.replicas[0], '/v1/notifications', {
        users: [user],
        type: 'big',
        payload: { n, PAYLOAD },
      });
      expect(response.status).toBe(202);
    }
  };

  const expectEverything = (received: NotificationData[]) => {
    expect(received.map((n) => n.offset)).toEqual(range(1, REPLAYED + LIVE));
    expect(received.map((n) => (n.payload as { n: number }).n)).toEqual(range(1, REPLAYED + LIVE));
  };

  it('over WebSocket', async () => {
    const [app] = cluster.replicas;
    const query = new URLSearchParams({ access_token: aToken({ sub: user }), offset: '0', epoch });
    const ws = new WebSocket(`${app.wsUrl}?${query.toString()}`);
    const frames: { event: string; data: Record<string, unknown> }[] = [];
    let closeCode: number | undefined;
    ws.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString()) as (typeof frames)[number]));
    ws.on('close', (code) => (closeCode = code));
    ws.on('error', () => undefined);
    let stop: (() => void) | undefined;
    await new Promise<void>((resolve, reject) => {
      ws.once('upgrade', (response: IncomingMessage) => {
        ws.once('open', () => {
          stop = readSlowly(response.socket, 3000);
          resolve();
        });
      });
      ws.once('error', reject);
    });
    try {
      await sleep(500);
      await publishLive();
      const notifications = () =>
        frames.filter((f) => f.event === 'notification').map((f) => f.data as unknown as NotificationData);
      await waitUntil(
        () => notifications().length >= REPLAYED + LIVE || closeCode !== undefined,
        90_000,
        `${REPLAYED + LIVE} notifications (have ${notifications().length})`,
        50,
      );
      expect(closeCode).toBeUndefined();
      expect(frames[0].event).toBe('ready');
      expect(frames[1]).toMatchObject({
        event: 'subscribed',
        data: { channel: `user:${user}`, recovered: true },
      });
      expectEverything(notifications());
    } finally {
      stop?.();
      ws.terminate();
    }
  }, 120_000);

  it('over Server-Sent Events', async () => {
    const [app] = cluster.replicas;
    // What a stream that stood at offset 0 of the personal channel would send back.
    const lastEventId = encodeEventId([[`user:${user}`, { offset: 0, epoch }]]);
    const query = new URLSearchParams({ access_token: aToken({ sub: user }), lastEventId });
    let text = '';
    let ended = false;
    let stop: (() => void) | undefined;
    const req = httpGet(`${app.url}/v1/sse?${query.toString()}`, (response) => {
      stop = readSlowly(response, 3000);
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (ended = true));
    });
    req.on('error', () => undefined);
    req.end();
    try {
      await sleep(500);
      await publishLive();
      const notifications = () =>
        [...text.matchAll(/event: notification\ndata: (.*)\n\n/g)].map(
          (match) => JSON.parse(match[1]) as NotificationData,
        );
      await waitUntil(
        () => notifications().length >= REPLAYED + LIVE || ended,
        90_000,
        `${REPLAYED + LIVE} SSE notifications (have ${notifications().length})`,
        100,
      );
      expect(ended).toBe(false);
      expect(text).toMatch(
        /event: subscribed\ndata: \{"channel":"user:[^"]+","offset":1000,"epoch":"[^"]+","recovered":true\}/,
      );
      expectEverything(notifications().filter((n) => n.channel === `user:${user}`));
    } finally {
      stop?.();
      req.destroy();
    }
  }, 120_000);
});
