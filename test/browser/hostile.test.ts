// Bad input and bad days, in a real Chromium. Message text, contact names, raw payloads and dead
// letters that hold HTML (`<script>`, `<img src=x onerror=…>`) are shown as the characters they
// are, and nothing in them runs. An API that answers garbage, errors or nothing at all gives a
// clear message with a Retry button, never a blank page, and Retry works once the API is back.

import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityFailures, DESKTOP, launchBrowser, openPage, type PageGlobals, type PageWatch } from '../helpers/browser.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import {
  clickButton,
  clickNav,
  conversationItems,
  fillField,
  mainText,
  openView,
  waitForAlert,
  waitForHeading,
  waitInPage,
} from './dashboard.js';
import {
  BUSINESS,
  type Contact,
  type Inbox,
  isoSeconds,
  phone,
  postMessage,
  postWhatsApp,
  SPEC_RECIPIENT,
  SPEC_SENDER,
  startInbox,
  unixSeconds,
  whatsappMessage,
} from './support.js';

const SCRIPT_TEXT = '<script>window.__pwned = "script"</script> see attachment';
const IMG_TEXT = '<img src=x onerror="window.__pwned = \'img\'"> look at this';
const HOSTILE_NAME: Contact = { name: '<img src=x onerror="window.__pwned = \'name\'">Eve', waId: '447700900666' };
const RAW_EXTRA = '<script>window.__pwned = "raw"</script>';
const DEAD_LETTER_TEXT = '<img src=x onerror="window.__pwned = \'dead\'">';

let inbox: Inbox;
let browser: Browser;
let page: Page;
let watch: PageWatch;

beforeAll(async () => {
  [inbox, browser] = await Promise.all([startInbox(), launchBrowser()]);
  const at = new Date(Date.now() - 10 * 60_000);
  await postMessage(inbox.baseUrl, {
    message_id: 'html-1',
    from: SPEC_SENDER,
    to: SPEC_RECIPIENT,
    ts: isoSeconds(at),
    text: SCRIPT_TEXT,
  });
  await postMessage(inbox.baseUrl, {
    message_id: 'html-2',
    from: SPEC_SENDER,
    to: SPEC_RECIPIENT,
    ts: isoSeconds(new Date(at.getTime() + 1000)),
    text: IMG_TEXT,
  });
  await postWhatsApp(
    inbox.baseUrl,
    whatsappMessage(HOSTILE_NAME, {
      id: 'wamid.html-3',
      timestamp: unixSeconds(new Date(at.getTime() + 2000)),
      type: 'text',
      text: { body: '<b>not bold</b> & <i>not italic</i>' },
      // An unknown field: kept in raw as it came.
      note: RAW_EXTRA,
    }),
  );
  await postWhatsApp(
    inbox.baseUrl,
    whatsappEnvelope({
      messages: [
        {
          from: 'not a number',
          id: 'wamid.html-dead',
          timestamp: unixSeconds(at),
          type: 'text',
          text: { body: DEAD_LETTER_TEXT },
        },
      ],
    }),
  );
  ({ page, watch } = await openPage(browser, inbox.baseUrl, DESKTOP));
});

afterAll(async () => {
  await browser?.close();
  await inbox?.close();
});

afterEach(() => {
  watch.expectClean();
});

/** What would betray HTML run as HTML: the flag any of the payloads sets, an `<img src="x">`, a `<b>` of the data. */
async function injected(target: Page): Promise<{ pwned: unknown; images: number; scripts: number; bold: number }> {
  return target.evaluate(() => {
    const page = globalThis as unknown as PageGlobals;
    return {
      pwned: page.__pwned ?? null,
      images: page.document.querySelectorAll('img[src="x"]').length,
      // Only the app's own script file: none of the data's.
      scripts: Array.from(page.document.querySelectorAll('script')).filter((s) => !s.hasAttribute('src')).length,
      bold: Array.from(page.document.querySelectorAll('main b')).filter((b) => (b.textContent ?? '') === 'not bold').length,
    };
  });
}

const clean = { pwned: null, images: 0, scripts: 0, bold: 0 };

