// A real Chromium for the browser tests and the dashboard benchmark: the one `@sparticuz/chromium`
// ships inside its npm package (nothing is downloaded), or the system Chromium CHROME_PATH names.
// Pages are watched for what a person would call broken: console errors, uncaught exceptions,
// Content-Security-Policy violations and requests that leave the service's origin. An axe-core
// scan reports the accessibility problems a screen-reader or low-vision user would hit.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type ConsoleMessage, type Page } from 'puppeteer-core';
import { paletteSized } from './png.js';
import { PROJECT_ROOT } from './server.js';

/**
 * The little of the DOM that in-page probes touch. The tests compile without TypeScript's DOM
 * library (it clashes with Node's own fetch and stream types), so a function run in the page
 * reaches its globals as `(globalThis as unknown as PageGlobals)`. Such a function is sent to the
 * page as source text: it may use only its parameters and these globals, nothing imported.
 */
export interface PageElement {
  readonly tagName: string;
  readonly textContent: string | null;
  readonly innerText: string;
  readonly id: string;
  readonly scrollHeight: number;
  readonly clientHeight: number;
  readonly clientWidth: number;
  readonly scrollWidth: number;
  readonly parentElement: PageElement | null;
  readonly children: ArrayLike<PageElement>;
  scrollTop: number;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  closest(selector: string): PageElement | null;
  matches(selector: string): boolean;
  scrollIntoView(options?: { block?: 'start' | 'center' | 'end' | 'nearest' }): void;
  getBoundingClientRect(): { top: number; bottom: number; left: number; right: number; width: number; height: number };
}

export interface PageGlobals {
  readonly document: {
    readonly title: string;
    readonly body: PageElement;
    readonly documentElement: PageElement;
    readonly activeElement: PageElement | null;
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): ArrayLike<PageElement>;
    addEventListener(type: string, listener: (event: { violatedDirective?: string; blockedURI?: string }) => void): void;
  };
  readonly location: { readonly hash: string; readonly href: string; readonly origin: string };
  readonly sessionStorage: { getItem(key: string): string | null; readonly length: number };
  readonly innerWidth: number;
  readonly innerHeight: number;
  scrollTo(x: number, y: number): void;
  getComputedStyle(element: PageElement): { readonly display: string; readonly visibility: string };
  [key: string]: unknown;
}

/** The Chromium to drive: CHROME_PATH when set, else the one inside `@sparticuz/chromium` (unpacked to the temp folder once). */
export async function browserExecutable(): Promise<{ path: string; packaged: boolean }> {
  const system = process.env.CHROME_PATH;
  if (system !== undefined && system.trim() !== '') return { path: system.trim(), packaged: false };
  return { path: await chromium.executablePath(), packaged: true };
}

export async function launchBrowser(): Promise<Browser> {
  const executable = await browserExecutable();
  return puppeteer.launch({
    executablePath: executable.path,
    // The packaged build is chrome-headless-shell, which has only that mode.
    headless: executable.packaged ? 'shell' : true,
    args: [
      // The tests may run as root (containers, CI), where Chromium's sandbox cannot start.
      '--no-sandbox',
      '--disable-dev-shm-usage',
      // Same glyph shapes on every machine, so screenshots differ only where the page does.
      '--font-render-hinting=none',
      '--hide-scrollbars',
      // Dates and numbers as an English-speaking person sees them, whatever the machine's locale.
      '--lang=en-US',
    ],
    // Not Chromium's flags of @sparticuz/chromium: they turn off web security, which would hide
    // exactly the origin and policy mistakes these tests look for.
    defaultViewport: DESKTOP,
  });
}

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true } as const;

export type ColorScheme = 'light' | 'dark';

export async function setColorScheme(page: Page, scheme: ColorScheme): Promise<void> {
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
}

/** A console error the test expects (a 401 it provokes, a server it stopped), with why. */
interface Allowance {
  readonly pattern: RegExp;
  readonly why: string;
}

/**
 * Everything a page does wrong while a test drives it. `problems` is what fails the test; call
 * `expectClean()` at the end of each test (and `allow` first for the console errors a test
 * provokes on purpose, such as the browser's own "Failed to load resource … 401").
 */
export class PageWatch {
  readonly problems: string[] = [];
  /** Every URL the page requested, in order. */
  readonly requests: string[] = [];
  /** Console errors that matched an allowance, kept for the failure message of a later check. */
  readonly allowed: string[] = [];
  #allowances: Allowance[] = [];

  constructor(
    readonly page: Page,
    readonly origin: string,
  ) {}

