import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import type { PushMessage } from '../src/wire';

const SOURCE = join(__dirname, '..', 'service-worker', 'herald-service-worker.ts');
const SCOPE = 'https://app.example.com/app/';

/** The helper as the browser runs it: the source transpiled like its build, as a classic script. */
const script = ts.transpileModule(readFileSync(SOURCE, 'utf8'), {
  compilerOptions: { target: ts.ScriptTarget.ES2020 },
}).outputText;

type Listener = (event: FakeEvent) => void;

interface FakeEvent {
  data?: { json(): unknown } | null;
  notification?: { data: unknown; close(): void };
  waitUntil(promise: Promise<unknown>): void;
}

/** A CacheStorage with one behaviour that matters here: entries by URL, in insertion order. */
class FakeCaches {
  readonly entries = new Map<string, Map<string, unknown>>();

  open(name: string) {
    const entries = this.entries.get(name) ?? new Map<string, unknown>();
    this.entries.set(name, entries);
    return Promise.resolve({
      match: (key: string) => Promise.resolve(entries.get(key)),
      put: (key: string, value: unknown) => Promise.resolve(void entries.set(key, value)),
      keys: () => Promise.resolve([...entries.keys()]),
      delete: (key: string) => Promise.resolve(entries.delete(key)),
    });
  }
}

/** A service worker's global scope, with the helper loaded into it. */
function aWorker({ windows = [] as { url: string; focused: boolean }[], caches = new FakeCaches() } = {}) {
  const listeners = new Map<string, Listener[]>();
  const shown: { title: string; options: Record<string, unknown> }[] = [];
  const opened: string[] = [];
  const clientWindows = windows.map((window) => ({
    url: window.url,
    focus: () => Promise.resolve(void (window.focused = true)),
  }));
  const self = {
    addEventListener: (type: string, listener: Listener) =>
      listeners.set(type, [...(listeners.get(type) ?? []), listener]),
    registration: {
      scope: SCOPE,
      showNotification: (title: string, options: Record<string, unknown>) =>
        Promise.resolve(void shown.push({ title, options })),
    },
    clients: {
      matchAll: () => Promise.resolve(clientWindows),
      openWindow: (url: string) => Promise.resolve(void opened.push(url)),
    },
  };
  const globals = { self, caches, Response, URL, Promise, JSON, Set, Object };
  runInNewContext(script, globals);

  /** Dispatches an event; resolves once every `waitUntil` promise settled. */
  async function dispatch(type: string, fields: Partial<FakeEvent>): Promise<number> {
    const pending: Promise<unknown>[] = [];
    for (const listener of listeners.get(type) ?? []) {
      listener({ ...fields, waitUntil: (promise) => pending.push(promise) });
    }
    await Promise.all(pending);
    return pending.length;
  }
  const push = (message: unknown) =>
    dispatch('push', {
      data: {
        json: () => (typeof message === 'string' ? (JSON.parse(message) as unknown) : message),
      },
    });
  return { self, shown, opened, caches, dispatch, push, globals, listeners };
}

function aMessage(fields: Partial<PushMessage> = {}): PushMessage {
  return {
    id: 'n-1',
    type: 'order.shipped',
    title: 'Your order shipped',
    body: 'Order 42 is on its way',
    url: '/orders/42',
    icon: '/icon.png',
    createdAt: '2025-01-01T00:00:00.000Z',
    payload: { orderId: 42 },
    ...fields,
  };
}

describe('herald-service-worker', () => {
  it('defines no globals and adds only push and notificationclick listeners', () => {
    const worker = aWorker();
    expect(Object.keys(worker.globals).sort()).toEqual(
      ['JSON', 'Object', 'Promise', 'Response', 'Set', 'URL', 'caches', 'self'].sort(),
    );
    expect([...worker.listeners.keys()]).toEqual(['push', 'notificationclick']);
  });

  it('shows a Herald message with its title, body, icon, the id as tag and the message as data', async () => {
    const worker = aWorker();
    const message = aMessage();

    await worker.push(message);

    expect(worker.shown).toEqual([
      {
        title: 'Your order shipped',
        options: { body: 'Order 42 is on its way', icon: '/icon.png', tag: 'n-1', data: message },
      },
    ]);
  });

  it('shows a message whose payload was omitted', async () => {
    const worker = aWorker();
    const message = aMessage({ body: null, url: null, icon: null, payloadOmitted: true });
    delete message.payload;
    await worker.push(message);
    expect(worker.shown).toEqual([
      { title: message.title, options: { body: undefined, icon: undefined, tag: 'n-1', data: message } },
    ]);
  });

  it('shows each id once: twice at the same moment, again later, and after the worker restarted', async () => {
    const caches = new FakeCaches();
    const worker = aWorker({ caches });

    await Promise.all([worker.push(aMessage()), worker.push(aMessage())]);
    await worker.push(aMessage());
    await worker.push(aMessage({ id: 'n-2' }));
    const restarted = aWorker({ caches });
    await restarted.push(aMessage());

    expect(worker.shown.map((shown) => shown.options.tag)).toEqual(['n-1', 'n-2']);
    expect(restarted.shown).toEqual([]);
  });

  it('keeps the newest 500 ids', async () => {
    const caches = new FakeCaches();
    const worker = aWorker({ caches });
    for (let n = 1; n <= 501; n++) await worker.push(aMessage({ id: `n-${n}` }));

    const kept = [...(caches.entries.get('herald-push-ids')?.keys() ?? [])];
    expect(kept).toHaveLength(500);
    expect(kept[0]).toBe(`${SCOPE}__herald/push-ids/n-2`);
    const restarted = aWorker({ caches });
    await restarted.push(aMessage({ id: 'n-1' }));
    expect(restarted.shown).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{ nope'],
    ['no title', { id: 'n-1', type: 't', createdAt: 'x' }],
    ['a number', 42],
    ['null', null],
  ])('leaves a push that is not Herald’s (%s) to other listeners', async (_case, message) => {
    const worker = aWorker();
    expect(await worker.push(message)).toBe(0);
    expect(worker.shown).toEqual([]);
  });

  it('ignores a push without data', async () => {
    const worker = aWorker();
    expect(await worker.dispatch('push', { data: null })).toBe(0);
  });

  describe('notificationclick', () => {
    const click = (worker: ReturnType<typeof aWorker>, data: unknown) => {
      const notification = { data, closed: false, close: () => void (notification.closed = true) };
      return { notification, done: worker.dispatch('notificationclick', { notification }) };
    };

    it('opens the url, resolved against the scope, and closes the notification', async () => {
      const worker = aWorker();
      const { notification, done } = click(worker, aMessage());
      await done;
      expect(worker.opened).toEqual(['https://app.example.com/orders/42']);
      expect(notification.closed).toBe(true);
    });

    it('focuses a window that already shows the url instead of opening one', async () => {
      const windows = [
        { url: 'https://app.example.com/other', focused: false },
        { url: 'https://app.example.com/orders/42', focused: false },
      ];
      const worker = aWorker({ windows });
      await click(worker, aMessage()).done;
      expect(windows.map((window) => window.focused)).toEqual([false, true]);
      expect(worker.opened).toEqual([]);
    });

    it('opens the scope when the message has no url', async () => {
      const worker = aWorker();
      await click(worker, aMessage({ url: null })).done;
      expect(worker.opened).toEqual([SCOPE]);
    });

    it('leaves a notification that is not Herald’s alone', async () => {
      const worker = aWorker();
      const { notification, done } = click(worker, { somethingElse: true });
      expect(await done).toBe(0);
      expect(notification.closed).toBe(false);
    });
  });
});