describe('HTML in the data is shown as text', () => {
  it('in the conversations list and the threads', async () => {
    await openView(page, inbox.baseUrl, '#/', 'Conversations');
    await waitInPage(
      page,
      'two conversations',
      () =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a').length === 2,
    );
    const items = (await conversationItems(page)).join('\n');
    expect(items).toContain(HOSTILE_NAME.name);
    expect(items).toContain(IMG_TEXT);
    expect(await injected(page)).toEqual(clean);

    await openView(
      page,
      inbox.baseUrl,
      `#/c/${encodeURIComponent(SPEC_SENDER)}/${encodeURIComponent(SPEC_RECIPIENT)}`,
      SPEC_SENDER,
    );
    await waitInPage(
      page,
      'both messages',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Messages"] article').length === 2,
    );
    const text = await mainText(page);
    expect(text).toContain(SCRIPT_TEXT);
    expect(text).toContain(IMG_TEXT);
    expect(await injected(page)).toEqual(clean);

    await openView(
      page,
      inbox.baseUrl,
      `#/c/${encodeURIComponent(phone(HOSTILE_NAME))}/${encodeURIComponent(BUSINESS)}`,
      HOSTILE_NAME.name,
    );
    await waitInPage(
      page,
      'the message',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Messages"] article').length === 1,
    );
    expect(await mainText(page)).toContain('<b>not bold</b> & <i>not italic</i>');
    expect(await injected(page)).toEqual(clean);
  });

  it('in the message view, its raw JSON, search results and dead letters', async () => {
    await openView(page, inbox.baseUrl, '#/m/wamid.html-3', 'Message');
    await waitInPage(
      page,
      'the raw JSON',
      () =>
        ((globalThis as unknown as PageGlobals).document.querySelector('pre[aria-label="Raw JSON"]')?.textContent ?? '') !== '',
    );
    const raw = await page.evaluate(
      () => (globalThis as unknown as PageGlobals).document.querySelector('pre[aria-label="Raw JSON"]')?.textContent ?? '',
    );
    expect(JSON.parse(raw)).toMatchObject({ note: RAW_EXTRA });
    expect(await mainText(page)).toContain(HOSTILE_NAME.name);
    expect(await injected(page)).toEqual(clean);

    await clickNav(page, 'Search');
    await waitForHeading(page, 'Search');
    await fillField(page, 'Text', 'src=x');
    await clickButton(page, 'Search');
    await waitInPage(
      page,
      'the result',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] > li').length === 1,
    );
    const results = await mainText(page);
    expect(results).toContain(IMG_TEXT);
    const marks = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] mark')).map(
        (m) => m.textContent,
      ),
    );
    expect(marks).toEqual(['src=x']);
    expect(await injected(page)).toEqual(clean);

    await clickNav(page, 'Dead letters');
    await waitForHeading(page, 'Dead letters');
    await waitInPage(
      page,
      'the dead letter',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('main table pre').length === 1,
    );
    const item = await page.evaluate(
      () => (globalThis as unknown as PageGlobals).document.querySelector('main table pre')?.textContent ?? '',
    );
    expect(JSON.parse(item)).toMatchObject({ text: { body: DEAD_LETTER_TEXT } });
    expect(await injected(page)).toEqual(clean);
  });
});

/** Answers requests of the page whose path starts with `prefix` with `answer` until the returned function is called. */
async function breakApi(
  target: Page,
  prefix: string,
  answer: { status: number; contentType: string; body: string },
): Promise<() => Promise<void>> {
  const handler = (request: HTTPRequest): void => {
    if (request.isInterceptResolutionHandled()) return;
    if (new URL(request.url()).pathname.startsWith(prefix)) void request.respond(answer);
    else void request.continue();
  };
  await target.setRequestInterception(true);
  target.on('request', handler);
  return async () => {
    target.off('request', handler);
    await target.setRequestInterception(false);
  };
}

describe('when the API fails', () => {
  const broken = [
    { what: 'a 500 with a detail', status: 500, contentType: 'application/json', body: '{"detail":"database on fire"}' },
    {
      what: 'a proxy error page',
      status: 502,
      contentType: 'text/html',
      body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
    },
    { what: 'a 200 that is not JSON', status: 200, contentType: 'application/json', body: '{"data": [' },
    { what: 'a 200 of the wrong shape', status: 200, contentType: 'application/json', body: '{"items": "none"}' },
  ];

  for (const answer of broken) {
    it(`shows an error with Retry for ${answer.what}, and Retry shows the data once the API answers`, async () => {
      watch.allow(/status of 50[02]/, 'the API answers an error on purpose');
      await openView(page, inbox.baseUrl, '#/dead-letters', 'Dead letters');
      const repair = await breakApi(page, '/conversations', answer);
      try {
        await clickNav(page, 'Conversations');
        const alert = await waitForAlert(page);
        expect(alert.retry).toBe(true);
        expect(alert.text).not.toBe('');
        // Not a blank page: the frame, the navigation and the view's heading stay.
        await waitForHeading(page, 'Conversations');
        expect(
          await page.evaluate(
            () => (globalThis as unknown as PageGlobals).document.querySelector('nav[aria-label="Views"]') !== null,
          ),
        ).toBe(true);
        if (answer.status === 500) expect(await accessibilityFailures(page, 'an API error')).toEqual([]);
      } finally {
        await repair();
      }
      await clickButton(page, 'Retry');
      await waitInPage(
        page,
        'the conversations after Retry',
        () =>
          (globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a').length === 2,
      );
      expect(await page.$('[role="alert"]')).toBeNull();
    });
  }

  it('shows an error with Retry when the server cannot be reached, and Retry works once it is back', async () => {
    watch.allow(
      /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to fetch/,
      'the server is down on purpose',
    );
    await openView(page, inbox.baseUrl, '#/', 'Conversations');
    await inbox.kill();
    await clickNav(page, 'Overview');
    const alert = await waitForAlert(page);
    expect(alert.retry).toBe(true);
    await waitForHeading(page, 'Overview');

    await inbox.restart();
    await clickButton(page, 'Retry');
    await waitInPage(
      page,
      'the overview after Retry',
      () => (globalThis as unknown as PageGlobals).document.querySelector('dl[aria-label="Totals"]') !== null,
    );
  });
});
