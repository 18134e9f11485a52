import type { Locator, Page } from 'playwright-core';
import { waitUntil } from '../../support/wait';

/** One notification as the feed shows it (from the item's data attributes and text). */
export interface FeedItem {
  id: string;
  channel: string;
  offset: number;
  epoch: string;
  type: string;
  payload: unknown;
}

export type PublishTarget = { user: string } | { topic: string } | { broadcast: true };

const WAIT_MS = 10_000;

/** The demo page, driven through its `data-testid`s as a person would: typing and clicking. */
export class DemoPage {
  constructor(readonly page: Page) {}

  private byTestId(id: string): Locator {
    return this.page.getByTestId(id);
  }

  /** Opens `/` (which redirects to `/demo`) and waits for the page's script to start. */
  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/`, { timeout: WAIT_MS });
    await this.byTestId('log-item').first().waitFor({ timeout: WAIT_MS });
  }

  async chooseTransport(transport: 'websocket' | 'sse'): Promise<void> {
    await this.byTestId('transport').selectOption(transport);
  }

  async endpoint(): Promise<string | null> {
    return this.byTestId('endpoint').textContent();
  }

  async connectAs(userId: string): Promise<void> {
    await this.byTestId('user-id').fill(userId);
    await this.byTestId('connect').click();
  }

  async state(): Promise<string | null> {
    return this.byTestId('state').getAttribute('data-state');
  }

  async waitForState(
    accept: (state: string | null) => boolean,
    what: string,
    timeoutMs = WAIT_MS,
  ): Promise<string | null> {
    return waitUntil(
      async () => {
        const state = await this.state();
        return accept(state) ? (state ?? 'null') : undefined;
      },
      timeoutMs,
      `the page's state to be ${what} (is ${await this.state()})`,
      50,
    );
  }

  /**
   * The feed, newest first, as the page shows it — read in one step in the page, so a notification
   * arriving meanwhile cannot shift the items under the reads.
   */
  async feed(): Promise<FeedItem[]> {
    // The page's DOM elements, typed as far as this reads them (the test project has no DOM lib).
    type ItemElement = {
      getAttribute(name: string): string | null;
      querySelector(selector: string): { textContent: string | null } | null;
    };
    const items = await this.byTestId('feed-item').evaluateAll((elements: ItemElement[]) =>
      elements.map((element) => ({
        id: element.getAttribute('data-id') ?? '',
        channel: element.getAttribute('data-channel') ?? '',
        offset: element.getAttribute('data-offset') ?? '',
        epoch: element.getAttribute('data-epoch') ?? '',
        type: element.getAttribute('data-type') ?? '',
        payload: element.querySelector('[data-testid="feed-payload"]')?.textContent ?? '',
      })),
    );
    return items.map((item) => ({
      ...item,
      offset: Number(item.offset),
      payload: JSON.parse(item.payload) as unknown,
    }));
  }

  /** Waits until the feed holds at least `count` notifications; returns them newest first. */
  async waitForFeed(count: number, timeoutMs = WAIT_MS): Promise<FeedItem[]> {
    return waitUntil(
      async () => {
        const shown = await this.byTestId('feed-item').count();
        return shown >= count ? this.feed() : undefined;
      },
      timeoutMs,
      `${count} notifications in the feed`,
      50,
    );
  }

  async feedCount(): Promise<number> {
    return Number(await this.byTestId('feed-count').textContent());
  }

  /** The channel list: name → offset shown (undefined while the subscribe is unanswered). */
  async channels(): Promise<Map<string, number | undefined>> {
    const rows = await this.byTestId('channel').all();
    const entries = await Promise.all(
      rows.map(async (row) => {
        const offset = await row.getAttribute('data-offset');
        return [
          (await row.getAttribute('data-channel')) ?? '',
          offset === null ? undefined : Number(offset),
        ] as const;
      }),
    );
    return new Map(entries);
  }

  async subscribe(topic: string): Promise<void> {
    await this.byTestId('topic-input').fill(topic);
    await this.byTestId('subscribe').click();
  }

  /** Fills the publish form and submits it; resolves with the result line it produced. */
  async publish(target: PublishTarget, type: string, payloadJson: string): Promise<string> {
    const kind = 'user' in target ? 'User' : 'topic' in target ? 'Topic' : 'Broadcast';
    await this.byTestId('publish-kind').getByText(kind, { exact: true }).click();
    if ('user' in target) await this.byTestId('publish-target').fill(target.user);
    if ('topic' in target) await this.byTestId('publish-target').fill(target.topic);
    await this.byTestId('publish-type').fill(type);
    await this.byTestId('publish-payload').fill(payloadJson);
    return this.submitPublish();
  }

  /** Clicks Publish and waits for the next result line (the page numbers them in `data-seq`). */
  async submitPublish(): Promise<string> {
    const result = this.byTestId('publish-result');
    const seq = Number((await result.getAttribute('data-seq')) ?? 0);
    await this.byTestId('publish-submit').click();
    await waitUntil(
      async () => Number((await result.getAttribute('data-seq')) ?? 0) > seq,
      WAIT_MS,
      'a publish result',
      50,
    );
    return (await result.textContent()) ?? '';
  }

  async publishResultKind(): Promise<'ok' | 'bad' | undefined> {
    const classes = (await this.byTestId('publish-result').getAttribute('class')) ?? '';
    return classes.includes('ok') ? 'ok' : classes.includes('bad') ? 'bad' : undefined;
  }

  /** The event log, newest first, as `kind: message`. */
  async log(): Promise<string[]> {
    const items = await this.byTestId('log-item').all();
    return Promise.all(
      items.map(
        async (item) =>
          `${await item.getAttribute('data-kind')}: ${await item.locator('.message').textContent()}`,
      ),
    );
  }
}
