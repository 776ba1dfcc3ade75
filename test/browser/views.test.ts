// Every view of the dashboard in a real Chromium, against the real service holding a realistic
// inbox (test/browser/support.ts): what each view shows, checked against the API's own answers;
// the page's security headers; an accessibility scan of each view in the light and the dark color
// scheme; the navigation by keyboard; a phone-sized screen without sideways scrolling. The tests
// also write the screenshots of docs/img/ that the README shows.

import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  accessibilityFailures,
  DESKTOP,
  horizontalOverflow,
  launchBrowser,
  openPage,
  type PageGlobals,
  type PageWatch,
  PHONE,
  saveScreenshot,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/server.js';
import {
  byRole,
  clickButton,
  clickInView,
  clickNav,
  conversationItems,
  conversationLink,
  daySeparators,
  fillField,
  hasRole,
  mainText,
  navState,
  openView,
  shownNumber,
  tableRows,
  threadMessages,
  waitForHeading,
  waitForLiveState,
  waitInPage,
} from './dashboard.js';
import {
  apiGet,
  BUSINESS,
  CHLOE,
  type Inbox,
  JONAS,
  PRIYA,
  type Showcase,
  SPEC_SENDER,
  seedShowcase,
  startInbox,
  TUNDE,
} from './support.js';

interface Stats {
  total_messages: number;
  senders_count: number;
  messages_per_sender: { from: string; count: number }[];
}
interface Timeseries {
  bucket: string;
  data: { start: string; count: number }[];
}
interface MessageDetail {
  message_id: string;
  raw: unknown;
  statuses: { status: string; ts: string }[];
}
interface DeadLetters {
  data: { reason: string; item: unknown }[];
  total: number;
}

let inbox: Inbox;
let browser: Browser;
let showcase: Showcase;
let page: Page;
let watch: PageWatch;

beforeAll(async () => {
  [inbox, browser] = await Promise.all([startInbox(), launchBrowser()]);
  showcase = await seedShowcase(inbox.baseUrl);
  ({ page, watch } = await openPage(browser, inbox.baseUrl, DESKTOP));
});

afterAll(async () => {
  await browser?.close();
  await inbox?.close();
});

// Whatever a test did, the page it drove must not have logged an error, thrown, broken its
// Content-Security-Policy or asked another origin for anything.
afterEach(() => {
  watch.expectClean();
});

