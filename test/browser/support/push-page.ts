import type { Browser, Page } from 'puppeteer-core';
import { waitUntil } from '../../support/wait';

/** The SDK's service-worker helper as the demo serves it; its scope is `/demo/`. */
export const SERVICE_WORKER_URL = '/demo/herald-service-worker.js';
const SCOPE = '/demo/';
const WAIT_MS = 15_000;

/** A notification the service worker showed, as `registration.getNotifications()` reads it. */
export interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  data: unknown;
}

/** `PushSubscription.toJSON()`. */
export interface SubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/**
 * The browser APIs the in-page functions below use, typed as far as they use them (the test project
 * has no DOM lib). The functions run in the page: they may use nothing from this module at run time.
 */
interface PageGlobals {
  navigator: {
    serviceWorker: {
      register(url: string): Promise<PageRegistration>;
      getRegistration(scope: string): Promise<PageRegistration | undefined>;
    };
  };
  document: { querySelector(selector: string): { dataset: Record<string, string | undefined> } | null };
}
interface PageWorker {
  state: string;
  addEventListener(type: 'statechange', listener: () => void): void;
}
interface PageRegistration {
  installing: PageWorker | null;
  waiting: PageWorker | null;
  active: PageWorker | null;
  pushManager: {
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: string }): Promise<{
      toJSON(): unknown;
    }>;
    getSubscription(): Promise<{ endpoint: string; unsubscribe(): Promise<boolean> } | null>;
  };
  getNotifications(): Promise<{ title: string; body: string; tag: string; data: unknown; close(): void }[]>;
}

/**
 * A tab on a Herald origin in Firefox, for what the Web Push tests do in it: register the SDK's service
 * worker, subscribe, read and close the notifications the worker showed. Each call opens nothing that
 * outlives it but the tab itself (`close()`).
 */
export class PushPage {
  private constructor(readonly page: Page) {}

  static async open(browser: Browser, url: string): Promise<PushPage> {
    const page = await browser.newPage();
    await page.goto(url, { timeout: WAIT_MS });
    return new PushPage(page);
  }

  /** Registers the service-worker helper and waits until it is active. */
  async registerServiceWorker(): Promise<void> {
    await this.page.evaluate(async (url: string) => {
      const { navigator } = globalThis as unknown as PageGlobals;
      const registration = await navigator.serviceWorker.register(url);
      const worker = registration.installing ?? registration.waiting;
      if (registration.active || !worker) return;
      await new Promise<void>((resolve, reject) => {
        worker.addEventListener('statechange', () => {
          if (worker.state === 'activated') resolve();
          if (worker.state === 'redundant') reject(new Error('the service worker did not install'));
        });
      });
    }, SERVICE_WORKER_URL);
  }

