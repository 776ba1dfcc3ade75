// The dashboard: GET / answers its page and GET /assets/* its script and stylesheet, built from
// web/ into dist/web/ by `npm run build`. Both are open, like /docs: they hold no stored data;
// the page reads everything through the token-guarded API, from this origin only.
//
// The routes are hidden from the OpenAPI document: they serve a page and files, not the API.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/** dist/web of the checkout or image: two folders up from src/http and from dist/http alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/**
 * Everything the page loads comes from this origin; no inline script or style, no framing, no
 * plugin, no <base>. (uPlot sets element styles through the CSSOM, which style-src does not cover.)
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A year, with `immutable`: asset names carry their content's hash, so a name never changes content. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';

const NOT_BUILT =
  'The dashboard is not built in this installation: run `npm run build` (or start the service with `npm start`, which builds it).\n';

export interface DashboardOptions {
  /** The folder with index.html and assets/ (default: dist/web). */
  readonly dir?: string;
}

/** Status of an error thrown by the static file sender (http-errors: `status` or `statusCode`). */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

export async function dashboardRoutes(app: FastifyInstance, { dir = DEFAULT_DASHBOARD_DIR }: DashboardOptions): Promise<void> {
  const indexFile = path.join(dir, 'index.html');

  // The file sender answers a path it refuses (`..`, a NUL byte, an unsatisfiable range) with an
  // error of its own kind: it stays the client's 4xx here instead of reaching the app's handler as
  // an unknown error (a 500). A hidden file is not found, like any other absent file.
  app.setErrorHandler((error, _request, reply) => {
    const status = statusOf(error);
    if (status === undefined || status < 400 || status >= 500) throw error;
    if (status === 403) return reply.code(404).send({ detail: 'Not Found' });
    return reply.code(status).send({ detail: error instanceof Error ? error.message : 'bad request' });
  });

  app.get(
    '/',
    {
      schema: {
        hide: true,
        response: {
          200: Type.String({ description: 'The dashboard page (text/html).' }),
          503: Type.String({ description: 'The dashboard is not built (text/plain).' }),
        },
      },
    },
    async (_request, reply) => {
      let html: string;
      try {
        // Read at each request (it is half a kilobyte): a rebuild while the server runs is served at once.
        html = await readFile(indexFile, 'utf8');
      } catch {
        return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
      }
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', DASHBOARD_CSP)
        .header('x-frame-options', 'DENY')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(html);
    },
  );

  await app.register(fastifyStatic, {
    root: path.join(dir, 'assets'),
    prefix: '/assets/',
    // This plugin's own reply.sendFile: /docs registers the same plugin in its context.
    decorateReply: false,
    index: false,
    list: false,
    dotfiles: 'deny',
    // The .gz and .br beside each asset, written at build, when the browser takes them.
    preCompressed: true,
    cacheControl: false,
    setHeaders: (res) => {
      res.setHeader('cache-control', ASSET_CACHE);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('vary', 'accept-encoding');
    },
  });
}
