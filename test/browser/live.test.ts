// Live updates in a real Chromium: with a thread open, a message posted to the real service
// appears in it without a reload, and its delivery statuses follow; search finds it at once; and
// when the service is killed and started again on the same port and file, the connection state
// says so and recovers by itself, and new messages arrive again.

import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchBrowser, openPage, type PageGlobals, type PageWatch } from '../helpers/browser.js';
import {
  clickButton,
  clickNav,
  fillField,
  openView,
  threadMessages,
  waitForHeading,
  waitForLiveState,
  waitInPage,
} from './dashboard.js';
import {
  ASHA,
  BUSINESS,
  type Inbox,
  phone,
  postWhatsApp,
  startInbox,
  unixSeconds,
  whatsappMessage,
  whatsappStatuses,
} from './support.js';

let inbox: Inbox;
let browser: Browser;
let page: Page;
let watch: PageWatch;

const threadHash = `#/c/${encodeURIComponent(phone(ASHA))}/${encodeURIComponent(BUSINESS)}`;

async function postText(id: string, body: string, at = new Date()): Promise<void> {
  await postWhatsApp(inbox.baseUrl, whatsappMessage(ASHA, { id, timestamp: unixSeconds(at), type: 'text', text: { body } }));
}

/** Waits until the open thread shows the message `id` with `text`. */
async function waitForMessage(id: string, text: string): Promise<void> {
  await waitInPage(
    page,
    `message ${id} in the thread`,
    (wanted: string, body: string) => {
      const article = (globalThis as unknown as PageGlobals).document.querySelector(
        `ol[aria-label="Messages"] article[data-message-id="${wanted}"]`,
      );
      return article !== null && (article.textContent ?? '').includes(body);
    },
    id,
    text,
  );
}

/** Marks the document, so that a test can tell later that the page was not reloaded. */
async function markDocument(): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as PageGlobals).__notReloaded = true;
  });
}

async function stillSameDocument(): Promise<boolean> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).__notReloaded === true);
}

beforeAll(async () => {
  [inbox, browser] = await Promise.all([startInbox(), launchBrowser()]);
  const hourAgo = new Date(Date.now() - 3600_000);
  await postText('wamid.live-000', 'Hello, is anyone there?', hourAgo);
  ({ page, watch } = await openPage(browser, inbox.baseUrl, DESKTOP));
});

afterAll(async () => {
  await browser?.close();
  await inbox?.close();
});

afterEach(() => {
  watch.expectClean();
});

describe('live updates', () => {
  it('a message posted while its thread is open appears in it, then its delivery statuses', async () => {
    await openView(page, inbox.baseUrl, threadHash, ASHA.name);
    await waitForMessage('wamid.live-000', 'Hello, is anyone there?');
    await waitForLiveState(page, ['Live']);
    await markDocument();

    await postText('wamid.live-001', 'Zephyr blue, size M, please');
    await waitForMessage('wamid.live-001', 'Zephyr blue, size M, please');
    const shown = await threadMessages(page);
    expect(shown.map((m) => m.id)).toEqual(['wamid.live-000', 'wamid.live-001']);
    expect(shown[1]?.statuses).toEqual([]);

    await postWhatsApp(inbox.baseUrl, whatsappStatuses('wamid.live-001', ASHA, [['delivered', new Date()]]));
    await waitInPage(
      page,
      'the delivered tick',
      () =>
        (globalThis as unknown as PageGlobals).document.querySelector(
          'article[data-message-id="wamid.live-001"] [aria-label="Status: delivered"]',
        ) !== null,
    );
    await postWhatsApp(inbox.baseUrl, whatsappStatuses('wamid.live-001', ASHA, [['read', new Date()]]));
    await waitInPage(
      page,
      'the read tick',
      () =>
        (globalThis as unknown as PageGlobals).document.querySelector(
          'article[data-message-id="wamid.live-001"] [aria-label="Status: read"]',
        ) !== null,
    );
    expect(await stillSameDocument()).toBe(true);
  });

  it('search finds the new message and highlights the match', async () => {
    await clickNav(page, 'Search');
    await waitForHeading(page, 'Search');
    await fillField(page, 'Text', 'zephyr');
    await clickButton(page, 'Search');
    await waitInPage(
      page,
      'one result',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] > li').length === 1,
    );
    const [result] = await threadMessages(page, 'Search results');
    expect(result?.text).toContain('Zephyr blue, size M, please');
    const marks = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] mark')).map(
        (m) => m.textContent,
      ),
    );
    expect(marks).toEqual(['Zephyr']);
  });

  it('after the server is killed and started again on the same port, the page says so, reconnects by itself and shows new messages', async () => {
    await openView(page, inbox.baseUrl, threadHash, ASHA.name);
    await waitForMessage('wamid.live-001', 'Zephyr blue');
    await waitForLiveState(page, ['Live']);
    await markDocument();
    // What Chromium itself logs while the server is gone: refused connections of the retries.
    watch.allow(
      /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to fetch/,
      'the server is down on purpose',
    );

    await inbox.kill();
    const down = await waitForLiveState(page, ['Offline', 'Connecting…']);
    expect(['Offline', 'Connecting…']).toContain(down);

    await inbox.restart();
    await waitForLiveState(page, ['Live']);
    await postText('wamid.live-002', 'Back again after the restart');
    await waitForMessage('wamid.live-002', 'Back again after the restart');
    expect((await threadMessages(page)).map((m) => m.id)).toEqual(['wamid.live-000', 'wamid.live-001', 'wamid.live-002']);
    expect(await stillSameDocument()).toBe(true);
  });
});
