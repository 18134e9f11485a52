import webpush from 'web-push';
import type { TestApp } from './app';
import { post, PublishResponse } from './client';
import type { FakeSubscription } from './fake-push-service';
import { getJson, httpRequest } from './http';
import { waitUntil } from './wait';

/** A VAPID identity as `npx web-push generate-vapid-keys` makes one, as Herald's variables. */
export function aVapidEnv(): { VAPID_PUBLIC_KEY: string; VAPID_PRIVATE_KEY: string; VAPID_SUBJECT: string } {
  const keys = webpush.generateVAPIDKeys();
  return {
    VAPID_PUBLIC_KEY: keys.publicKey,
    VAPID_PRIVATE_KEY: keys.privateKey,
    VAPID_SUBJECT: 'mailto:ops@herald.test',
  };
}

/** Web Push on, loopback endpoints allowed (the fake push service), a fast poll. */
export const pushEnv = (vapid: ReturnType<typeof aVapidEnv>, pollMs = 20): Record<string, string> => ({
  ...vapid,
  PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true',
  PUSH_POLL_INTERVAL_MS: String(pollMs),
});

/** `POST /v1/push/subscriptions` with a client token, as the browser SDK does. */
export const registerSubscription = (
  app: Pick<TestApp, 'url'>,
  token: string,
  subscription: Pick<FakeSubscription, 'endpoint' | 'keys'> | Record<string, unknown>,
): Promise<PublishResponse> =>
  post(
    app,
    '/v1/push/subscriptions',
    'id' in subscription ? { endpoint: subscription.endpoint, keys: subscription.keys } : subscription,
    { apiKey: null, headers: { authorization: `Bearer ${token}` } },
  );

/** `POST /v1/acks` with a client token. */
export const postAck = (app: Pick<TestApp, 'url'>, token: string, body: unknown): Promise<PublishResponse> =>
  post(app, '/v1/acks', body, { apiKey: null, headers: { authorization: `Bearer ${token}` } });

export async function deleteSubscription(
  app: Pick<TestApp, 'url'>,
  token: string,
  id: string,
): Promise<number> {
  const response = await httpRequest('DELETE', `${app.url}/v1/push/subscriptions/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.status;
}

export interface UserStatus {
  userId: string;
  state: string;
  deliveredAt?: string;
  pushedAt?: string;
}

/** `GET /v1/notifications/<id>/status` with the test API key. */
export async function deliveryStatus(
  app: Pick<TestApp, 'url'>,
  id: string,
  apiKey = 'test-api-key-secret',
): Promise<{ status: number; body: { id?: string; users?: UserStatus[]; message?: string } }> {
  return getJson(`${app.url}/v1/notifications/${encodeURIComponent(id)}/status`, {
    authorization: `Bearer ${apiKey}`,
  });
}

/** Waits until the notification's record for `userId` is in `state`. */
export function waitForState(
  app: Pick<TestApp, 'url'>,
  id: string,
  userId: string,
  state: string,
  timeoutMs = 10_000,
): Promise<UserStatus> {
  let seen = 'not asked yet';
  return waitUntil(
    async () => {
      const { status, body } = await deliveryStatus(app, id);
      const found = body.users?.find((user) => user.userId === userId);
      seen = found ? found.state : `absent (${status} ${JSON.stringify(body)})`;
      return found?.state === state ? found : undefined;
    },
    timeoutMs,
    `${userId}'s record of ${id} to be ${state}`,
    20,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${seen}`);
  });
}
