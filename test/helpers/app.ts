// Builds the real app (the same buildApp as production) on a fresh store, with its log lines
// captured for assertions. The store is the one TEST_STORE names (set per vitest project): the
// HTTP tier is one suite run once on SQLite and once on PostgreSQL.

import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { MessageStore } from '../../src/store/store.js';
import { checkDocumentedResponse } from './openapi.js';
import type { TestDatabase } from './postgres.js';
import { hmacHex } from './sign.js';
import { tempDir } from './tmp.js';
import { compiledReaderUrl, compiledWriterUrl } from './writer.js';

export const TEST_SECRET = 'test-secret';

/**
 * Every response the HTTP tier receives through app.inject is checked against openapi.json for its
 * route and status (test/helpers/openapi.ts): a test that gets an undocumented answer fails.
 */
function checkEveryResponse(app: FastifyInstance): void {
  const inject = app.inject.bind(app);
  const checked = async (options: InjectOptions | string): Promise<LightMyRequestResponse> => {
    const response = await inject(options);
    const request = typeof options === 'string' ? { method: 'GET', url: options } : options;
    const url = typeof request.url === 'string' ? request.url : String(request.path ?? '/');
    const contentType = response.headers['content-type'];
    checkDocumentedResponse({
      method: String(request.method ?? 'GET'),
      url,
      statusCode: response.statusCode,
      contentType: typeof contentType === 'string' ? contentType : undefined,
      body: response.body,
    });
    return response;
  };
  app.inject = checked as typeof app.inject;
}

export type TestStoreKind = 'sqlite' | 'postgres';

/** The store the HTTP tier runs on: TEST_STORE=sqlite (the default) or TEST_STORE=postgres. */
export function testStoreKind(): TestStoreKind {
  const kind = process.env.TEST_STORE ?? 'sqlite';
  if (kind !== 'sqlite' && kind !== 'postgres') throw new Error(`TEST_STORE must be sqlite or postgres, not ${kind}`);
  return kind;
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: MessageStore;
  readonly storeKind: TestStoreKind;
  readonly config: Config;
  /** Every log line written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** POST /webhook with a correct signature over exactly `body`. */
  postSigned(body: string | Buffer | object, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** What a test may set of the app besides its environment. */
export interface TestAppOptions {
  /** The built dashboard the app serves at / (default dist/web). */
  readonly dashboardDir?: string;
}

/**
 * `env` is merged over WEBHOOK_SECRET=TEST_SECRET and a fresh store; pass WEBHOOK_SECRET: '' to
 * unset it. On PostgreSQL, `postgres` is the database to use; it is emptied first.
 */
export async function makeTestApp(
  env: Record<string, string> = {},
  postgres?: TestDatabase,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const storeKind = testStoreKind();
  const tmp = tempDir();
  let databaseUrl = `sqlite:///${path.join(tmp.dir, 'test.db')}`;
  if (storeKind === 'postgres') {
    if (postgres === undefined) throw new Error('makeTestApp on PostgreSQL needs a test database (see useTestApp)');
    await postgres.reset();
    databaseUrl = postgres.url;
  }
  const config = loadConfig({ WEBHOOK_SECRET: TEST_SECRET, DATABASE_URL: databaseUrl, LOG_LEVEL: 'DEBUG', ...env }, tmp.dir);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line));
      callback();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  // As in production. SQLite: reads on READ_WORKERS reader threads, commits on the writer thread;
  // the threads run the compiled files in dist/ (tests run the sources).
  const store =
    config.database.kind === 'sqlite'
      ? await SqliteStore.open({
          path: config.database.path,
          writerThread: compiledWriterUrl,
          readWorkers: config.readWorkers,
          readerThread: compiledReaderUrl,
          readTimeoutMs: config.readTimeoutMs,
        })
      : await openStore(config, logger);
  const app = await buildApp({ config, store, logger, ...options });
  checkEveryResponse(app);
  return {
    app,
    store,
    storeKind,
    config,
    logs,
    postSigned(body, headers = {}) {
      const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      return app.inject({
        method: 'POST',
        url: '/webhook',
        payload: raw,
        headers: { 'content-type': 'application/json', 'x-signature': hmacHex(TEST_SECRET, raw), ...headers },
      });
    },
    async close() {
      await app.close();
      await store.close();
      tmp.cleanup();
    },
  };
}
