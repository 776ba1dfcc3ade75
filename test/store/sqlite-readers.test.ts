// SQLite reader threads beyond the store contract (which sqlite.test.ts runs on them too): a read
// that passes its time limit is stopped and its thread replaced, the queue of waiting reads is
// bounded, close() lets the reads in flight finish and leaves no thread behind, and exports read
// on a connection of their own with a small page cache.

import { execFile } from 'node:child_process';
import { copyFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/store/sqlite/connection.js';
import { SqliteReaderPool } from '../../src/store/sqlite/reader-pool.js';
import type { ReadRequest } from '../../src/store/sqlite/reads.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { QueryTimeout, ReadersBusy, StoreUnavailable } from '../../src/store/store.js';
import { bulkInsertSqlite } from '../helpers/bulk.js';
import { PROJECT_ROOT } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledReaderUrl } from '../helpers/writer.js';
import { incoming } from './contract.js';

/** Enough rows that a two-character search, which no index serves, scans for tens of milliseconds. */
const ROWS = 200_000;
/** No bulk text holds a "z": the search scans every row and finds nothing. */
const SLOW: ReadRequest<'messages'> = { kind: 'messages', filter: { q: 'zq' }, page: { limit: 50, offset: 0 } };
const GENEROUS_MS = 60_000;

const tmp = tempDir('webhook-inbox-readers-');
const template = path.join(tmp.dir, 'template.db');
let copies = 0;

/** A fresh copy of the large file, for one test. */
function largeFile(): string {
  const file = path.join(tmp.dir, `large-${copies++}.db`);
  copyFileSync(template, file);
  return file;
}

beforeAll(() => {
  openConnection(template).close();
  bulkInsertSqlite(template, ROWS);
}, 60_000);
afterAll(() => tmp.cleanup());

async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await sleep(10);
  }
}

describe('a read past its time limit', () => {
  it('rejects with QueryTimeout', async () => {
    const store = await SqliteStore.open({
      path: largeFile(),
      readWorkers: 1,
      readerThread: compiledReaderUrl,
      readTimeoutMs: 1,
    });
    try {
      await expect(store.listMessages(SLOW.filter, SLOW.page)).rejects.toBeInstanceOf(QueryTimeout);
    } finally {
      await store.close();
    }
  });

  it('is stopped and its thread replaced at once: the next read on the pool is answered', async () => {
    const pool = new SqliteReaderPool({ file: largeFile(), workerUrl: compiledReaderUrl, size: 1, maxWaiting: 4 });
    try {
      await pool.start();
      await expect(pool.run(SLOW, 1)).rejects.toBeInstanceOf(QueryTimeout);
      // The stopped thread exits once SQLite returns from its scan; its replacement is already there.
      expect(pool.threads).toBeLessThanOrEqual(2);
      const stats = await pool.run({ kind: 'stats', topSenders: 1 }, GENEROUS_MS);
      expect(stats.totalMessages).toBe(ROWS);
      expect(await pool.run(SLOW, GENEROUS_MS)).toEqual({ data: [], total: 0, hasMore: false });
      await eventually(() => pool.threads === 1, 'the stopped thread exits');
    } finally {
      await pool.close();
    }
    expect(pool.threads).toBe(0);
  });
});

describe('the reads waiting for a thread', () => {
  it('are bounded: one more is refused at once with ReadersBusy (503), the others are answered', async () => {
    const store = await SqliteStore.open({
      path: largeFile(),
      readWorkers: 1,
      readerThread: compiledReaderUrl,
      readTimeoutMs: GENEROUS_MS,
      maxWaitingReads: 2,
    });
    try {
      // One runs, two wait.
      const settled: boolean[] = [];
      const admitted = [0, 1, 2].map((i) => {
        settled[i] = false;
        return store.listMessages(SLOW.filter, SLOW.page).finally(() => {
          settled[i] = true;
        });
      });
      const refused = await store.listDeadLetters({ limit: 1, offset: 0 }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ReadersBusy);
      expect(refused).toBeInstanceOf(StoreUnavailable);
      expect(settled).toEqual([false, false, false]);
      for (const page of await Promise.all(admitted)) expect(page).toEqual({ data: [], total: 0, hasMore: false });
      // Room again.
      expect((await store.listDeadLetters({ limit: 1, offset: 0 })).total).toBe(0);
      // A message and /stats are index lookups answered on the calling thread: never queued behind scans.
      expect((await store.stats(1)).totalMessages).toBe(ROWS);
    } finally {
      await store.close();
    }
  });
});

