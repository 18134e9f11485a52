/**
 * Herald demo page. The SDK is the client's ES module build, served by this server at
 * /demo/herald-client.js, and its service-worker helper at /demo/herald-service-worker.js (registered
 * for Web Push). Tokens come from GET /demo/token and publishes go through POST /demo/publish: both
 * exist only in development. In the browser console, `herald` is the current client.
 */
import { HeraldClient } from '/demo/herald-client.js';

const FEED_LIMIT = 200;
const LOG_LIMIT = 200;
const TOPIC_NAME = /^[A-Za-z0-9._:-]{1,200}$/;
const DEFAULT_PAYLOAD = '{ "text": "Hello from Herald" }';
/** Quicker than the SDK's default (cap 30 s): someone is watching this page. */
const RECONNECT_BACKOFF = { baseMs: 250, capMs: 4000 };
/** Scope `/demo/`: it controls no page here, which Web Push does not need. */
const SERVICE_WORKER_URL = '/demo/herald-service-worker.js';

const byTestId = (id) => {
  const element = document.querySelector(`[data-testid="${id}"]`);
  if (!element) throw new Error(`demo page: no element with data-testid="${id}"`);
  return element;
};

const ui = {
  state: byTestId('state'),
  connectForm: byTestId('connect-form'),
  userId: byTestId('user-id'),
  transport: byTestId('transport'),
  connect: byTestId('connect'),
  disconnect: byTestId('disconnect'),
  connectionId: byTestId('connection-id'),
  endpoint: byTestId('endpoint'),
  channels: byTestId('channel-list'),
  subscribeForm: byTestId('subscribe-form'),
  topic: byTestId('topic-input'),
  subscribe: byTestId('subscribe'),
  publishForm: byTestId('publish-form'),
  targetLabel: byTestId('publish-target-label'),
  target: byTestId('publish-target'),
  type: byTestId('publish-type'),
  payload: byTestId('publish-payload'),
  publish: byTestId('publish-submit'),
  result: byTestId('publish-result'),
  publishPush: byTestId('publish-push'),
  publishPushTitle: byTestId('publish-push-title'),
  pushStatus: byTestId('push-status'),
  pushRegister: byTestId('push-register'),
  pushUnregister: byTestId('push-unregister'),
  feed: byTestId('feed'),
  feedCount: byTestId('feed-count'),
  feedClear: byTestId('feed-clear'),
  log: byTestId('log'),
};

const wsUrl = new URL('/v1/ws', location.href);
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
/** By transport (the select's values): the endpoint the SDK is given. */
const endpoints = { websocket: wsUrl, sse: new URL('/v1/sse', location.href) };
const selectedEndpoint = () => endpoints[ui.transport.value];

/** The current SDK instance; events of a replaced one are ignored. */
let client;
let clientUserId;
let received = 0;

// ---------- small DOM helpers: text only, never HTML (payloads are the publishers') ----------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, String(value));
  }
  element.append(...children.filter((child) => child !== undefined && child !== false));
  return element;
}