  /** `pushManager.subscribe` straight from the page, with `applicationServerKey`. */
  async subscribe(applicationServerKey: string): Promise<SubscriptionJson> {
    return this.page.evaluate(
      async (scope: string, key: string) => {
        const { navigator } = globalThis as unknown as PageGlobals;
        const registration = await navigator.serviceWorker.getRegistration(scope);
        if (!registration) throw new Error(`no service worker for ${scope}`);
        const subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: key,
        });
        return subscription.toJSON() as SubscriptionJson;
      },
      SCOPE,
      applicationServerKey,
    );
  }

  /** The endpoint of the browser's push subscription for the scope, or null. */
  async subscriptionEndpoint(): Promise<string | null> {
    return this.page.evaluate(async (scope: string) => {
      const { navigator } = globalThis as unknown as PageGlobals;
      const registration = await navigator.serviceWorker.getRegistration(scope);
      return (await registration?.pushManager.getSubscription())?.endpoint ?? null;
    }, SCOPE);
  }

  /** Drops the browser's push subscription and every notification shown, so the next test starts clean. */
  async reset(): Promise<void> {
    await this.page.evaluate(async (scope: string) => {
      const { navigator } = globalThis as unknown as PageGlobals;
      const registration = await navigator.serviceWorker.getRegistration(scope);
      for (const notification of (await registration?.getNotifications()) ?? []) notification.close();
      await (await registration?.pushManager.getSubscription())?.unsubscribe();
    }, SCOPE);
  }

  async notifications(): Promise<ShownNotification[]> {
    return this.page.evaluate(async (scope: string) => {
      const { navigator } = globalThis as unknown as PageGlobals;
      const registration = await navigator.serviceWorker.getRegistration(scope);
      const shown = (await registration?.getNotifications()) ?? [];
      return shown.map(({ title, body, tag, data }) => ({ title, body, tag, data }));
    }, SCOPE);
  }

  /** Waits until a notification with this tag (the Herald notification id) is shown; returns them all. */
  async waitForNotification(tag: string, timeoutMs = WAIT_MS): Promise<ShownNotification[]> {
    return waitUntil(
      async () => {
        const shown = await this.notifications();
        return shown.some((notification) => notification.tag === tag) && shown;
      },
      timeoutMs,
      `a notification tagged ${tag}`,
      100,
    );
  }

  /** Closes the notification with this tag, as a user dismissing it would. */
  async closeNotification(tag: string): Promise<void> {
    await this.page.evaluate(
      async (scope: string, closing: string) => {
        const { navigator } = globalThis as unknown as PageGlobals;
        const registration = await navigator.serviceWorker.getRegistration(scope);
        for (const notification of (await registration?.getNotifications()) ?? []) {
          if (notification.tag === closing) notification.close();
        }
      },
      SCOPE,
      tag,
    );
  }

  /** A `data-testid` element's `data-state` (the demo page's connection badge and push status). */
  async stateOf(testId: string): Promise<string | undefined> {
    return this.page.evaluate((id: string) => {
      const { document } = globalThis as unknown as PageGlobals;
      return document.querySelector(`[data-testid="${id}"]`)?.dataset.state;
    }, testId);
  }

  async waitForState(testId: string, state: string, timeoutMs = WAIT_MS): Promise<void> {
    await waitUntil(
      async () => (await this.stateOf(testId)) === state,
      timeoutMs,
      `${testId} to be ${state}`,
      50,
    );
  }

  /**
   * Publishes to `user` from the demo page's form with "Web Push" ticked; resolves with the accepted
   * notification's id once the page shows the answer.
   */
  async publishWithPush(user: string, type: string, payloadJson: string, pushTitle: string): Promise<string> {
    const before = (await this.publishResult()).seq;
    await this.page.locator('[data-testid="publish-target"]').fill(user);
    await this.page.locator('[data-testid="publish-type"]').fill(type);
    await this.page.locator('[data-testid="publish-payload"]').fill(payloadJson);
    await this.page.locator('[data-testid="publish-push"]').click();
    await this.page.locator('[data-testid="publish-push-title"]').fill(pushTitle);
    await this.page.locator('[data-testid="publish-submit"]').click();
    const result = await waitUntil(
      async () => {
        const now = await this.publishResult();
        return now.seq > before && now;
      },
      WAIT_MS,
      'the publish result',
      50,
    );
    if (!result.text.startsWith('Accepted') || result.id === undefined) {
      throw new Error(`the demo publish was refused: ${result.text}`);
    }
    return result.id;
  }

  /** The publish form's result line: its number (`data-seq`), the accepted id and the text. */
  private publishResult(): Promise<{ seq: number; id?: string; text: string }> {
    return this.page.$eval('[data-testid="publish-result"]', (element) => {
      const { dataset, textContent } = element as unknown as {
        dataset: { seq?: string; id?: string };
        textContent: string;
      };
      return { seq: Number(dataset.seq ?? 0), id: dataset.id, text: textContent };
    });
  }

  async close(): Promise<void> {
    await this.page.close();
  }
}
