import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's `chromium` package; `.ci/run` installs it. Never a Playwright-downloaded browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Screenshots land here (gitignored); CI keeps the directory as an artifact. */
export const ARTIFACTS_DIR = join(__dirname, '..', '..', '..', 'test-artifacts');

export const hasChromium = (): boolean => existsSync(CHROMIUM_PATH);

/** Headless, offline-friendly: no sandbox (CI runs as root), no GPU, none of Chrome's own network traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** What went wrong inside the page: uncaught exceptions, and console errors (a refused socket logs one). */
export interface PageProblems {
  uncaught: string[];
  consoleErrors: string[];
}

export function watchPage(page: Page): PageProblems {
  const problems: PageProblems = { uncaught: [], consoleErrors: [] };
  page.on('pageerror', (error) => problems.uncaught.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.consoleErrors.push(message.text());
  });
  return problems;
}

/** Saves a full-page PNG under test-artifacts/ and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, name);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', timeout: 10_000 });
  return path;
}