describe('the dashboard on a realistic inbox', () => {
  it('is served at / with a Content-Security-Policy that forbids inline scripts and framing, and assets cached for good', async () => {
    const response = await fetch(`${inbox.baseUrl}/`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((words) => words[0] !== undefined && words[0] !== '')
        .map((words) => [words[0] as string, words.slice(1)]),
    );
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toMatch(/no-cache/);

    // No inline script in the page itself: every script is a file of the service.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    const assets = [...html.matchAll(/(?:src|href)="\/?(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.some((a) => a?.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a?.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const answer = await fetch(`${inbox.baseUrl}/${asset}`);
      await answer.arrayBuffer();
      expect(answer.status, asset).toBe(200);
      expect(answer.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
    }
  });

  it('conversations: every pair newest first, with the contact, the last message, its time and the count; filtered by number', async () => {
    await openView(page, inbox.baseUrl, '#/', 'Conversations');
    await waitForLiveState(page, ['Live']);
    await waitInPage(page, 'six conversations', () => {
      return (
        (globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a').length === 6
      );
    });
    const items = await conversationItems(page);
    // Most recent first: Asha wrote 6 minutes ago, Chloé 75, the order sender 2 h 15 ago, …
    const expected = ['Asha Rao', CHLOE.name, SPEC_SENDER, JONAS.name, PRIYA.name, TUNDE.name];
    expect(items.map((text) => expected.find((label) => text.includes(label)) ?? text)).toEqual(expected);
    const [asha, chloe, spec] = items;
    expect(asha).toMatch(/\b7\b/); // Asha's seven messages
    expect(chloe).toContain('Bonjour, la commande 5120 est-elle prête ?');
    expect(chloe).toMatch(/\b1\b/);
    expect(spec).toContain('Where is order 3?');
    expect(spec).toMatch(/\b3\b/);
    expect(await navState(page)).toEqual([
      { name: 'Conversations', current: true },
      { name: 'Search', current: false },
      { name: 'Dead letters', current: false },
      { name: 'Overview', current: false },
    ]);
    await saveScreenshot(page, 'conversations-desktop');
    expect(await accessibilityFailures(page, 'conversations')).toEqual([]);

    await fillField(page, 'Filter conversations', `+${JONAS.waId}`);
    await waitInPage(
      page,
      'only Jonas in the list',
      (name: string) => {
        const links = Array.from(
          (globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a'),
        );
        return links.length === 1 && (links[0]?.textContent ?? '').includes(name);
      },
      JONAS.name,
    );
    await fillField(page, 'Filter conversations', '');
    await waitInPage(page, 'all six conversations again', () => {
      return (
        (globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a').length === 6
      );
    });
  });

  it('thread: the messages oldest first, by day, with type badges, captions, places, button replies, quotes and delivery statuses', async () => {
    await openView(page, inbox.baseUrl, '#/', 'Conversations');
    await clickInView(await conversationLink(page, 'Asha Rao'));
    await waitForHeading(page, 'Asha Rao');
    const wanted = showcase.thread.ids;
    await waitInPage(
      page,
      `the ${wanted.length} messages of the thread`,
      (n: number) => {
        return (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Messages"] article').length === n;
      },
      wanted.length,
    );
    // Statuses may be read after the messages: wait for the three the inbox holds.
    await waitInPage(
      page,
      'the delivery statuses',
      (ids: string[]) =>
        ids.every(
          (id) =>
            (globalThis as unknown as PageGlobals).document.querySelector(
              `article[data-message-id="${id}"] [aria-label^="Status: "]`,
            ) !== null,
        ),
      [showcase.readId, showcase.imageId, showcase.failedId],
    );
    const shown = await threadMessages(page);
    expect(shown.map((m) => m.id)).toEqual(wanted);
    const byId = new Map(shown.map((m) => [m.id, m]));
    const message = (id: string) => {
      const found = byId.get(id);
      if (found === undefined) throw new Error(`message ${id} is not shown`);
      return found;
    };

    expect(message(showcase.imageId).badge).toBe('image');
    expect(message(showcase.imageId).text).toContain('The parcel arrived like this, one corner is crushed');
    expect(message(showcase.locationId).badge).toBe('location');
    expect(message(showcase.locationId).text).toContain('2201 Mission St');
    expect(message(showcase.buttonId).badge).toBe('button');
    expect(message(showcase.buttonId).text).toContain('Send a replacement');
    expect(message(showcase.reactionId).badge).toBe('reaction');
    expect(message(showcase.reactionId).text).toContain('❤');
    expect(message(showcase.replyId).quote).not.toBeNull();
    expect(message(showcase.replyId).text).toContain('Thanks! Is a Saturday delivery possible?');
    // The latest status of each: read, delivered, failed; none for the others.
    expect(message(showcase.readId).statuses).toContain('Status: read');
    expect(message(showcase.imageId).statuses).toContain('Status: delivered');
    expect(message(showcase.failedId).statuses).toContain('Status: failed');
    expect(message(showcase.locationId).statuses).toEqual([]);
    // Each message leads to its own view.
    for (const m of shown)
      expect(
        m.links.some((href) => href.includes('#/m/')),
        `a link to message ${m.id}`,
      ).toBe(true);

    // One separator per UTC day the messages fall on (the page runs in UTC), before the first of each.
    const days = new Set(showcase.messages.filter((m) => wanted.includes(m.id)).map((m) => m.at.toISOString().slice(0, 10)));
    expect(await daySeparators(page)).toHaveLength(days.size);

    await saveScreenshot(page, 'thread-desktop');
    expect(await accessibilityFailures(page, 'thread')).toEqual([]);
  });

  it('message: every field, the statuses as a timeline, raw as formatted JSON, copy buttons', async () => {
    const detail = await apiGet<MessageDetail>(inbox.baseUrl, `/messages/${encodeURIComponent(showcase.readId)}`);
    await openView(
      page,
      inbox.baseUrl,
      `#/c/${encodeURIComponent(`+${'16505551234'}`)}/${encodeURIComponent(BUSINESS)}`,
      'Asha Rao',
    );
    await waitInPage(
      page,
      'the thread',
      () => (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Messages"] article').length > 0,
    );
    const link = await page.$(`ol[aria-label="Messages"] article[data-message-id="${showcase.readId}"] a[href*="#/m/"]`);
    if (link === null) throw new Error(`no link to message ${showcase.readId} in the thread`);
    await clickInView(link);
    await waitForHeading(page, 'Message');
    await waitInPage(
      page,
      'the fields of the message',
      () => (globalThis as unknown as PageGlobals).document.querySelector('main dl dt') !== null,
    );

    const terms = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('main dl dt')).map((dt) =>
        (dt.textContent ?? '').trim(),
      ),
    );
    for (const field of ['message_id', 'from', 'to', 'ts', 'text', 'type', 'source', 'received_at', 'contact_name', 'reply_to']) {
      expect(terms, `the field ${field}`).toContain(field);
    }
    const text = await mainText(page);
    expect(text).toContain(showcase.readId);
    expect(text).toContain('Can you tell me when it ships?');
    expect(text).toContain('Asha Rao');

    const timeline = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Status timeline"] > li')).map(
        (li) => (li.textContent ?? '').replace(/\s+/g, ' ').trim(),
      ),
    );
    expect(timeline).toHaveLength(detail.statuses.length);
    for (const [i, status] of detail.statuses.entries()) expect(timeline[i]).toContain(status.status);

    const raw = await page.evaluate(
      () => (globalThis as unknown as PageGlobals).document.querySelector('pre[aria-label="Raw JSON"]')?.textContent ?? '',
    );
    expect(JSON.parse(raw)).toEqual(detail.raw);
    expect(raw.split('\n').length).toBeGreaterThan(3); // formatted, not one line

    await saveScreenshot(page, 'message-desktop');
    expect(await hasRole(page, 'button', 'Copy message id')).toBe(true);
    expect(await hasRole(page, 'button', 'Copy raw JSON')).toBe(true);
    await browser
      .defaultBrowserContext()
      .overridePermissions(inbox.baseUrl, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
    await clickButton(page, 'Copy message id');
    const copied = await page.evaluate(() =>
      ((globalThis as unknown as PageGlobals).navigator as { clipboard: { readText(): Promise<string> } }).clipboard.readText(),
    );
    expect(copied).toBe(showcase.readId);

    expect(await accessibilityFailures(page, 'message')).toEqual([]);
  });

  it('search: finds text newest first, highlights the match, says how many, and narrows by type', async () => {
    await clickNav(page, 'Search');
    await waitForHeading(page, 'Search');
    const form = await page.$('form[role="search"]');
    expect(form).not.toBeNull();
    await fillField(page, 'Text', showcase.searchTerm);
    await clickButton(page, 'Search');
    await waitInPage(page, 'two results', () => {
      return (
        (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] > li').length === 2
      );
    });
    const results = await threadMessages(page, 'Search results');
    // Newest first: the photo of this morning, then Priya's message of four hours ago.
    expect(results.map((r) => r.text)).toEqual([
      expect.stringContaining('The parcel arrived like this'),
      expect.stringContaining('My parcel tracking says delivered'),
    ]);
    const marks = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] mark')).map(
        (m) => m.textContent ?? '',
      ),
    );
    expect(marks.map((m) => m.toLowerCase())).toEqual(['parcel', 'parcel']);
    expect(await mainText(page)).toMatch(/\b2 results\b/);
    const cancel = await byRole(page, 'button', 'Cancel');
    expect(await cancel.evaluate((el) => (el as unknown as { disabled: boolean }).disabled)).toBe(true); // nothing runs now
    await saveScreenshot(page, 'search-desktop');
    expect(await accessibilityFailures(page, 'search')).toEqual([]);

    await fillField(page, 'Text', '');
    await fillField(page, 'Type', 'image');
    await clickButton(page, 'Search');
    await waitInPage(page, 'one image', () => {
      const items = (globalThis as unknown as PageGlobals).document.querySelectorAll('ol[aria-label="Search results"] > li');
      return items.length === 1;
    });
    expect((await threadMessages(page, 'Search results')).map((r) => r.id)).toEqual([showcase.imageId]);
    expect(await mainText(page)).toMatch(/\b1 result/);
  });

  it('search: a slow search can be cancelled, and the request stops', async () => {
    // The previous test left the search view open with Type "image": the heading is already
    // "Search", so wait for the new address to empty the form before typing into it.
    await clickNav(page, 'Search');
    await waitInPage(page, 'the empty search form', () => {
      const { document, location } = globalThis as unknown as PageGlobals;
      const inputs = Array.from(document.querySelectorAll('form[role="search"] input')) as unknown as { value: string }[];
      return (
        location.hash === '#/search' &&
        inputs.length > 0 &&
        inputs.every((input) => input.value === '') &&
        (document.querySelector('p.summary')?.textContent ?? '').includes('Give any of the criteria')
      );
    });
    await waitForHeading(page, 'Search');
    // The service answers at once; holding the search's request makes it slow.
    const held: HTTPRequest[] = [];
    const failed: string[] = [];
    const hold = (request: HTTPRequest): void => {
      if (request.isInterceptResolutionHandled()) return;
      const url = new URL(request.url());
      if (url.pathname === '/messages' && url.searchParams.get('q') === 'walnut') held.push(request);
      else void request.continue();
    };
    const onFailed = (request: HTTPRequest): void => {
      failed.push(`${request.url()} ${request.failure()?.errorText ?? ''}`);
    };
    await page.setRequestInterception(true);
    page.on('request', hold);
    page.on('requestfailed', onFailed);
    try {
      await fillField(page, 'Text', 'walnut');
      await clickButton(page, 'Search');
      await waitFor('the search request', () => held.length > 0);
      const cancel = await byRole(page, 'button', 'Cancel');
      await waitInPage(page, 'Cancel to be enabled while the search runs', () =>
        Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('button')).some(
          (b) => (b.textContent ?? '').trim() === 'Cancel' && !(b as unknown as { disabled: boolean }).disabled,
        ),
      );
      await cancel.click();
      await waitFor('the held request to be aborted', () => failed.some((f) => f.includes('q=walnut')));
      await waitInPage(page, 'Cancel to be disabled again', () =>
        Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('button')).some(
          (b) => (b.textContent ?? '').trim() === 'Cancel' && (b as unknown as { disabled: boolean }).disabled,
        ),
      );
      expect(await page.$('[role="alert"]')).toBeNull();
      expect(await page.$('ol[aria-label="Search results"] > li')).toBeNull();
    } finally {
      page.off('request', hold);
      page.off('requestfailed', onFailed);
      await page.setRequestInterception(false);
    }
  });

  it('dead letters: each unreadable item with its reason and the item as JSON', async () => {
    const letters = await apiGet<DeadLetters>(inbox.baseUrl, '/dead-letters');
    expect(letters.total).toBe(1);
    await clickNav(page, 'Dead letters');
    await waitForHeading(page, 'Dead letters');
    await waitInPage(page, 'the dead letters table', () =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('table caption')).some(
        (c) => (c.textContent ?? '').trim() === 'Dead letters',
      ),
    );
    const rows = await tableRows(page, 'Dead letters');
    const header = rows[0] ?? [];
    const reasonColumn = header.indexOf('Reason');
    expect(reasonColumn, `the columns: ${header.join(', ')}`).toBeGreaterThanOrEqual(0);
    const body = rows.slice(1).filter((row) => row.length > 1);
    expect(body).toHaveLength(1);
    const letter = letters.data[0];
    expect(body[0]?.[reasonColumn]).toBe(letter?.reason);
    const items = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('main table pre')).map(
        (pre) => pre.textContent ?? '',
      ),
    );
    expect(items.map((item) => JSON.parse(item))).toEqual([letter?.item]);
    await saveScreenshot(page, 'dead-letters-desktop');
    expect(await accessibilityFailures(page, 'dead letters')).toEqual([]);
  });

  it('overview: the totals and top senders of /stats, charts whose numbers are those of /stats/timeseries, readiness', async () => {
    await clickNav(page, 'Overview');
    await waitForHeading(page, 'Overview');
    await waitInPage(page, 'the totals', () =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('dl[aria-label="Totals"] dt')).some(
        (dt) => (dt.textContent ?? '').trim() === 'Messages',
      ),
    );
    const stats = await apiGet<Stats>(inbox.baseUrl, '/stats');
    expect(stats.total_messages).toBe(showcase.messages.length);
    const totals = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('dl[aria-label="Totals"] dt')).map((dt) => {
        let dd = dt.parentElement?.querySelector('dd') ?? null;
        // The dd that follows this dt (dt/dd pairs may sit directly in the dl or in a div each).
        const siblings = Array.from(dt.parentElement?.children ?? []);
        const after = siblings.slice(siblings.indexOf(dt) + 1).find((el) => el.tagName === 'DD');
        if (after !== undefined) dd = after;
        return [(dt.textContent ?? '').trim(), (dd?.textContent ?? '').trim()];
      }),
    );
    const total = new Map(totals.map(([term, value]) => [term, value ?? '']));
    expect(shownNumber(total.get('Messages') ?? '')).toBe(stats.total_messages);
    const senders = [...total.entries()].find(([term]) => /sender/i.test(term ?? ''));
    expect(senders, `a total of senders among ${[...total.keys()].join(', ')}`).toBeDefined();
    expect(shownNumber(senders?.[1] ?? '')).toBe(stats.senders_count);

    // Top senders: the same senders as /stats, in its order, with its counts.
    const top = (await tableRows(page, 'Top senders')).slice(1);
    expect(top).toHaveLength(stats.messages_per_sender.length);
    stats.messages_per_sender.forEach((sender, i) => {
      const row = (top[i] ?? []).join(' ');
      expect(row).toContain(sender.from);
      expect(row).toMatch(new RegExp(`\\b${sender.count}\\b`));
    });

    // Each chart's numbers, as the text under it, are those /stats/timeseries gives now.
    for (const [caption, bucket] of [
      ['Messages per hour', 'hour'],
      ['Messages per day', 'day'],
    ] as const) {
      const series = await apiGet<Timeseries>(inbox.baseUrl, `/stats/timeseries?bucket=${bucket}`);
      const shown = await page.evaluate((wanted: string) => {
        const doc = (globalThis as unknown as PageGlobals).document;
        const figure = Array.from(doc.querySelectorAll('figure')).find(
          (f) => (f.querySelector('figcaption')?.textContent ?? '').trim() === wanted,
        );
        if (figure === undefined) return null;
        return Array.from(figure.querySelectorAll('table tr'))
          .map((tr) => Array.from(tr.querySelectorAll('td, th')).map((cell) => (cell.textContent ?? '').trim()))
          .filter((cells) => cells.length >= 2 && /^[0-9][0-9,.\s]*$/.test(cells[cells.length - 1] ?? ''));
      }, caption);
      expect(shown, `a figure captioned ${caption} with its numbers in a table`).not.toBeNull();
      const counts = (shown ?? []).map((cells) => shownNumber(cells[cells.length - 1] ?? ''));
      expect(
        counts.filter((c) => c > 0),
        caption,
      ).toEqual(series.data.map((b) => b.count).filter((c) => c > 0));
      expect(
        counts.reduce((a, b) => a + b, 0),
        caption,
      ).toBe(series.data.reduce((a, b) => a + b.count, 0));
    }
    const lastDay = showcase.messages.filter((m) => m.at.getTime() >= showcase.now.getTime() - 24 * 3600_000).length;
    const hourly = await apiGet<Timeseries>(inbox.baseUrl, '/stats/timeseries?bucket=hour');
    expect(hourly.data.reduce((a, b) => a + b.count, 0)).toBe(lastDay);

    const readiness = await page.evaluate(() =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('[aria-label="Readiness"] li')).map((li) =>
        (li.textContent ?? '').replace(/\s+/g, ' ').trim(),
      ),
    );
    expect(readiness.join(' | ')).toMatch(/database/);
    expect(readiness.join(' | ')).toMatch(/ok/);

    await saveScreenshot(page, 'overview-desktop');
    expect(await accessibilityFailures(page, 'overview')).toEqual([]);
  });

  it('the navigation is reached with Tab, in order, and followed with Enter', async () => {
    const { page: fresh, watch: freshWatch } = await openPage(browser, inbox.baseUrl, DESKTOP);
    try {
      await openView(fresh, inbox.baseUrl, '#/', 'Conversations');
      const reached: string[] = [];
      for (let i = 0; i < 30 && !reached.includes('Overview'); i++) {
        await fresh.keyboard.press('Tab');
        const focused = await fresh.evaluate(() => {
          const active = (globalThis as unknown as PageGlobals).document.activeElement;
          return active?.closest('nav[aria-label="Views"]') !== null && active?.tagName === 'A'
            ? (active.textContent ?? '').trim()
            : null;
        });
        if (focused !== null && !reached.includes(focused)) reached.push(focused);
      }
      expect(reached).toEqual(['Conversations', 'Search', 'Dead letters', 'Overview']);
      // Back to Search with Shift+Tab, then Enter.
      await fresh.keyboard.down('Shift');
      await fresh.keyboard.press('Tab');
      await fresh.keyboard.press('Tab');
      await fresh.keyboard.up('Shift');
      const focused = await fresh.evaluate(() =>
        ((globalThis as unknown as PageGlobals).document.activeElement?.textContent ?? '').trim(),
      );
      expect(focused).toBe('Search');
      await fresh.keyboard.press('Enter');
      await waitForHeading(fresh, 'Search');
      expect((await navState(fresh)).find((link) => link.current)?.name).toBe('Search');
      freshWatch.expectClean();
    } finally {
      await fresh.close();
    }
  });

  it('at phone width every view fits the screen without sideways scrolling', async () => {
    const { page: phone, watch: phoneWatch } = await openPage(browser, inbox.baseUrl, PHONE);
    try {
      const views: [string, string, string | RegExp][] = [
        ['conversations', '#/', 'Conversations'],
        ['thread', `#/c/${encodeURIComponent(`+${'16505551234'}`)}/${encodeURIComponent(BUSINESS)}`, 'Asha Rao'],
        ['search', `#/search?q=${showcase.searchTerm}`, 'Search'],
        ['message', `#/m/${encodeURIComponent(showcase.imageId)}`, 'Message'],
        ['dead-letters', '#/dead-letters', 'Dead letters'],
        ['overview', '#/overview', 'Overview'],
      ];
      const overflows: string[] = [];
      for (const [name, hash, title] of views) {
        await openView(phone, inbox.baseUrl, hash, title);
        await waitInPage(phone, `the ${name} view's content`, () => {
          const main = (globalThis as unknown as PageGlobals).document.querySelector('main');
          return main !== null && main.querySelector('li, table, dl, form') !== null;
        });
        // Let charts and late lists settle before measuring and taking the picture.
        await phone.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
        const overflow = await horizontalOverflow(phone);
        if (overflow > 0) overflows.push(`${name}: ${overflow} px wider than the screen`);
        await saveScreenshot(phone, `${name}-phone`);
      }
      expect(overflows).toEqual([]);
      phoneWatch.expectClean();
    } finally {
      await phone.close();
    }
  });
});
