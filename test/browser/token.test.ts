// The dashboard in front of a service with API_TOKEN set, in a real Chromium: it asks for the
// token before showing anything, keeps asking after a wrong one, shows the inbox after the right
// one (sent as a bearer header, never in a URL), keeps it for the tab only, and asks again when
// the API later refuses it (here: the service restarted with another token).

import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityFailures, DESKTOP, launchBrowser, openPage, type PageGlobals, type PageWatch } from '../helpers/browser.js';
import { byRole, clickNav, conversationItems, hasRole, waitForHeading, waitInPage } from './dashboard.js';
import { type Inbox, postMessage, SPEC_RECIPIENT, SPEC_SENDER, startInbox } from './support.js';

const TOKEN = 'browser-tests-read-token-1';
const ROTATED = 'browser-tests-read-token-2';

let inbox: Inbox;
let browser: Browser;
let page: Page;
let watch: PageWatch;
/** The Authorization header of every API request the page made. */
const authorizations: { url: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  [inbox, browser] = await Promise.all([startInbox({ API_TOKEN: TOKEN }), launchBrowser()]);
  await postMessage(inbox.baseUrl, {
    message_id: 'token-1',
    from: SPEC_SENDER,
    to: SPEC_RECIPIENT,
    ts: `${new Date().toISOString().slice(0, 19)}Z`,
    text: 'Only for those who hold the token',
  });
  ({ page, watch } = await openPage(browser, inbox.baseUrl, DESKTOP));
  page.on('request', (request: HTTPRequest) => {
    const path = new URL(request.url()).pathname;
    if (/^\/(conversations|messages|stats|dead-letters|events|feed)/.test(path)) {
      authorizations.push({ url: request.url(), authorization: request.headers().authorization });
    }
  });
});

afterAll(async () => {
  await browser?.close();
  await inbox?.close();
});

afterEach(() => {
  watch.expectClean();
});

/** Whether the token prompt is on screen: a form named "API token" with a password field of that name and a Continue button. */
async function promptShown(target: Page): Promise<boolean> {
  return target.evaluate(() => {
    const doc = (globalThis as unknown as PageGlobals).document;
    const form = doc.querySelector('form[aria-label="API token"]');
    return form !== null && form.querySelector('input[type="password"]') !== null;
  });
}

async function waitForPrompt(target: Page): Promise<void> {
  await waitInPage(target, 'the API token prompt', () => {
    const form = (globalThis as unknown as PageGlobals).document.querySelector('form[aria-label="API token"]');
    return form !== null && form.querySelector('input[type="password"]') !== null;
  });
}

async function enterToken(target: Page, token: string): Promise<void> {
  const field = await byRole(target, 'textbox', 'API token');
  await field.focus();
  await field.evaluate((el) => (el as unknown as { select(): void }).select());
  await target.keyboard.press('Backspace');
  await field.type(token);
  await (await byRole(target, 'button', 'Continue')).click();
}

const conversationShown = (target: Page) =>
  waitInPage(target, 'the conversation of the token message', () => {
    const list = (globalThis as unknown as PageGlobals).document.querySelector('ul[aria-label="Conversations"]');
    return list !== null && (list.textContent ?? '').includes('Only for those who hold the token');
  });

describe('with API_TOKEN set', () => {
  it('asks for the token first, keeps asking after a wrong one, and shows the inbox after the right one', async () => {
    watch.allow(/status of 401/, 'the API refuses requests without the token');
    await page.goto(`${inbox.baseUrl}/`, { waitUntil: 'load' });
    await waitForPrompt(page);
    expect(await hasRole(page, 'button', 'Continue')).toBe(true);
    expect(await accessibilityFailures(page, 'token prompt')).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.innerText)).not.toContain(
      'Only for those who hold the token',
    );

    await enterToken(page, 'not-the-token');
    // The API answers 401 again: the prompt is still (or again) there, and still no data.
    await waitInPage(page, 'the prompt after a wrong token', () => {
      const form = (globalThis as unknown as PageGlobals).document.querySelector('form[aria-label="API token"]');
      return form !== null;
    });
    await page.waitForNetworkIdle({ idleTime: 300, timeout: 10_000 }).catch(() => undefined);
    expect(await promptShown(page)).toBe(true);
    expect(await conversationItems(page)).toEqual([]);

    await enterToken(page, TOKEN);
    await waitForHeading(page, 'Conversations');
    await conversationShown(page);
    expect(await promptShown(page)).toBe(false);

    // Sent as a bearer header, never in a URL.
    const withToken = authorizations.filter((a) => a.authorization === `Bearer ${TOKEN}`);
    expect(withToken.length).toBeGreaterThan(0);
    expect(authorizations.filter((a) => a.url.includes(TOKEN))).toEqual([]);
  });

  it('keeps the token for the tab: a reload needs no prompt, a new tab asks again', async () => {
    await page.reload({ waitUntil: 'load' });
    await waitForHeading(page, 'Conversations');
    await conversationShown(page);
    expect(await promptShown(page)).toBe(false);

    const { page: other, watch: otherWatch } = await openPage(browser, inbox.baseUrl, DESKTOP);
    try {
      otherWatch.allow(/status of 401/, 'a new tab has no token yet');
      await other.goto(`${inbox.baseUrl}/`, { waitUntil: 'load' });
      await waitForPrompt(other);
      otherWatch.expectClean();
    } finally {
      await other.close();
    }
  });

  it('returns to the prompt when the API later refuses the token, and goes on with the new one', async () => {
    await waitForHeading(page, 'Conversations');
    watch.allow(/status of 401/, 'the service now wants the rotated token');
    watch.allow(
      /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to fetch/,
      'the server restarts on purpose',
    );
    await inbox.kill();
    await inbox.restart({ API_TOKEN: ROTATED });

    // The live stream reconnects, or the next view asks: either way a 401 brings the prompt back.
    await clickNav(page, 'Overview');
    await waitForPrompt(page);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.innerText)).not.toMatch(/Top senders/);

    await enterToken(page, ROTATED);
    await waitInPage(page, 'the overview with data', () => {
      const doc = (globalThis as unknown as PageGlobals).document;
      return doc.querySelector('form[aria-label="API token"]') === null && doc.querySelector('dl[aria-label="Totals"]') !== null;
    });
  });
});