  /** Starts watching a fresh page; call before its first navigation. */
  static async attach(page: Page, origin: string): Promise<PageWatch> {
    const watch = new PageWatch(page, origin);
    page.on('console', (message) => watch.#console(message));
    page.on('pageerror', (error) => {
      watch.problems.push(
        `uncaught exception in the page: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    });
    page.on('request', (request) => {
      const url = request.url();
      watch.requests.push(url);
      // data: and blob: URLs are read from memory; anything else must go to the service itself.
      if (/^(data|blob):/.test(url)) return;
      if (new URL(url).origin !== watch.origin) watch.problems.push(`request left the origin: ${request.method()} ${url}`);
    });
    // The console message Chromium prints for a violation is caught above; the event also names
    // the directive and what was blocked, and fires for report-only policies.
    await page.exposeFunction('__reportPolicyViolation', (text: string) => {
      watch.problems.push(`Content-Security-Policy violation: ${text}`);
    });
    await page.evaluateOnNewDocument(() => {
      const page = globalThis as unknown as PageGlobals;
      page.document.addEventListener('securitypolicyviolation', (event) => {
        const report = page.__reportPolicyViolation;
        if (typeof report === 'function') report(`${event.violatedDirective ?? '?'} blocked ${event.blockedURI ?? '?'}`);
      });
    });
    return watch;
  }

  /** Lets console errors matching `pattern` pass, for the rest of the test. */
  allow(pattern: RegExp, why: string): void {
    this.#allowances.push({ pattern, why });
  }

  /** Fails the test with every problem seen since the last call, then starts afresh. */
  expectClean(): void {
    const problems = this.problems.splice(0);
    this.#allowances = [];
    if (problems.length > 0) {
      throw new Error(`the page misbehaved (${problems.length}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    }
  }

  /** The requests made since `from` (an index into `requests`) whose path starts with `prefix`. */
  requestsSince(from: number, prefix: string): string[] {
    return this.requests.slice(from).filter((url) => new URL(url).pathname.startsWith(prefix));
  }

  #console(message: ConsoleMessage): void {
    const type = message.type();
    const text = message.text();
    const policy = /Content.Security.Policy/i.test(text);
    if (type !== 'error' && !(type === 'warn' && policy)) return;
    const where = message.location().url;
    const line = `console ${type}: ${text}${where === undefined ? '' : ` (${where})`}`;
    const allowance = policy ? undefined : this.#allowances.find((a) => a.pattern.test(line));
    if (allowance === undefined) this.problems.push(line);
    else this.allowed.push(`${line} [allowed: ${allowance.why}]`);
  }
}

/** A new page (own viewport, light scheme) with a watch on it; no navigation yet. */
export async function openPage(browser: Browser, origin: string, viewport: typeof DESKTOP | typeof PHONE = DESKTOP) {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  await setColorScheme(page, 'light');
  // Day separators and times fall on the same days whatever the machine's time zone.
  await page.emulateTimezone('UTC');
  const watch = await PageWatch.attach(page, origin);
  return { page, watch };
}

let axeSource: string | undefined;

function loadAxeSource(): string {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

export interface AxeFinding {
  readonly rule: string;
  readonly impact: string;
  readonly help: string;
  readonly nodes: readonly { readonly target: string; readonly html: string; readonly summary: string }[];
}

/**
 * Runs axe-core's default rules on the page as it is now and returns the serious and critical
 * violations. axe is evaluated through the DevTools protocol, which the page's
 * Content-Security-Policy does not govern, so the page's own policy stays as strict as served.
 */
export async function axeFindings(page: Page): Promise<AxeFinding[]> {
  const loaded = await page.evaluate(() => typeof (globalThis as unknown as PageGlobals).axe === 'object');
  if (!loaded) await page.evaluate(loadAxeSource());
  return page.evaluate(async () => {
    interface AxeNode {
      target: unknown[];
      html: string;
      failureSummary?: string;
    }
    interface AxeResult {
      id: string;
      impact?: string | null;
      help: string;
      nodes: AxeNode[];
    }
    const axe = (globalThis as unknown as PageGlobals).axe as {
      run(context: unknown, options: unknown): Promise<{ violations: AxeResult[] }>;
    };
    const results = await axe.run((globalThis as unknown as PageGlobals).document, { resultTypes: ['violations'] });
    return results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        rule: v.id,
        impact: String(v.impact),
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({
          target: n.target.map(String).join(' '),
          html: n.html.slice(0, 200),
          summary: (n.failureSummary ?? '').replace(/\s+/g, ' '),
        })),
      }));
  });
}

/** axe findings as readable lines, for a failure message. */
export function describeFindings(label: string, findings: readonly AxeFinding[]): string {
  if (findings.length === 0) return `${label}: no serious or critical accessibility violation`;
  const lines = findings.flatMap((f) => [
    `${label}: ${f.rule} (${f.impact}): ${f.help}`,
    ...f.nodes.map((n) => `    at ${n.target}: ${n.html}\n      ${n.summary}`),
  ]);
  return lines.join('\n');
}

/**
 * The serious and critical axe violations of the page as it is now, in the light and then the dark
 * color scheme, described (empty: none); the page is left in the light scheme.
 */
export async function accessibilityFailures(page: Page, label: string): Promise<string[]> {
  const failures: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await setColorScheme(page, scheme);
    const findings = await axeFindings(page);
    if (findings.length > 0) failures.push(describeFindings(`${label} (${scheme})`, findings));
  }
  await setColorScheme(page, 'light');
  return failures;
}

export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'docs', 'img');

/** The visible part of the page (not the whole scroll height) as docs/img/{name}.png, in 256 colors. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  const png = await page.screenshot({ type: 'png', captureBeyondViewport: false });
  writeFileSync(file, paletteSized(Buffer.from(png)));
  return file;
}

/** How far the page's content is wider than the viewport (0: no horizontal scroll). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const root = (globalThis as unknown as PageGlobals).document.documentElement;
    return Math.max(0, root.scrollWidth - root.clientWidth);
  });
}
