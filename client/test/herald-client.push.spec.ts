import { HeraldClient, HeraldPushError, type PushRegistrationLike, type PushSubscriptionLike } from '../src';
import { type FakeAnswer, fakeFetch, type RecordedRequest } from './support/fake-fetch';
import { aToken } from './support/fake-herald-server';
import { fakeWebSocketClass } from './support/fake-socket';

/** The server's VAPID public key: a P-256 point, 65 bytes, base64url without padding. */
const SERVER_KEY = Buffer.from([4, ...Array.from({ length: 64 }, (_, index) => index)]);
const SERVER_KEY_B64 = SERVER_KEY.toString('base64url');
const ENDPOINT = 'https://push.example.net/wpush/abc';

/** A browser push subscription as PushManager makes one. */
class FakeSubscription implements PushSubscriptionLike {
  unsubscribed = false;
  readonly options: { applicationServerKey: ArrayBuffer };

  constructor(
    key: Uint8Array,
    readonly endpoint = ENDPOINT,
  ) {
    this.options = { applicationServerKey: Uint8Array.from(key).buffer };
  }

  toJSON() {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: 'BPub', auth: 'authSecret' } };
  }

  unsubscribe(): Promise<boolean> {
    this.unsubscribed = true;
    return Promise.resolve(true);
  }
}

/** A service worker whose state the test moves on, as the browser would. */
class FakeWorker {
  private readonly listeners: (() => void)[] = [];

  constructor(public state: string) {}

  addEventListener(_type: 'statechange', listener: () => void): void {
    this.listeners.push(listener);
  }

  moveTo(state: string): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}

/** A ServiceWorkerRegistration: its workers, and a pushManager with one subscription at a time. */
class FakeRegistration implements PushRegistrationLike {
  installing: FakeWorker | null = null;
  active: FakeWorker | null = new FakeWorker('activated');
  current: FakeSubscription | null = null;
  readonly subscribeCalls: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }[] = [];
  refuse?: Error;

  readonly pushManager = {
    getSubscription: () => Promise.resolve(this.current?.unsubscribed ? null : this.current),
    subscribe: (options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }) => {
      this.subscribeCalls.push(options);
      if (this.refuse) return Promise.reject(this.refuse);
      this.current = new FakeSubscription(
        options.applicationServerKey,
        `${ENDPOINT}-${this.subscribeCalls.length}`,
      );
      return Promise.resolve(this.current);
    },
  };
}

type Permission = 'granted' | 'denied' | 'default';

/** The browser's Notification API, as a global for the SDK to find. */
function installNotification(permission: Permission, answer: Permission = permission): { asked: number } {
  const state = { asked: 0 };
  (globalThis as { Notification?: unknown }).Notification = {
    permission,
    requestPermission: () => {
      state.asked++;
      return Promise.resolve(answer);
    },
  };
  return state;
}

