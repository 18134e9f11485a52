import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * Debian's `firefox-esr` package; `.ci/run` installs it. Never a downloaded browser. Firefox, not
 * Chromium, runs the Web Push tests: Chromium subscribes through Google's push service, which cannot be
 * replaced offline, while Firefox's push service is a pref away (a fake autopush on loopback).
 */
export const FIREFOX_PATH = '/usr/bin/firefox-esr';

export const hasFirefox = (): boolean => existsSync(FIREFOX_PATH);

/**
 * Prefs that point Firefox's Web Push at a fake autopush (`ws://`, allowed only with
 * `allowInsecureServerURL`), grant notifications without a prompt, allow service workers on plain
 * http, and show notifications in Firefox's own alerts (no desktop notification daemon in CI).
 */
export const firefoxPushPrefs = (pushServerUrl: string): Record<string, unknown> => ({
  'dom.push.serverURL': pushServerUrl,
  'dom.push.testing.allowInsecureServerURL': true,
  'dom.push.connection.enabled': true,
  'dom.push.enabled': true,
  'dom.push.testing.ignorePermission': true,
  'dom.serviceWorkers.enabled': true,
  'dom.serviceWorkers.testing.enabled': true,
  'permissions.default.desktop-notification': 1,
  'alerts.useSystemBackend': false,
});

/** Headless Firefox over WebDriver BiDi, with the prefs given on top of puppeteer's own. */
export function launchFirefox(prefs: Record<string, unknown>): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    timeout: 30_000,
    extraPrefsFirefox: prefs,
  });
}