const pad = (value, length = 2) => String(value).padStart(length, '0');
const clock = (date) =>
  `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
const channelKind = (channel) =>
  channel === 'broadcast' ? 'broadcast' : channel.startsWith('topic:') ? 'topic' : 'user';

function log(kind, message) {
  ui.log.prepend(
    h(
      'li',
      { 'data-testid': 'log-item', 'data-kind': kind },
      h('time', {}, clock(new Date())),
      h('span', { class: 'kind' }, kind),
      h('span', { class: 'message' }, message),
    ),
  );
  while (ui.log.children.length > LOG_LIMIT) ui.log.lastElementChild.remove();
}

function setState(state) {
  ui.state.dataset.state = state;
  ui.state.textContent = state;
  const live = client !== undefined && state !== 'closed';
  ui.disconnect.disabled = !live;
  ui.subscribe.disabled = !live;
  if (!live) ui.connectionId.textContent = '—';
  updatePushButtons();
}

// ---------- dev-only server routes ----------

async function requestJson(path, init) {
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
  return body;
}

const fetchToken = async (userId) =>
  (await requestJson(`/demo/token?user=${encodeURIComponent(userId)}`)).token;

// ---------- connection ----------

function closeClient() {
  const previous = client;
  if (!previous) return;
  previous.close(); // emits `disconnected` (closed) while still current, so it is logged
  client = undefined;
  globalThis.herald = undefined;
}

async function connectAs(userId) {
  closeClient();
  setState('connecting');
  let token;
  try {
    // Fetched before the client exists, so a refused user id is reported once instead of retried.
    token = await fetchToken(userId);
  } catch (error) {
    setState('idle');
    log('error', `no token for "${userId}": ${error.message}`);
    return;
  }
  const sdk = new HeraldClient({
    url: selectedEndpoint().href,
    transport: ui.transport.value,
    token,
    getToken: () => fetchToken(userId),
    reconnectBackoff: RECONNECT_BACKOFF,
  });
  client = sdk;
  clientUserId = userId;
  globalThis.herald = sdk;
  const current =
    (listener) =>
    (...args) => {
      if (client === sdk) listener(...args);
    };

  sdk.on(
    'connecting',
    current(({ attempt }) => {
      setState('connecting');
      log('state', attempt === 1 ? 'connecting' : `connecting (attempt ${attempt})`);
    }),
  );
  sdk.on(
    'recovering',
    current(({ channels }) => {
      setState('recovering');
      log('state', `recovering ${channels.join(', ')}`);
    }),
  );
  sdk.on(
    'connected',
    current(({ connectionId, userId: connectedAs }) => {
      setState('connected');
      ui.connectionId.textContent = connectionId;
      ui.connectionId.title = connectionId;
      log('connected', `as ${connectedAs} · connection ${connectionId}`);
      renderChannels();
    }),
  );
  sdk.on(
    'disconnected',
    current(({ code, reason, willReconnect }) => {
      setState(willReconnect ? 'disconnected' : 'closed');
      const why = `code ${code}${reason ? ` (${reason})` : ''}`;
      log('disconnected', willReconnect ? `${why}; reconnecting` : `${why}; closed for good`);
      renderChannels();
    }),
  );
  sdk.on(
    'notification',
    current((notification) => {
      addToFeed(notification);
      renderChannels();
    }),
  );
  sdk.on(
    'unrecovered',
    current(({ channel }) =>
      log('unrecovered', `${channel}: history was lost; reload state from your backend`),
    ),
  );
  sdk.on(
    'error',
    current(({ code, message, channel }) => {
      log('error', `${code}${channel ? ` on ${channel}` : ''}: ${message}`);
      renderChannels();
    }),
  );

  if (selectedKind() === 'user' && [autoTarget, ''].includes(ui.target.value)) setTarget(userId);
  if (ui.pushStatus.dataset.state === 'registered') {
    showPushStatus('ready', `This browser has a push subscription: register to link it to ${userId}.`);
  }
  renderChannels();
}

ui.connectForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const userId = ui.userId.value.trim();
  if (userId === '') {
    log('error', 'enter a user id to connect as');
    ui.userId.focus();
    return;
  }
  void connectAs(userId);
});

ui.disconnect.addEventListener('click', () => {
  closeClient();
  renderChannels();
});

// ---------- channels and topics ----------

let renderedChannels = '';

/** The SDK has no event for a `subscribed` answer: this also runs on a timer to show new positions. */
function renderChannels() {
  const channels = client ? [`user:${clientUserId}`, 'broadcast', ...client.topics.sort()] : ['placeholder'];
  const positions = client ? client.positions : {};
  const signature = JSON.stringify(channels.map((channel) => [channel, positions[channel]]));
  if (signature === renderedChannels) return;
  renderedChannels = signature;
  if (!client) {
    ui.channels.replaceChildren(
      h(
        'li',
        { class: 'placeholder' },
        'Connect to join ',
        h('code', {}, 'user:<id>'),
        ' and ',
        h('code', {}, 'broadcast'),
        '.',
      ),
    );
    return;
  }
  ui.channels.replaceChildren(
    ...channels.map((channel) => {
      const position = positions[channel];
      const kind = channelKind(channel);
      return h(
        'li',
        { 'data-testid': 'channel', 'data-channel': channel, 'data-offset': position?.offset },
        h('span', { class: `chip ${kind}`, title: channel }, channel),
        h(
          'span',
          { class: 'position', title: position ? `epoch ${position.epoch}` : undefined },
          ...(position ? [h('b', {}, `#${position.offset}`), ` @ ${position.epoch}`] : ['joining…']),
        ),
        kind === 'topic' &&
          h(
            'button',
            {
              type: 'button',
              class: 'icon-button',
              title: `Unsubscribe from ${channel}`,
              'aria-label': `Unsubscribe from ${channel}`,
              'data-testid': 'unsubscribe',
              onclick: () => {
                client?.unsubscribe(channel);
                log('info', `unsubscribed from ${channel}`);
                renderChannels();
              },
            },
            '×',
          ),
      );
    }),
  );
}

