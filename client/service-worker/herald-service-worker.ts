/**
 * Herald's service-worker helper: shows the Web Push messages Herald sends, once each, and opens their
 * `url` on a click. A classic script with no imports, built to `dist/herald-service-worker.js`: register
 * it as the site's service worker, or load it into an existing one with
 * `importScripts('/herald-service-worker.js')`; it only adds `push` and `notificationclick` listeners
 * and defines no globals.
 *
 * - `push`: a message that is Herald's (JSON with string `id`, `type`, `title` and `createdAt`) is shown
 *   with `showNotification(title, {body, icon, tag: id, data: <the message>})`, unless a message with the
 *   same `id` was shown before: Herald's pushes are at-least-once. Seen ids are kept in the Cache API
 *   (the newest SEEN_IDS_KEPT), so the check holds across the worker's restarts. Any other push is left
 *   to the site's own listeners.
 * - `notificationclick` on a Herald notification: closes it and focuses a window already showing its
 *   `url` (relative to the worker's scope; default the scope itself), or opens one.
 */
(() => {
  type PushMessage = import('../src/wire.js').PushMessage;

  const worker = self as unknown as ServiceWorkerGlobalScope;
  const SEEN_IDS_CACHE = 'herald-push-ids';
  const SEEN_IDS_KEPT = 500;
  /** Ids seen in this worker's life: two pushes of one id arriving together are told apart before any await. */
  const seenHere = new Set<string>();

  function isHeraldMessage(value: unknown): value is PushMessage {
    if (typeof value !== 'object' || value === null) return false;
    const fields = value as Record<string, unknown>;
    return ['id', 'type', 'title', 'createdAt'].every((name) => typeof fields[name] === 'string');
  }

  function parse(data: PushMessageData | null): PushMessage | undefined {
    try {
      const message: unknown = data?.json();
      return isHeraldMessage(message) ? message : undefined;
    } catch {
      return undefined; // not JSON: not Herald's
    }
  }

  /** The Cache API needs a URL per entry; this one is never fetched. */
  const seenIdKey = (id: string): string =>
    new URL(`__herald/push-ids/${encodeURIComponent(id)}`, worker.registration.scope).href;

  /** True the first time this id is seen; records it. */
  async function firstSighting(id: string): Promise<boolean> {
    if (seenHere.has(id)) return false;
    seenHere.add(id);
    if (seenHere.size > SEEN_IDS_KEPT) seenHere.delete(seenHere.values().next().value as string);
    let cache: Cache;
    try {
      cache = await caches.open(SEEN_IDS_CACHE);
    } catch {
      return true; // no Cache API here (e.g. a private window): this worker's memory is all there is
    }
    const key = seenIdKey(id);
    if (await cache.match(key)) return false;
    await cache.put(key, new Response(null, { status: 204 }));
    const keys = await cache.keys(); // oldest first
    await Promise.all(keys.slice(0, -SEEN_IDS_KEPT).map((request) => cache.delete(request)));
    return true;
  }

  async function show(message: PushMessage): Promise<void> {
    if (!(await firstSighting(message.id))) return;
    await worker.registration.showNotification(message.title, {
      body: message.body ?? undefined,
      icon: message.icon ?? undefined,
      tag: message.id,
      data: message,
    });
  }

  async function openOrFocus(url: string): Promise<void> {
    const windows = await worker.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((client) => client.url === url);
    if (open) await open.focus();
    else await worker.clients.openWindow(url);
  }

  worker.addEventListener('push', (event) => {
    const message = parse(event.data);
    if (message) event.waitUntil(show(message));
  });

  worker.addEventListener('notificationclick', (event) => {
    const message: unknown = event.notification.data;
    if (!isHeraldMessage(message)) return;
    event.notification.close();
    event.waitUntil(openOrFocus(new URL(message.url ?? '', worker.registration.scope).href));
  });
})();
