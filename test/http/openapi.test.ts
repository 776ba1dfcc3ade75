// GET /openapi.json and GET /docs: the document is valid OpenAPI 3.1, is what the routes generate
// (and what openapi.json at the repository root holds), covers every route with every status it
// answers, and the interactive documentation loads nothing from another origin. (That each
// response matches the document is checked on every request of this tier: test/helpers/app.ts.)

import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { openApiDocument, openApiText } from '../../src/cli/openapi.js';
import { OPENAPI_PATH } from '../helpers/openapi.js';
import { useTestApp } from './support.js';

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: { anyOf?: { examples?: unknown[] }[] } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; description?: string }>; schemas: Record<string, unknown> };
}

/** Every route of the service and the statuses it can answer; a new route or status is added here on purpose. */
const ROUTES: Record<string, number[]> = {
  'post /webhook': [200, 401, 408, 413, 422, 503],
  'get /webhook': [200, 403],
  'get /messages': [200, 401, 422, 503],
  'get /messages/{message_id}': [200, 400, 401, 404, 503],
  'delete /messages/{message_id}': [204, 400, 401, 403, 404, 503],
  'get /messages/export': [200, 401, 422, 503],
  'get /dead-letters': [200, 401, 422, 503],
  'get /stats': [200, 401, 503],
  'get /conversations': [200, 401, 422, 503],
  'delete /conversations': [200, 401, 403, 422, 503],
  'get /stats/timeseries': [200, 401, 422, 503],
  'get /feed': [200, 401, 422, 503],
  'get /events': [200, 401, 406, 422, 503],
  'get /health/live': [200],
  'get /health/ready': [200, 503],
  'get /metrics': [200],
  'get /openapi.json': [200],
};

const EXPORT_TYPES = ['application/x-ndjson', 'text/csv'];

describe('GET /openapi.json', () => {
  const app = useTestApp({ API_TOKEN: 'read-token' });

  it('is open without a token, valid OpenAPI 3.1, and the same document as openapi.json in the repository', async () => {
    const res = await app().app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const served = res.json<Document>();
    expect(served.openapi).toBe('3.1.0');
    const verdict = await new Validator().validate(res.json<Record<string, unknown>>());
    expect(verdict.errors ?? []).toEqual([]);
    expect(verdict.valid).toBe(true);
    expect(served).toEqual(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')));
  });

  it('openapi.json is up to date: `npm run openapi` would write exactly what is committed', async () => {
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(openApiText(await openApiDocument()));
  });

  it('documents every route with every status it answers, each with a schema', async () => {
    const document = (await app().app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
    const documented: Record<string, number[]> = {};
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        documented[`${method} ${path}`] = Object.keys(operation.responses).map(Number);
        for (const [status, response] of Object.entries(operation.responses)) {
          expect(response.description, `${method} ${path} ${status}`).not.toBe('Default Response');
          // One media type each, except where the answer has none (204) or several (an export's formats).
          const mediaTypes = status === '204' ? [] : path === '/messages/export' && status === '200' ? EXPORT_TYPES : null;
          if (mediaTypes === null) expect(Object.keys(response.content ?? {}).length, `${method} ${path} ${status}`).toBe(1);
          else expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(mediaTypes);
        }
      }
    }
    expect(documented).toEqual(ROUTES);
  });

  it('describes the three webhook signatures and bearer auth, and which routes need which', async () => {
    const document = (await app().app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
    const schemes = document.components.securitySchemes;
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [name, header] of [
      ['xSignature', 'X-Signature'],
      ['metaSignature', 'X-Hub-Signature-256'],
      ['standardWebhooks', 'webhook-signature'],
    ] as const) {
      expect(schemes[name]).toMatchObject({ type: 'apiKey', in: 'header', name: header });
      // How to compute it, with a worked example.
      expect(schemes[name]?.description).toMatch(/HMAC-SHA256/);
      expect(schemes[name]?.description).toMatch(/Example/);
    }
    expect(document.paths['/webhook']?.post?.security).toEqual([
      { xSignature: [] },
      { metaSignature: [] },
      { standardWebhooks: [] },
    ]);
    for (const path of ['/messages', '/messages/{message_id}', '/messages/export', '/dead-letters', '/stats']) {
      expect(document.paths[path]?.get?.security, path).toEqual([{ bearerAuth: [] }]);
    }
    // Erasure takes the admin token, a scheme of its own: a read token is not enough.
    expect(schemes.adminBearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.adminBearerAuth?.description).toMatch(/ADMIN_TOKEN/);
    for (const path of ['/messages/{message_id}', '/conversations']) {
      expect(document.paths[path]?.delete?.security, path).toEqual([{ adminBearerAuth: [] }]);
    }
    for (const path of ['/health/live', '/health/ready', '/metrics', '/openapi.json']) {
      expect(document.paths[path]?.get?.security, path).toBeUndefined();
    }
    // Both webhook bodies come with an example.
    const bodies = document.paths['/webhook']?.post?.requestBody?.content['application/json']?.schema.anyOf ?? [];
    expect(bodies).toHaveLength(2);
    for (const body of bodies) expect(body.examples?.length).toBeGreaterThan(0);
  });
});

describe('GET /docs', () => {
  const app = useTestApp({ API_TOKEN: 'read-token' });

  it('serves the interactive documentation with every asset from this server, and a CSP that allows nothing else', async () => {
    const t = app();
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:|unsafe-inline/);

    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(3);
    for (const asset of assets) {
      // Same origin: a path on this server, never another host.
      expect(asset, asset).toMatch(/^\/docs\//);
      const res = await t.app.inject({ method: 'GET', url: asset });
      expect(res.statusCode, asset).toBe(200);
      expect(res.body.length, asset).toBeGreaterThan(0);
    }
    // No inline script: the page's scripts are all files.
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