setInterval(renderChannels, 400);

ui.subscribeForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!client) return;
  const name = ui.topic.value.trim().replace(/^topic:/, '');
  if (!TOPIC_NAME.test(name)) {
    log('error', 'a topic name is 1-200 characters of A-Z a-z 0-9 . _ : -');
    ui.topic.focus();
    return;
  }
  const channel = `topic:${name}`;
  if (client.topics.includes(channel)) {
    log('info', `already subscribed to ${channel}`);
  } else {
    client.subscribe(channel);
    log('info', `subscribing to ${channel}`);
  }
  ui.topic.value = '';
  if (selectedKind() === 'topic' && [autoTarget, ''].includes(ui.target.value)) setTarget(name);
  renderChannels();
});

// ---------- feed ----------

function addToFeed(notification) {
  received++;
  const { id, channel, offset, epoch, type, payload, createdAt } = notification;
  const item = h(
    'li',
    {
      class: 'note arrived',
      'data-testid': 'feed-item',
      'data-id': id,
      'data-channel': channel,
      'data-offset': offset,
      'data-epoch': epoch,
      'data-type': type,
    },
    h(
      'div',
      { class: 'note-head' },
      h(
        'span',
        { class: `chip ${channelKind(channel)}`, title: channel, 'data-testid': 'feed-channel' },
        channel,
      ),
      h(
        'span',
        { class: 'offset', title: 'offset in the channel', 'data-testid': 'feed-offset' },
        `#${offset}`,
      ),
      h('span', { class: 'type', 'data-testid': 'feed-type' }, type),
      h(
        'time',
        { datetime: createdAt, title: `published ${createdAt}`, 'data-testid': 'feed-time' },
        clock(new Date(createdAt)),
      ),
    ),
    h('pre', { class: 'payload', 'data-testid': 'feed-payload' }, JSON.stringify(payload, null, 2)),
    h(
      'div',
      { class: 'note-foot' },
      h('span', {}, 'epoch ', h('code', { 'data-testid': 'feed-epoch' }, epoch)),
      h('span', {}, 'id ', h('code', {}, id)),
    ),
  );
  item.addEventListener('animationend', () => item.classList.remove('arrived'), { once: true });
  ui.feed.prepend(item);
  while (ui.feed.children.length > FEED_LIMIT) ui.feed.lastElementChild.remove();
  updateFeedCount();
}

function updateFeedCount() {
  ui.feedCount.textContent = String(received);
  ui.feed.closest('.card').classList.toggle('has-items', ui.feed.children.length > 0);
}

ui.feedClear.addEventListener('click', () => {
  ui.feed.replaceChildren();
  received = 0;
  updateFeedCount();
});

// ---------- publish ----------

const TARGETS = {
  user: { label: 'User id', placeholder: 'alice' },
  topic: { label: 'Topic', placeholder: 'orders.42' },
  broadcast: { label: 'Everyone connected', placeholder: 'every connection receives it' },
};

const selectedKind = () => new FormData(ui.publishForm).get('kind') ?? 'user';

/** The target the page filled in itself; it follows the connected user until someone edits it. */
let autoTarget = '';

function setTarget(value) {
  ui.target.value = value;
  autoTarget = value;
}

function showTarget() {
  const kind = selectedKind();
  const { label, placeholder } = TARGETS[kind];
  ui.targetLabel.textContent = label;
  ui.target.placeholder = placeholder;
  ui.target.disabled = kind === 'broadcast';
  if (kind === 'broadcast') setTarget('');
  else if (kind === 'user') setTarget(clientUserId ?? ui.userId.value.trim());
  else setTarget(client?.topics[0]?.slice('topic:'.length) ?? '');
}

for (const radio of ui.publishForm.querySelectorAll('input[name="kind"]')) {
  radio.addEventListener('change', showTarget);
}

let results = 0;

function showResult(kind, message) {
  ui.result.className = `result ${kind}`;
  ui.result.textContent = message;
  ui.result.dataset.seq = String(++results);
}

