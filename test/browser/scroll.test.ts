// Long lists in a real Chromium: the conversations list and a thread load a page at a time, and
// scrolling (the mouse wheel, as a person scrolls) brings the rest, in order, each item once.

import type { Browser, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runPool } from '../e2e/client.js';
import { DESKTOP, launchBrowser, openPage, type PageGlobals, type PageWatch } from '../helpers/browser.js';
import { conversationItems, openView, threadMessages, waitInPage } from './dashboard.js';
import { type Inbox, isoSeconds, postMessage, SPEC_RECIPIENT, startInbox } from './support.js';

const SENDERS = 130;
const THREAD = 140;
const THREAD_SENDER = '+447700900123';
const threadId = (i: number): string => `thread-${String(i).padStart(3, '0')}`;

let inbox: Inbox;
let browser: Browser;
let page: Page;
let watch: PageWatch;

/** Sender i's number: +1555 and seven digits. */
const sender = (i: number): string => `+1555${String(i).padStart(7, '0')}`;

beforeAll(async () => {
  [inbox, browser] = await Promise.all([startInbox(), launchBrowser()]);
  const base = Date.now() - 3 * 24 * 3600_000;
  // The thread's messages first, a minute apart and all older than the other senders' single ones.
  await runPool(
    Array.from({ length: THREAD }, (_v, i) => i),
    8,
    (i) =>
      postMessage(inbox.baseUrl, {
        message_id: threadId(i),
        from: THREAD_SENDER,
        to: SPEC_RECIPIENT,
        ts: isoSeconds(new Date(base + i * 60_000)),
        text: `Thread message number ${i}`,
      }),
  );
  await runPool(
    Array.from({ length: SENDERS }, (_v, i) => i),
    8,
    (i) =>
      postMessage(inbox.baseUrl, {
        message_id: `single-${i}`,
        from: sender(i),
        to: SPEC_RECIPIENT,
        ts: isoSeconds(new Date(base + (THREAD + i) * 60_000)),
        text: `Hello from sender ${i}`,
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

/**
 * Scrolls with the wheel (down or up) until `count()` reaches `total` or stops growing; returns
 * the counts seen after each turn.
 */
async function scrollUntil(direction: 'down' | 'up', total: number, count: () => Promise<number>): Promise<number[]> {
  await page.mouse.move(DESKTOP.width / 2, DESKTOP.height / 2);
  const seen = [await count()];
  for (let turn = 0; turn < 40 && (seen[seen.length - 1] ?? 0) < total; turn++) {
    const before = seen[seen.length - 1] ?? 0;
    await page.mouse.wheel({ deltaY: direction === 'down' ? 100_000 : -100_000 });
    try {
      await waitInPage(
        page,
        'more items',
        (n: number, list: string) => {
          return (globalThis as unknown as PageGlobals).document.querySelectorAll(list).length > n;
        },
        before,
        direction === 'down' ? 'ul[aria-label="Conversations"] > li a' : 'ol[aria-label="Messages"] article',
      );
    } catch {
      break; // nothing more came: the end of the list
    }
    seen.push(await count());
  }
  return seen;
}

describe('long lists', () => {
  it('the conversations list loads more as it is scrolled, newest first, each conversation once', async () => {
    await openView(page, inbox.baseUrl, '#/', 'Conversations');
    await waitInPage(
      page,
      'the first conversations',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a').length > 0,
    );
    const total = SENDERS + 1;
    const counts = await scrollUntil('down', total, async () => (await conversationItems(page)).length);
    expect(counts[0]).toBeLessThan(total); // a first page, not everything
    expect(counts[counts.length - 1]).toBe(total);
    const items = await conversationItems(page);
    // Newest first: sender 129 … sender 0, then the thread's sender, whose last message is the oldest.
    const expected = [...Array.from({ length: SENDERS }, (_v, i) => sender(SENDERS - 1 - i)), THREAD_SENDER];
    expect(items.map((text) => expected.find((number) => text.includes(number)) ?? text)).toEqual(expected);
  });

  it('a thread opens on its newest messages and loads older ones as it is scrolled up, in order, each once', async () => {
    await openView(
      page,
      inbox.baseUrl,
      `#/c/${encodeURIComponent(THREAD_SENDER)}/${encodeURIComponent(SPEC_RECIPIENT)}`,
      THREAD_SENDER,
    );
    await waitInPage(
      page,
      'the newest messages',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Messages"] article').length > 0,
    );
    const first = await threadMessages(page);
    expect(first.length).toBeLessThan(THREAD);
    expect(first[first.length - 1]?.id).toBe(threadId(THREAD - 1));
    // Opened at the bottom, where the newest message is.
    const atBottom = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const last = Array.from(g.document.querySelectorAll('ol[aria-label="Messages"] article')).pop();
      const box = last?.getBoundingClientRect();
      return box !== undefined && box.top < g.innerHeight && box.bottom > 0;
    });
    expect(atBottom).toBe(true);

    const counts = await scrollUntil('up', THREAD, async () => (await threadMessages(page)).length);
    expect(counts[counts.length - 1]).toBe(THREAD);
    const ids = (await threadMessages(page)).map((m) => m.id);
    expect(ids).toEqual(Array.from({ length: THREAD }, (_v, i) => threadId(i)));
  });
});
