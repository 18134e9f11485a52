import {
  aNotification,
  aToken,
  aUserId,
  connect,
  NotificationData,
  publish,
  publishMarker,
  TestClient,
} from '../support/client';
import { range } from '../support/cluster';
import { InProcessApp, startInProcessApp } from '../support/in-process';
import { startRedis, TestRedis } from '../support/redis';
import { sleep, waitUntil } from '../support/wait';

const offsets = (notifications: NotificationData[]) => notifications.map((n) => n.offset);

/** Recovery: a client that comes back with its last offset gets exactly what it missed, then live. */
describe.each([
  ['redis', true],
  ['memory', false],
])('recovery (%s engine)', (_engine, withRedis) => {
  let redis: TestRedis | undefined;
  let app: InProcessApp;
  const clients: TestClient[] = [];
  const track = (client: TestClient) => (clients.push(client), client);

  beforeAll(async () => {
    redis = withRedis ? await startRedis() : undefined;
    app = await startInProcessApp({ redis, env: { HISTORY_SIZE: '150' } });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('replays the 100 missed notifications in order on reconnect, with recovered: true', async () => {
    const user = aUserId('recover');
    const token = aToken({ sub: user });
    const first = track(await connect(app, token));
    await publish(app, aNotification([user], { n: 0 }));
    const [seen] = await first.waitForNotifications(1);
    await first.close();
    for (let n = 1; n <= 100; n++) await publish(app, aNotification([user], { n }));
    const back = track(await connect(app, token, { query: { offset: seen.offset, epoch: seen.epoch } }));
    expect(back.frames[0].event).toBe('ready');
    const subscribed = await back.nextFrame('subscribed');
    expect(subscribed.data).toEqual({
      channel: `user:${user}`,
      offset: 101,
      epoch: seen.epoch,
      recovered: true,
    });
    expect(back.frames[1]).toBe(subscribed);
    const replayed = await back.waitForNotifications(100);
    expect(offsets(replayed)).toEqual(range(2, 101));
    expect(replayed.map((n) => (n.payload as { n: number }).n)).toEqual(range(1, 100));
    await publish(app, aNotification([user], { n: 101 }));
    expect(offsets(await back.waitForNotifications(101))).toEqual(range(2, 102));
  });

  it('switches from replay to live with no gap and no duplicate while publishing continues', async () => {
    const user = aUserId('switch');
    const token = aToken({ sub: user });
    let publishing = true;
    let accepted = 0;
    const publisher = (async () => {
      while (publishing) {
        const response = await publish(app, aNotification([user], { n: accepted + 1 }));
        if (response.status === 202) accepted += 1;
      }
    })();
    await waitUntil(() => accepted >= 5, 5000, 'a few publishes');
    const back = track(await connect(app, token, { query: { offset: 0, epoch: 'unknown' } }));
    const first = await back.nextFrame('subscribed');
    expect(first.data.recovered).toBe(false);
    // Recover again from offset 1 on the same connection (re-join of the personal channel), mid-stream.
    const from = (await back.waitForNotifications(1))[0];
    back.send('subscribe', { channel: `user:${user}`, offset: 1, epoch: from.epoch });
    const again = await back.nextFrame('subscribed');
    expect(again.data).toMatchObject({ channel: `user:${user}`, recovered: true });
    const acceptedAtRecovery = accepted;
    await waitUntil(() => accepted >= acceptedAtRecovery + 10, 5000, '10 publishes after the recovery');
    publishing = false;
    await publisher;
    // After the second `subscribed`, the stream restarts at offset 2 and runs to the last accepted one, each once.
    const marker = await publishMarker(app, { users: [user] });
    const afterRecovery = back.frames.slice(back.frames.indexOf(again) + 1, await back.markerIndex(marker));
    expect(afterRecovery.map((frame) => frame.event)).toEqual(afterRecovery.map(() => 'notification'));
    expect(offsets(afterRecovery.map((frame) => frame.data as unknown as NotificationData))).toEqual(
      range(2, accepted),
    );
  });

  it('recovers a connection that reconnects while publishing continues: every accepted notification once, in order', async () => {
    const user = aUserId('live');
    const token = aToken({ sub: user });
    let first = track(await connect(app, token));
    let publishing = true;
    let accepted = 0;
    // Paced, and fewer in all than HISTORY_SIZE (150): however slow a reconnect is on a busy machine,
    // what it missed is still in history, so the answer must be a full recovery.
    const publisher = (async () => {
      while (publishing && accepted < 140) {
        if ((await publish(app, aNotification([user], { n: accepted + 1 }))).status === 202) accepted += 1;
        await sleep(6);
      }
    })();
    const received: NotificationData[] = [];
    for (let round = 0; round < 3; round++) {
      await sleep(150);
      await first.close();
      received.push(...first.notifications());
      const last = received[received.length - 1];
      await sleep(100);
      first = track(
        await connect(app, token, { query: last ? { offset: last.offset, epoch: last.epoch } : {} }),
      );
    }
    await sleep(150);
    publishing = false;
    await publisher;
    const last = first;
    const newest = () => (last.notifications().at(-1) ?? received.at(-1))?.offset ?? 0;
    await waitUntil(() => newest() === accepted, 5000, 'the last accepted one');
    received.push(...(await last.notificationsBefore(await publishMarker(app, { users: [user] }))));
    expect(offsets(received)).toEqual(range(1, accepted));
  });

  it('answers recovered: false, and replays nothing, for a stale epoch', async () => {
    const user = aUserId('stale');
    await publish(app, aNotification([user]));
    const client = track(
      await connect(app, aToken({ sub: user }), { query: { offset: 0, epoch: 'old-epoch' } }),
    );
    expect((await client.nextFrame('subscribed')).data).toMatchObject({ offset: 1, recovered: false });
    expect(await client.notificationsBefore(await publishMarker(app, { users: [user] }))).toEqual([]);
  });

  it('answers recovered: false when what followed the offset was trimmed from history', async () => {
    const user = aUserId('trimmed');
    const [{ epoch }] = (await publish(app, aNotification([user]))).body.deliveries ?? [];
    for (let n = 0; n < 160; n++) await publish(app, aNotification([user], { n }));
    const client = track(await connect(app, aToken({ sub: user }), { query: { offset: 1, epoch } }));
    expect((await client.nextFrame('subscribed')).data).toMatchObject({
      offset: 161,
      epoch,
      recovered: false,
    });
    expect(await client.notificationsBefore(await publishMarker(app, { users: [user] }))).toEqual([]);
  });

  it('recovers a topic through subscribe with offset and epoch', async () => {
    const topic = `recover.${Date.now()}`;
    const client = track(await connect(app, aToken({ topics: ['recover.*'] })));
    client.send('subscribe', { channel: `topic:${topic}` });
    const { data } = await client.nextFrame('subscribed');
    for (let n = 1; n <= 5; n++) await publish(app, { topics: [topic], type: 't', payload: { n } });
    client.send('subscribe', { channel: `topic:${topic}`, offset: 2, epoch: data.epoch });
    expect((await client.nextFrame('subscribed')).data).toMatchObject({ offset: 5, recovered: true });
    const all = await client.waitForNotifications(8, `topic:${topic}`);
    expect(offsets(all)).toEqual([1, 2, 3, 4, 5, 3, 4, 5]);
  });
});
