// What a person finds on the dashboard, looked up the way they would find it: by headings, the
// names of landmarks, lists, buttons and fields (the accessible names of the UI contract), and
// the text on screen. No test reaches for a class or an id of the implementation, except the
// two the contract names: the `badge` of a message's type and its `data-message-id`.

import type { ElementHandle, EvaluateFunc, Page } from 'puppeteer-core';
import { expect } from 'vitest';
import type { PageElement, PageGlobals } from '../helpers/browser.js';

/** How long a test waits for something to appear on screen. */
export const SCREEN_WAIT_MS = 15_000;

/** Opens `hash` (`#/overview`, …) on the dashboard and waits for the view's heading. */
export async function openView(page: Page, baseUrl: string, hash: string, heading?: string | RegExp): Promise<void> {
  await page.goto(`${baseUrl}/${hash}`, { waitUntil: 'load' });
  await waitForHeading(page, heading ?? /./);
}

/** The text of `<main>`'s top heading (`<h1>`), trimmed; null when there is none. */
export async function heading(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const h1 = (globalThis as unknown as PageGlobals).document.querySelector('main h1');
    return h1 === null ? null : (h1.textContent ?? '').trim();
  });
}

export async function waitForHeading(page: Page, expected: string | RegExp): Promise<void> {
  const source = typeof expected === 'string' ? `^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : expected.source;
  try {
    await page.waitForFunction(
      (pattern: string) => {
        const h1 = (globalThis as unknown as PageGlobals).document.querySelector('main h1');
        return h1 !== null && new RegExp(pattern).test((h1.textContent ?? '').trim());
      },
      { timeout: SCREEN_WAIT_MS },
      source,
    );
  } catch (error) {
    throw new Error(`the heading did not become ${String(expected)}; it is ${JSON.stringify(await heading(page))}`, {
      cause: error,
    });
  }
}

/** Waits until `probe`, run in the page, returns a truthy value; `what` names it in the failure. */
export async function waitInPage<A extends unknown[]>(
  page: Page,
  what: string,
  probe: EvaluateFunc<A>,
  ...args: A
): Promise<void> {
  try {
    await page.waitForFunction(probe, { timeout: SCREEN_WAIT_MS, polling: 50 }, ...args);
  } catch (error) {
    const main = await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.innerText.slice(0, 2000));
    throw new Error(`timed out waiting for ${what}; the page shows:\n${main}`, { cause: error });
  }
}

/** The element named `name` with `role`, by the browser's accessibility tree. */
export async function byRole(page: Page, role: string, name: string): Promise<ElementHandle> {
  const selector = `::-p-aria([name=${JSON.stringify(name)}][role=${JSON.stringify(role)}])`;
  const handle = await page.waitForSelector(selector, { timeout: SCREEN_WAIT_MS });
  if (handle === null) throw new Error(`no ${role} named ${JSON.stringify(name)}`);
  return handle;
}

/** Whether an element named `name` with `role` is on the page now. */
export async function hasRole(page: Page, role: string, name: string): Promise<boolean> {
  return (await page.$(`::-p-aria([name=${JSON.stringify(name)}][role=${JSON.stringify(role)}])`)) !== null;
}

/**
 * Brings an element to the middle of the window, then clicks it, as a person scrolls to what they
 * are about to click. The banner stays at the top of the window: an element the page was scrolled
 * to can sit under it, still "in view" to the browser, and a click at its centre would land on the
 * banner instead (the thread opens scrolled to its newest message, so its oldest ones do).
 */
export async function clickInView(element: ElementHandle): Promise<void> {
  await element.evaluate((el) => el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' }));
  await element.click();
}

/** Clicks the link of the navigation (`<nav aria-label="Views">`) whose text is `name`. */
export async function clickNav(page: Page, name: string): Promise<void> {
  const link = await navLink(page, name);
  await link.click();
}

export async function navLink(page: Page, name: string): Promise<ElementHandle> {
  const handle = await page.evaluateHandle((wanted: string) => {
    const links = (globalThis as unknown as PageGlobals).document.querySelectorAll('nav[aria-label="Views"] a');
    return Array.from(links).find((a) => (a.textContent ?? '').trim() === wanted) ?? null;
  }, name);
  const element = handle.asElement();
  if (element === null) throw new Error(`the navigation has no link named ${JSON.stringify(name)}`);
  return element as ElementHandle;
}

/** The navigation's links: text and whether each is marked as the current page. */
export async function navState(page: Page): Promise<{ name: string; current: boolean }[]> {
  return page.evaluate(() =>
    Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('nav[aria-label="Views"] a')).map((a) => ({
      name: (a.textContent ?? '').trim(),
      current: a.getAttribute('aria-current') === 'page',
    })),
  );
}

/** The live-connection indicator: its text (`Live`, `Connecting…`, `Offline`). */
export async function liveState(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const status = (globalThis as unknown as PageGlobals).document.querySelector(
      'header [role="status"][aria-label="Live updates"]',
    );
    return status === null ? null : (status.textContent ?? '').trim();
  });
}

export async function waitForLiveState(page: Page, states: readonly string[]): Promise<string> {
  await waitInPage(
    page,
    `the live indicator to say ${states.join(' or ')}`,
    (wanted: string[]) => {
      const status = (globalThis as unknown as PageGlobals).document.querySelector(
        'header [role="status"][aria-label="Live updates"]',
      );
      return status !== null && wanted.includes((status.textContent ?? '').trim());
    },
    [...states],
  );
  return (await liveState(page)) ?? '';
}

/** Types `value` into the field whose accessible name is `name` (a text box, a search box or a select). */
export async function fillField(page: Page, name: string, value: string): Promise<void> {
  const field = await page.waitForSelector(`::-p-aria([name=${JSON.stringify(name)}])`, { timeout: SCREEN_WAIT_MS });
  if (field === null) throw new Error(`no field named ${JSON.stringify(name)}`);
  const tag = await field.evaluate((el: PageElement) => el.tagName);
  if (tag === 'SELECT') {
    await field.select(value);
    return;
  }
  // Select what is there and delete it as a person would, so that the page hears the change even
  // when the new value is empty.
  await field.focus();
  await field.evaluate((el: PageElement) => (el as unknown as { select(): void }).select());
  await page.keyboard.press('Backspace');
  if (value !== '') await field.type(value);
}

/** Clicks the button whose accessible name is `name`. */
export async function clickButton(page: Page, name: string): Promise<void> {
  await clickInView(await byRole(page, 'button', name));
}

/** The link of the conversations list whose text includes `label` (a contact's name or a number). */
export async function conversationLink(page: Page, label: string): Promise<ElementHandle> {
  await waitInPage(
    page,
    `a conversation of ${label}`,
    (wanted: string) =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a')).some(
        (a) => (a.textContent ?? '').includes(wanted),
      ),
    label,
  );
  const handle = await page.evaluateHandle(
    (wanted: string) =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li a')).find(
        (a) => (a.textContent ?? '').includes(wanted),
      ) ?? null,
    label,
  );
  const element = handle.asElement();
  if (element === null) throw new Error(`the conversation of ${label} went away`);
  return element as ElementHandle;
}

/** The conversations list's items, as their link texts (whitespace folded). */
export async function conversationItems(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll('ul[aria-label="Conversations"] > li')).map(
      (li) => (li.querySelector('a')?.textContent ?? '').replace(/\s+/g, ' ').trim(),
    ),
  );
}

export interface ShownMessage {
  readonly id: string | null;
  readonly badge: string | null;
  /** The article's whole text, whitespace folded. */
  readonly text: string;
  readonly quote: string | null;
  /** The `Status: …` labels in the article. */
  readonly statuses: readonly string[];
  /** Where the article's links lead. */
  readonly links: readonly string[];
}

/** Every message of the open thread (`<ol aria-label="Messages">`), top to bottom. */
export async function threadMessages(page: Page, list = 'Messages'): Promise<ShownMessage[]> {
  return page.evaluate((label: string) => {
    const doc = (globalThis as unknown as PageGlobals).document;
    return Array.from(doc.querySelectorAll(`ol[aria-label="${label}"] article`)).map((article) => ({
      id: article.getAttribute('data-message-id'),
      badge: article.querySelector('.badge')?.textContent?.trim() ?? null,
      text: (article.textContent ?? '').replace(/\s+/g, ' ').trim(),
      quote: article.querySelector('blockquote')?.textContent?.replace(/\s+/g, ' ').trim() ?? null,
      statuses: Array.from(article.querySelectorAll('[aria-label^="Status: "]')).map((el) => el.getAttribute('aria-label') ?? ''),
      links: Array.from(article.querySelectorAll('a[href]')).map((a) => a.getAttribute('href') ?? ''),
    }));
  }, list);
}

/**
 * The day separators of the open thread, as their text: an item of the list that is a separator
 * (`<li role="separator">`, as the contract first had it), holds one, or holds a heading (what
 * keeps the list made of list items only, as axe's `list` rule wants).
 */
export async function daySeparators(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(
      (globalThis as unknown as PageGlobals).document.querySelectorAll(
        ['li[role="separator"]', 'li > [role="separator"]', 'li > h2', 'li > h3']
          .map((s) => `ol[aria-label="Messages"] > ${s}`)
          .join(', '),
      ),
    ).map((el) => (el.textContent ?? '').trim()),
  );
}

/** The error the page shows (`role="alert"`) and whether a `Retry` button goes with it; null when there is none. */
export async function shownAlert(page: Page): Promise<{ text: string; retry: boolean } | null> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as PageGlobals).document;
    const alert = Array.from(doc.querySelectorAll('[role="alert"]')).find((el) => (el.textContent ?? '').trim() !== '');
    if (alert === undefined) return null;
    const buttons = Array.from(doc.querySelectorAll('button'));
    return {
      text: (alert.textContent ?? '').replace(/\s+/g, ' ').trim(),
      retry: buttons.some((b) => (b.textContent ?? '').trim() === 'Retry' || b.getAttribute('aria-label') === 'Retry'),
    };
  });
}

export async function waitForAlert(page: Page): Promise<{ text: string; retry: boolean }> {
  await waitInPage(page, 'an error message (role="alert")', () => {
    const doc = (globalThis as unknown as PageGlobals).document;
    return Array.from(doc.querySelectorAll('[role="alert"]')).some((el) => (el.textContent ?? '').trim() !== '');
  });
  const alert = await shownAlert(page);
  if (alert === null) throw new Error('the alert went away');
  return alert;
}

/** The rows of the table with this caption: each row's cells' text (header row included). */
export async function tableRows(page: Page, caption: string): Promise<string[][]> {
  return page.evaluate((wanted: string) => {
    const doc = (globalThis as unknown as PageGlobals).document;
    const table = Array.from(doc.querySelectorAll('table')).find(
      (t) => (t.querySelector('caption')?.textContent ?? '').trim() === wanted,
    );
    if (table === undefined) return [];
    return Array.from(table.querySelectorAll('tr')).map((tr) =>
      Array.from(tr.querySelectorAll('th, td')).map((cell) => (cell.textContent ?? '').replace(/\s+/g, ' ').trim()),
    );
  }, caption);
}

/** The whole visible text of `<main>`, whitespace folded. */
export async function mainText(page: Page): Promise<string> {
  return page.evaluate(() =>
    ((globalThis as unknown as PageGlobals).document.querySelector('main')?.innerText ?? '').replace(/\s+/g, ' ').trim(),
  );
}

/** A number as the page writes it ("1,234", "1 234", "1234"): its digits. */
export function shownNumber(text: string): number {
  const digits = text.replace(/[^0-9]/g, '');
  expect(digits, `a number in ${JSON.stringify(text)}`).not.toBe('');
  return Number(digits);
}