describe(`${HeraldClient.name} Web Push`, () => {
  let sut: HeraldClient;
  let registration: FakeRegistration;
  let requests: RecordedRequest[];
  let answer: (request: RecordedRequest) => FakeAnswer;
  const token = aToken();

  beforeEach(() => {
    registration = new FakeRegistration();
    answer = (request) =>
      request.url.endsWith('/vapid-public-key')
        ? { status: 200, body: { publicKey: SERVER_KEY_B64 } }
        : request.method === 'POST'
          ? { status: 201, body: { id: 'sub-1' } }
          : { status: 204 };
    const fake = fakeFetch((request) => answer(request));
    requests = fake.requests;
    sut = new HeraldClient({
      url: 'wss://herald.test/v1/ws',
      token,
      WebSocket: fakeWebSocketClass().WebSocket,
      fetch: fake.fetch,
    });
  });
  afterEach(() => {
    sut.close();
    delete (globalThis as { Notification?: unknown }).Notification;
  });

  const rejection = async (promise: Promise<unknown>): Promise<HeraldPushError> => {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(HeraldPushError);
    return error as HeraldPushError;
  };

  describe('subscribePush', () => {
    it('asks the permission, fetches the key, subscribes the browser and registers it with the token', async () => {
      const permission = installNotification('default', 'granted');

      await expect(sut.subscribePush({ serviceWorker: registration })).resolves.toEqual({ id: 'sub-1' });

      expect(permission.asked).toBe(1);
      expect(registration.subscribeCalls).toEqual([
        { userVisibleOnly: true, applicationServerKey: new Uint8Array(SERVER_KEY) },
      ]);
      expect(requests).toEqual([
        expect.objectContaining({
          method: 'GET',
          url: 'https://herald.test/v1/push/vapid-public-key',
          headers: {},
        }),
        expect.objectContaining({
          method: 'POST',
          url: 'https://herald.test/v1/push/subscriptions',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: { endpoint: `${ENDPOINT}-1`, keys: { p256dh: 'BPub', auth: 'authSecret' } },
        }),
      ]);
    });

    it('uses the key it is given, and does not ask again a permission already granted', async () => {
      const permission = installNotification('granted');

      await sut.subscribePush({ serviceWorker: registration, vapidPublicKey: `${SERVER_KEY_B64}=` });

      expect(permission.asked).toBe(0);
      expect(registration.subscribeCalls[0].applicationServerKey).toEqual(new Uint8Array(SERVER_KEY));
      expect(requests.map((request) => request.method)).toEqual(['POST']);
    });

    it('keeps a subscription made with the same key, and replaces one made with another', async () => {
      installNotification('granted');
      const same = new FakeSubscription(SERVER_KEY);
      registration.current = same;
      await sut.subscribePush({ serviceWorker: registration });
      expect(registration.subscribeCalls).toEqual([]);
      expect(requests[1].body).toMatchObject({ endpoint: ENDPOINT });

      const stale = new FakeSubscription(new Uint8Array(65).fill(9));
      registration.current = stale;
      await sut.subscribePush({ serviceWorker: registration });
      expect(stale.unsubscribed).toBe(true);
      expect(registration.subscribeCalls).toHaveLength(1);
    });

    it('waits for a worker still installing to activate before subscribing', async () => {
      installNotification('granted');
      const worker = new FakeWorker('installing');
      registration.active = null;
      registration.installing = worker;

      const subscribed = sut.subscribePush({ serviceWorker: registration, vapidPublicKey: SERVER_KEY_B64 });
      for (let turn = 0; turn < 20; turn++) await Promise.resolve(); // everything up to the wait
      expect(registration.subscribeCalls).toEqual([]);
      worker.moveTo('installed');
      worker.moveTo('activating');
      expect(registration.subscribeCalls).toEqual([]);
      worker.moveTo('activated');

      await expect(subscribed).resolves.toEqual({ id: 'sub-1' });
      expect(registration.subscribeCalls).toHaveLength(1);
    });

    it('refuses with subscribe_failed when the worker fails to install', async () => {
      installNotification('granted');
      const worker = new FakeWorker('installing');
      registration.active = null;
      registration.installing = worker;

      const subscribed = sut.subscribePush({ serviceWorker: registration, vapidPublicKey: SERVER_KEY_B64 });
      worker.moveTo('redundant');

      expect((await rejection(subscribed)).code).toBe('subscribe_failed');
      expect(registration.subscribeCalls).toEqual([]);
    });

    it.each<[string, Permission]>([
      ['denied', 'denied'],
      ['dismissed', 'default'],
    ])('refuses with permission_denied when the user %s the prompt', async (_case, answered) => {
      installNotification('default', answered);

      const error = await rejection(sut.subscribePush({ serviceWorker: registration }));

      expect(error.code).toBe('permission_denied');
      expect(registration.subscribeCalls).toEqual([]);
      expect(requests).toEqual([]);
    });

    it('refuses with unsupported where there is no Notification API', async () => {
      const error = await rejection(sut.subscribePush({ serviceWorker: registration }));
      expect(error).toMatchObject({ code: 'unsupported', name: 'HeraldPushError' });
    });

    it.each([
      ['NotAllowedError', 'permission_denied'],
      ['AbortError', 'subscribe_failed'],
    ])('maps a PushManager %s to %s', async (name, code) => {
      installNotification('granted');
      registration.refuse = Object.assign(new Error(name), { name });

      expect((await rejection(sut.subscribePush({ serviceWorker: registration }))).code).toBe(code);
    });

    it.each<[number, string]>([
      [404, 'push_disabled'],
      [500, 'request_failed'],
    ])('refuses a key request answered %i with %s', async (status, code) => {
      installNotification('granted');
      answer = () => ({ status, body: { statusCode: status, error: 'x', message: 'Web Push is off' } });

      const error = await rejection(sut.subscribePush({ serviceWorker: registration }));

      expect(error).toMatchObject({ code, status });
      expect(error.message).toBe(`GET push/vapid-public-key answered ${status}: Web Push is off`);
    });

    it.each<[number, string]>([
      [401, 'unauthorized'],
      [422, 'endpoint_refused'],
      [400, 'request_failed'],
    ])('refuses a registration answered %i with %s', async (status, code) => {
      installNotification('granted');
      answer = () => ({ status, body: { statusCode: status, error: 'x', message: 'no' } });

      const error = await rejection(
        sut.subscribePush({ serviceWorker: registration, vapidPublicKey: SERVER_KEY_B64 }),
      );

      expect(error).toMatchObject({
        code,
        status,
        message: `POST push/subscriptions answered ${status}: no`,
      });
    });

    it('refuses with request_failed on a network error', async () => {
      installNotification('granted');
      answer = () => new TypeError('fetch failed');

      const error = await rejection(
        sut.subscribePush({ serviceWorker: registration, vapidPublicKey: SERVER_KEY_B64 }),
      );

      expect(error).toMatchObject({ code: 'request_failed', status: undefined });
      expect(error.message).toContain('fetch failed');
    });

    it('refuses with unauthorized when the fixed token expired and there is no getToken', async () => {
      installNotification('granted');
      const expired = new HeraldClient({
        url: 'wss://herald.test/v1/ws',
        token: aToken({ expiresInSeconds: -10 }),
        WebSocket: fakeWebSocketClass().WebSocket,
        fetch: fakeFetch().fetch,
      });
      try {
        const error = await rejection(
          expired.subscribePush({ serviceWorker: registration, vapidPublicKey: SERVER_KEY_B64 }),
        );
        expect(error.code).toBe('unauthorized');
      } finally {
        expired.close();
      }
    });
  });

  describe('unsubscribePush', () => {
    it('learns the id by registering again, deletes it from Herald, then unsubscribes the browser', async () => {
      const subscription = new FakeSubscription(SERVER_KEY);
      registration.current = subscription;
      answer = (request) =>
        request.method === 'POST' ? { status: 200, body: { id: 'sub 7' } } : { status: 204 };

      await expect(sut.unsubscribePush({ serviceWorker: registration })).resolves.toBe(true);

      expect(requests.map((request) => `${request.method} ${request.url}`)).toEqual([
        'POST https://herald.test/v1/push/subscriptions',
        'DELETE https://herald.test/v1/push/subscriptions/sub%207',
      ]);
      expect(requests[1].headers).toEqual({ authorization: `Bearer ${token}` });
      expect(subscription.unsubscribed).toBe(true);
    });

    it('deletes the id it is given, also one Herald no longer has (404)', async () => {
      const subscription = new FakeSubscription(SERVER_KEY);
      registration.current = subscription;
      answer = () => ({ status: 404 });

      await expect(sut.unsubscribePush({ serviceWorker: registration, id: 'sub-1' })).resolves.toBe(true);

      expect(requests.map((request) => request.method)).toEqual(['DELETE']);
      expect(subscription.unsubscribed).toBe(true);
    });

    it('resolves false when the browser has no subscription and no id is given', async () => {
      await expect(sut.unsubscribePush({ serviceWorker: registration })).resolves.toBe(false);
      expect(requests).toEqual([]);
    });

    it('keeps the browser subscription when Herald cannot delete it, so that a retry can', async () => {
      const subscription = new FakeSubscription(SERVER_KEY);
      registration.current = subscription;
      answer = () => ({ status: 503 });

      const error = await rejection(sut.unsubscribePush({ serviceWorker: registration, id: 'sub-1' }));

      expect(error).toMatchObject({ code: 'request_failed', status: 503 });
      expect(subscription.unsubscribed).toBe(false);
    });
  });
});
