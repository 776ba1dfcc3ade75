// Builds the real app (the same buildApp as production) on a fresh SQLite file, with its log
// lines captured for assertions.

import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { MessageStore } from '../../src/store/store.js';
import { hmacHex } from './sign.js';
import { tempDir } from './tmp.js';
import { compiledWriterUrl } from './writer.js';

export const TEST_SECRET = 'test-secret';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: MessageStore;
  readonly config: Config;
  readonly dbPath: string;
  /** Every log line written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** POST /webhook with a correct signature over exactly `body`. */
  postSigned(body: string | Buffer | object, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** `env` is merged over WEBHOOK_SECRET=TEST_SECRET and a fresh sqlite file; pass WEBHOOK_SECRET: '' to unset it. */
export async function makeTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const tmp = tempDir();
  const dbPath = path.join(tmp.dir, 'test.db');
  const config = loadConfig(
    { WEBHOOK_SECRET: TEST_SECRET, DATABASE_URL: `sqlite:///${dbPath}`, LOG_LEVEL: 'DEBUG', ...env },
    tmp.dir,
  );
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line));
      callback();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  // As in production: reads on this thread, commits on the writer thread.
  const store = await SqliteStore.open({
    path: config.database.kind === 'sqlite' ? config.database.path : dbPath,
    writerThread: compiledWriterUrl,
  });
  const app = await buildApp({ config, store, logger });
  return {
    app,
    store,
    config,
    dbPath,
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
