// GET / and GET /assets/*: the dashboard, built for real (web/build.js) into a folder of this
// file's own, served with its Content-Security-Policy and caching headers; open without a token
// while the API is not; unknown and odd asset paths are a 4xx, never a 500; without a build, a
// page that says how to make one. (What the page shows is tested in a browser: test/browser/.)

import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../web/build.js';
import { tempDir } from '../helpers/tmp.js';
import { useTestApp } from './support.js';

const built = tempDir('webhook-inbox-dashboard-');
const dashboardDir = path.join(built.dir, 'web');

beforeAll(async () => {
  await buildWeb({ outDir: dashboardDir });
}, 60_000);
afterAll(() => built.cleanup());

/** The CSP's directives: name → sources. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0] !== undefined && parts[0] !== '')
      .map(([name = '', ...sources]) => [name, sources]),
  );
}

/** The script and stylesheet the page names. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '').filter((url) => url.startsWith('assets/'));
}

describe('GET /', () => {
  const app = useTestApp({ API_TOKEN: 'read-token' }, { dashboardDir });

  it('answers the page, open without a token, with a CSP that forbids inline scripts and framing, and no-cache', async () => {
    const res = await app().app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = directives(String(res.headers['content-security-policy']));
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('style-src')).toEqual(["'self'"]);
    expect(csp.get('connect-src')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(String(res.headers['content-security-policy'])).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-cache');
    // Every script comes from a file; there is no inline script or style to allow.
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(res.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    // The data stays behind the token: the page holds none of it.
    expect((await app().app.inject({ method: 'GET', url: '/conversations' })).statusCode).toBe(401);
  });

  it('answers HEAD like GET, without the body', async () => {
    const res = await app().app.inject({ method: 'HEAD', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBeDefined();
    expect(res.body).toBe('');
  });

  it('is not part of the API description: / and /assets/* are absent from /openapi.json, and no API path starts there', async () => {
    const document = (await app().app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    const paths = Object.keys(document.paths);
    expect(paths).not.toContain('/');
    expect(paths.filter((p) => p === '/assets' || p.startsWith('/assets/'))).toEqual([]);
  });
});

describe('GET /assets/*', () => {
  const app = useTestApp({ API_TOKEN: 'read-token' }, { dashboardDir });

  async function pageAssets(): Promise<string[]> {
    const assets = assetsOf((await app().app.inject({ method: 'GET', url: '/' })).body);
    expect(assets.some((a) => /^assets\/app-[A-Z0-9]+\.js$/.test(a))).toBe(true);
    expect(assets.some((a) => /^assets\/app-[A-Z0-9]+\.css$/.test(a))).toBe(true);
    return assets;
  }

  it('serves the hashed script and stylesheet the page names, cached for a year as immutable, without a token', async () => {
    for (const asset of await pageAssets()) {
      const res = await app().app.inject({ method: 'GET', url: `/${asset}` });
      expect(res.statusCode, asset).toBe(200);
      expect(res.headers['content-type'], asset).toMatch(
        asset.endsWith('.js') ? /^(application|text)\/javascript/ : /^text\/css/,
      );
      expect(res.headers['cache-control'], asset).toBe('public, max-age=31536000, immutable');
      expect(res.headers['x-content-type-options'], asset).toBe('nosniff');
      expect(res.body.length, asset).toBeGreaterThan(1000);
    }
  });

  it('sends the brotli or gzip copy to a browser that takes it, with the same content', async () => {
    for (const asset of await pageAssets()) {
      const plain = (await app().app.inject({ method: 'GET', url: `/${asset}` })).rawPayload;
      const br = await app().app.inject({ method: 'GET', url: `/${asset}`, headers: { 'accept-encoding': 'br' } });
      expect(br.headers['content-encoding'], asset).toBe('br');
      expect(br.headers.vary, asset).toMatch(/accept-encoding/i);
      expect(brotliDecompressSync(br.rawPayload).equals(plain), asset).toBe(true);
      const gzip = await app().app.inject({ method: 'GET', url: `/${asset}`, headers: { 'accept-encoding': 'gzip' } });
      expect(gzip.headers['content-encoding'], asset).toBe('gzip');
      expect(gunzipSync(gzip.rawPayload).equals(plain), asset).toBe(true);
      expect(gzip.headers['cache-control'], asset).toBe('public, max-age=31536000, immutable');
    }
  });

  it('answers 404 {"detail": "Not Found"} for an asset that does not exist', async () => {
    for (const url of ['/assets/app-NOPE.js', '/assets/', '/assets', '/index.html', '/assets/index.html']) {
      const res = await app().app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toEqual({ detail: 'Not Found' });
    }
  });

  it('answers odd paths with a 4xx, never a 500, and never a file from outside the assets', async () => {
    const odd = [
      '/assets/%',
      '/assets/%E0%A4%A',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/../../package.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/a%00b.js',
      '/assets/.hidden',
      '/assets/.%2e/index.html',
      `/assets/${'a'.repeat(5000)}.js`,
      '/assets/app.js?x=<script>',
      '//assets/x',
    ];
    for (const url of odd) {
      const res = await app().app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(res.body, url).not.toContain('"name": "webhook-inbox"');
    }
    // Dots that the router folds away lead back to the page itself, not above it.
    for (const url of ['/%2e%2e/', '/./', '/assets/..']) {
      const res = await app().app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBeLessThan(500);
      expect(res.body, url).not.toContain('"name": "webhook-inbox"');
    }
  });

  it('answers a range it cannot satisfy with 416, not a 500', async () => {
    const [asset] = await pageAssets();
    const res = await app().app.inject({ method: 'GET', url: `/${asset}`, headers: { range: 'bytes=999999999-' } });
    expect(res.statusCode).toBe(416);
  });
});

describe('without a built dashboard', () => {
  const empty = tempDir('webhook-inbox-no-dashboard-');
  afterAll(() => empty.cleanup());
  const app = useTestApp({}, { dashboardDir: empty.dir });

  it('GET / says how to build it (503, text), and the API is served as ever', async () => {
    const res = await app().app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toContain('npm run build');
    expect((await app().app.inject({ method: 'GET', url: '/assets/app.js' })).statusCode).toBe(404);
    expect((await app().app.inject({ method: 'GET', url: '/stats' })).statusCode).toBe(200);
  });
});