describe('close()', () => {
  it('lets the reads in flight finish, then refuses new ones', async () => {
    const store = await SqliteStore.open({ path: largeFile(), readWorkers: 2, readerThread: compiledReaderUrl });
    const reading = [store.listMessages(SLOW.filter, SLOW.page), store.stats(3), store.listMessages(SLOW.filter, SLOW.page)];
    const closing = store.close();
    const answers = await Promise.all(reading);
    expect(answers[0]).toEqual({ data: [], total: 0, hasMore: false });
    await closing;
    await expect(store.stats(1)).rejects.toThrow(/closed/);
  });

  it('leaves no thread running: a process that closes its store exits by itself', async () => {
    // The compiled store, as the server runs it, with its default thread files next to it in dist/.
    // A file, not `node -e`: threads inherit the parent's flags, and --input-type would stop them.
    const script = path.join(tmp.dir, 'close.mjs');
    writeFileSync(
      script,
      `import { SqliteStore } from ${JSON.stringify(pathToFileURL(path.join(PROJECT_ROOT, 'dist/store/sqlite/store.js')).href)};
      const store = await SqliteStore.open({ path: process.argv[2], readWorkers: 2 });
      const [stats] = await Promise.all([store.stats(1), store.listMessages({ q: 'zq' }, { limit: 1, offset: 0 })]);
      await store.close();
      process.stdout.write(String(stats.totalMessages));`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script, largeFile()], { timeout: 20_000 });
    expect(stdout).toBe(String(ROWS));
  }, 30_000);
});

/** How many descriptors of this process (every thread's) are open on `file`: one per connection. Linux only. */
function connectionsTo(file: string): number {
  let open = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) open++;
    } catch {
      // Closed meanwhile.
    }
  }
  return open;
}

describe('exports', () => {
  it("read on a connection with a small page cache, not the reads' 64 MiB", () => {
    const file = path.join(tmp.dir, 'roles.db');
    const reader = openConnection(file);
    const exporter = openConnection(file, 'export', { mustExist: true });
    try {
      expect(reader.pragma('cache_size', { simple: true })).toBe(-65536);
      expect(exporter.pragma('cache_size', { simple: true })).toBe(-2048);
    } finally {
      exporter.close();
      reader.close();
    }
  });

  it.runIf(process.platform === 'linux')(
    'open that connection with the first export, on a reader thread or on the calling thread, keep it for the next, and close it with the store',
    async () => {
      for (const readWorkers of [1, 0]) {
        const file = largeFile();
        const store = await SqliteStore.open({ path: file, readWorkers, readerThread: compiledReaderUrl });
        let before: number;
        try {
          // The store's connection, and the reader thread's.
          before = connectionsTo(file);
          expect(before).toBe(1 + readWorkers);
          await store.listMessages({}, { limit: 10, offset: 0 });
          expect(connectionsTo(file), 'other reads use the connections there are').toBe(before);
          const first = await store.exportMessages({}, { limit: 100 });
          expect(first).toHaveLength(100);
          expect(connectionsTo(file), 'the first export opens one').toBe(before + 1);
          const last = first.at(-1);
          if (last === undefined) throw new Error('no rows');
          const next = await store.exportChunk(
            {},
            { after: { tsKey: last.tsKey, messageId: last.messageId }, limit: 100 },
            'ndjson',
          );
          const ids = Buffer.from(next.bytes)
            .toString('utf8')
            .trimEnd()
            .split('\n')
            .map((line) => (JSON.parse(line) as { message_id: string }).message_id);
          expect(ids).toEqual((await store.listMessages({}, { limit: 100, offset: 100 })).data.map((m) => m.messageId));
          expect(connectionsTo(file), 'the next export, formatted where it is read, reuses it').toBe(before + 1);
        } finally {
          await store.close();
        }
        expect(connectionsTo(file), `readWorkers ${readWorkers}: every connection closed`).toBe(0);
      }
    },
  );
});

describe('a store on ":memory:"', () => {
  it('reads on the calling thread, whatever readWorkers says: no other connection could see it', async () => {
    const store = await SqliteStore.open({ path: ':memory:', readWorkers: 2, readerThread: compiledReaderUrl });
    try {
      await store.insertMany([incoming('m1')]);
      expect((await store.listMessages({}, { limit: 10, offset: 0 })).total).toBe(1);
    } finally {
      await store.close();
    }
  });
});
