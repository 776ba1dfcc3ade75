// The guards the other browser tests rely on, shown to fail when they should: on the real
// dashboard page, an inline script (refused by its Content-Security-Policy), a console error, an
// exception, a request to another origin and an unlabelled field are each reported. Without this,
// a watch that saw nothing would pass every test.

import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeFindings, launchBrowser, openPage, type PageGlobals } from '../helpers/browser.js';
import { waitFor } from '../helpers/server.js';
import { openView } from './dashboard.js';
import { type Inbox, startInbox } from './support.js';

interface Doc {
  createElement(tag: string): { textContent: string; setAttribute(name: string, value: string): void };
  querySelector(selector: string): { appendChild(child: unknown): void } | null;
}

let inbox: Inbox;
let browser: Browser;

beforeAll(async () => {
  [inbox, browser] = await Promise.all([startInbox(), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await inbox?.close();
});

describe('the browser tests’ guards', () => {
  it('report a blocked inline script, a console error, an exception and a request to another origin', async () => {
    const { page, watch } = await openPage(browser, inbox.baseUrl);
    try {
      await openView(page, inbox.baseUrl, '#/', 'Conversations');
      watch.expectClean();

      await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: Doc }).document;
        const script = doc.createElement('script');
        script.textContent = 'globalThis.__inlineRan = true';
        doc.querySelector('main')?.appendChild(script);
        (globalThis as unknown as { console: { error(text: string): void } }).console.error('an error the page logged');
        (globalThis as unknown as { setTimeout(f: () => void): void }).setTimeout(() => {
          throw new Error('an exception the page did not catch');
        });
      });
      await waitFor(
        'the three reports',
        () => watch.problems.some((p) => p.startsWith('uncaught exception')) && watch.problems.length >= 3,
      );
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__inlineRan ?? null)).toBeNull();

      // The policy would stop a request to another origin before it leaves; with the policy set
      // aside, the request itself is reported.
      await page.setBypassCSP(true);
      await page.reload({ waitUntil: 'load' });
      await page.evaluate(() =>
        (globalThis as unknown as { fetch(url: string, init: unknown): Promise<unknown> })
          .fetch('http://127.0.0.2:18080/elsewhere', { mode: 'no-cors' })
          .catch(() => null),
      );
      await waitFor('the request to be reported', () => watch.problems.some((p) => p.startsWith('request left the origin')));

      let report = '';
      try {
        watch.expectClean();
      } catch (error) {
        report = error instanceof Error ? error.message : String(error);
      }
      expect(report).toMatch(/Content-Security-Policy violation: script-src-elem blocked inline/);
      expect(report).toMatch(/console error: an error the page logged/);
      expect(report).toMatch(/uncaught exception in the page: .*an exception the page did not catch/);
      expect(report).toMatch(/request left the origin: GET http:\/\/127\.0\.0\.2:18080\/elsewhere/);
    } finally {
      await page.close();
    }
  });

  it('axe reports a field without a label', async () => {
    const { page } = await openPage(browser, inbox.baseUrl);
    try {
      await openView(page, inbox.baseUrl, '#/', 'Conversations');
      expect(await axeFindings(page)).toEqual([]);
      await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: Doc }).document;
        const input = doc.createElement('input');
        input.setAttribute('type', 'text');
        doc.querySelector('main')?.appendChild(input);
      });
      const findings = await axeFindings(page);
      expect(findings.map((f) => f.rule)).toContain('label');
    } finally {
      await page.close();
    }
  });
});
