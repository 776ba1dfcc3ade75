// Reads that take long on a large table: a two-character ?q= is served by no index and scans every
// row. On SQLite they run on reader threads, so load shedding, which watches the event loop, never
// refuses a webhook because of them, and reads beyond what the threads can take are shed instead.
// On both stores a read past READ_TIMEOUT_MS answers 503 "query took too long".

import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/store/sqlite/connection.js';
import { makeTestApp, type TestApp, testStoreKind } from '../helpers/app.js';
import { bulkInsertPostgres, bulkInsertSqlite } from '../helpers/bulk.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { message, sampleValue, scrape, storedCount } from './support.js';

/** SQLite scans these in tens of milliseconds per statement; PostgreSQL, a few. */
const ROWS = { sqlite: 200_000, postgres: 50_000 } as const;
/** No stored text holds a "z": the search scans every row and finds nothing. */
const SLOW_READ = '/messages?q=zq';

/**
 * Like useTestApp, on a store that already holds ROWS messages. SQLite: a copy of one file filled
 * once for the whole file; PostgreSQL: this block's database, emptied and filled for each test.
 */
function useLargeApp(env: Record<string, string>): () => TestApp {
  const kind = testStoreKind();
  const database = kind === 'postgres' ? useTestDatabase('reads') : null;
  const tmp = tempDir('webhook-inbox-slow-reads-');
  const template = path.join(tmp.dir, 'template.db');
  let copies = 0;
  let current: TestApp | undefined;
  beforeAll(() => {
    if (kind !== 'sqlite') return;
    openConnection(template).close();
    bulkInsertSqlite(template, ROWS.sqlite);
  }, 60_000);
  afterAll(() => tmp.cleanup());
  beforeEach(async () => {
    if (database === null) {
      const file = path.join(tmp.dir, `large-${copies++}.db`);
      copyFileSync(template, file);
      current = await makeTestApp({ ...env, DATABASE_URL: `sqlite:///${file}` });
    } else {
      const db = await database();
      current = await makeTestApp(env, db);
      await bulkInsertPostgres(db.url, ROWS.postgres);
    }
  }, 60_000);
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('useLargeApp: the app exists only inside a test');
    return current;
  };
}

function get(t: TestApp, url: string): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url });
}

describe.skipIf(testStoreKind() !== 'sqlite')('slow reads on SQLite with MAX_EVENT_LOOP_DELAY_MS=200', () => {
  // READ_WORKERS is left at its default (2). With READ_WORKERS=0 the scans run on the event loop
  // and this test fails: nearly every webhook is shed with 503.
  const app = useLargeApp({ MAX_EVENT_LOOP_DELAY_MS: '200', READ_TIMEOUT_MS: '60000' });

  it('never get a webhook shed: 10 clients searching while webhooks arrive, every webhook answers 200', async () => {
    const t = app();
    const until = Date.now() + 3_500; // three of load shedding's one-second samples, and some
    const readStatuses: number[] = [];
    const reader = async () => {
      while (Date.now() < until) {
        readStatuses.push((await get(t, SLOW_READ)).statusCode);
        // A client's next request arrives as I/O does, in a later turn of the event loop.
        await nextTurn();
      }
    };
    // Webhooks arrive at their own pace, as from a provider, whether or not earlier ones have been answered.
    const webhooks: Promise<LightMyRequestResponse>[] = [];
    const sender = async () => {
      for (let i = 0; Date.now() < until; i++) {
        webhooks.push(t.postSigned(message({ message_id: `during-${i}` })));
        await sleep(20);
      }
    };
    await Promise.all([sender(), ...Array.from({ length: 10 }, reader)]);
    const webhookStatuses = (await Promise.all(webhooks)).map((res) => res.statusCode);

    expect(webhookStatuses.length).toBeGreaterThan(20);
    expect(webhookStatuses.filter((status) => status !== 200)).toEqual([]);
    expect(readStatuses.length).toBeGreaterThanOrEqual(10);
    expect(readStatuses.filter((status) => status !== 200)).toEqual([]);
    expect(await storedCount(t)).toBe(ROWS.sqlite + webhookStatuses.length);
  }, 60_000);
});

describe.skipIf(testStoreKind() !== 'sqlite')('reads beyond what the reader threads can take (READ_WORKERS=1)', () => {
  const app = useLargeApp({ READ_WORKERS: '1' });

  it('are shed at once with 503, the others answered', async () => {
    const t = app();
    // All arrive together: one holds the one thread, 64 may wait for it, and the rest are refused.
    const responses = await Promise.all([get(t, SLOW_READ), ...Array.from({ length: 80 }, () => get(t, '/dead-letters'))]);
    const shed = responses.filter((res) => res.statusCode === 503);
    expect(shed.length).toBeGreaterThanOrEqual(responses.length - 1 - 64);
    for (const res of shed) expect(res.json()).toEqual({ detail: 'too many reads in progress; retry later' });
    expect(responses.filter((res) => res.statusCode !== 503).map((res) => res.statusCode)).toEqual(
      Array.from({ length: responses.length - shed.length }, () => 200),
    );
    const samples = await scrape(t);
    expect(sampleValue(samples, 'read_queries_refused_total', { reason: 'busy' })).toBe(shed.length);
    expect(sampleValue(samples, 'read_queries_refused_total', { reason: 'timeout' })).toBe(0);
  });
});

describe('a read past READ_TIMEOUT_MS=1', () => {
  const app = useLargeApp({ READ_TIMEOUT_MS: '1' });

  it('answers 503 "query took too long"; webhooks, which have their own limit, are still stored', async () => {
    const t = app();
    const res = await get(t, SLOW_READ);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ detail: 'query took too long' });
    expect(sampleValue(await scrape(t), 'read_queries_refused_total', { reason: 'timeout' })).toBe(1);
    expect((await t.postSigned(message({ message_id: 'after-timeout' }))).statusCode).toBe(200);
  });
});