ui.publishForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const kind = selectedKind();
  const target = ui.target.value.trim();
  let payload;
  try {
    payload = JSON.parse(ui.payload.value);
  } catch (error) {
    showResult('bad', `The payload is not JSON: ${error.message}`);
    ui.payload.focus();
    return;
  }
  const body = { type: ui.type.value.trim(), payload };
  if (kind === 'user') body.users = [target];
  else if (kind === 'topic') body.topics = [target.replace(/^topic:/, '')];
  else body.broadcast = true;
  if (ui.publishPush.checked) {
    const text = JSON.stringify(payload);
    body.push = {
      title: ui.publishPushTitle.value.trim(),
      body: text.length > 200 ? `${text.slice(0, 199)}…` : text,
      url: '/demo',
    };
  }

  ui.publish.disabled = true;
  try {
    const result = await requestJson('/demo/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const where = result.deliveries.map((delivery) => `${delivery.channel} #${delivery.offset}`).join(', ');
    ui.result.dataset.id = result.id;
    showResult('ok', `Accepted → ${where}`);
  } catch (error) {
    showResult('bad', error.message);
  } finally {
    ui.publish.disabled = false;
  }
});

// ---------- Web Push ----------

const pushSupported = 'serviceWorker' in navigator && 'PushManager' in window;
let pushBusy = false;

function showPushStatus(state, message) {
  ui.pushStatus.dataset.state = state;
  ui.pushStatus.className = `result ${state === 'registered' ? 'ok' : state === 'error' ? 'bad' : ''}`;
  ui.pushStatus.textContent = message;
  updatePushButtons();
}

function updatePushButtons() {
  const usable = pushSupported && client !== undefined && !pushBusy;
  ui.pushRegister.disabled = !usable;
  ui.pushUnregister.disabled = !usable || ui.pushStatus.dataset.state !== 'registered';
}

/**
 * Whether this browser can, and already has a subscription. Asks the server nothing: whether it has Web
 * Push on is learnt at the first registration (the SDK fetches the VAPID key; 404 means off).
 */
async function describePush() {
  if (!pushSupported)
    return showPushStatus('unsupported', 'This browser has no service workers or PushManager.');
  const registration = await navigator.serviceWorker.getRegistration('/demo/');
  const subscription = await registration?.pushManager.getSubscription();
  showPushStatus(
    'ready',
    subscription
      ? 'This browser has a push subscription: connect and register to link it to a user.'
      : 'Connect, then register this browser.',
  );
}

async function pushAction(label, action) {
  pushBusy = true;
  showPushStatus('working', `${label}…`);
  try {
    const registration = await navigator.serviceWorker.register(SERVICE_WORKER_URL);
    await action(registration);
  } catch (error) {
    if (error.code === 'push_disabled') {
      showPushStatus('off', 'Web Push is off on this server: set the three VAPID_* variables.');
    } else showPushStatus('error', `${label} failed: ${error.code ?? error.name}: ${error.message}`);
    log('error', `web push: ${error.message}`);
  } finally {
    pushBusy = false;
    updatePushButtons();
  }
}

ui.pushRegister.addEventListener('click', () =>
  pushAction('Registering', async (registration) => {
    const { id } = await client.subscribePush({ serviceWorker: registration });
    ui.pushStatus.dataset.subscriptionId = id;
    showPushStatus('registered', `Registered for ${clientUserId} · subscription ${id}`);
    log('info', `web push: this browser is registered for ${clientUserId} (${id})`);
  }),
);

ui.pushUnregister.addEventListener('click', () =>
  pushAction('Unregistering', async (registration) => {
    const id = ui.pushStatus.dataset.subscriptionId;
    await client.unsubscribePush({ serviceWorker: registration, id });
    delete ui.pushStatus.dataset.subscriptionId;
    showPushStatus('ready', 'Unregistered: this browser gets no pushes.');
    log('info', 'web push: this browser is unregistered');
  }),
);

ui.publishPush.addEventListener('change', () => {
  ui.publishPushTitle.disabled = !ui.publishPush.checked;
});

// ---------- transport ----------

function showEndpoint() {
  ui.endpoint.textContent = selectedEndpoint().pathname;
  ui.endpoint.title = selectedEndpoint().href;
}
ui.transport.addEventListener('change', showEndpoint);

// ---------- start ----------

showEndpoint();
void describePush();
ui.payload.value = DEFAULT_PAYLOAD;
setState('idle');
log('info', 'ready: pick a user id and connect');
const userFromUrl = new URLSearchParams(location.search).get('user');
if (userFromUrl) {
  ui.userId.value = userFromUrl;
  void connectAs(userFromUrl);
}
showTarget();
