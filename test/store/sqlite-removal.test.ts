// SQLite erasure and retention beyond the contract: an erased text gone from the database file and
// its log soon after (secure_delete, FTS5's secure-delete and a truncating checkpoint, tried again
// while a reader holds the log back), the trigram index agreeing with what is left, retention
// batches on the writer thread between webhook commits, the plans that find rows by age, and the
// upgrade of a file from schema 6.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { removalCounts } from '../../src/store/retention.js';
import { RemovalCheckpoint } from '../../src/store/sqlite/checkpoint.js';
import { OLDEST_RECEIVED_AT } from '../../src/store/sqlite/reads.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/store.js';
import { PURGE_CANDIDATES } from '../../src/store/sqlite/writer.js';
import { foldCase, type IncomingMessage } from '../../src/store/store.js';
import { fileAtRelease } from '../helpers/sqlite-release.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledWriterUrl } from '../helpers/writer.js';
import { incoming, pick, seededRandom, statusOf, whatsappOrigin } from './contract.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A store on a fresh file, closed and removed after the test. */
async function openStore(options: Omit<SqliteStoreOptions, 'path'> = {}): Promise<{ store: SqliteStore; file: string }> {
  const tmp = tempDir('webhook-inbox-removal-');
  cleanups.push(tmp.cleanup);
  const file = path.join(tmp.dir, 'messages.db');
  const store = await SqliteStore.open({ path: file, ...options });
  cleanups.push(() => store.close());
  return { store, file };
}

/** Runs `read` on a connection of the test's own, which it closes again. */
function onConnection<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

async function until(done: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Rows not yet in the trigram index. */
function unindexed(file: string): number {
  return onConnection(file, (db) =>
    Number(
      db.prepare('SELECT (SELECT coalesce(max(id), 0) FROM messages) - indexed_upto FROM text_index_progress').pluck().get(),
    ),
  );
}

/** The bytes of the database file and of its log. */
function fileBytes(file: string): Buffer {
  const wal = statSync(`${file}-wal`, { throwIfNoEntry: false }) === undefined ? Buffer.alloc(0) : readFileSync(`${file}-wal`);
  return Buffer.concat([readFileSync(file), wal]);
}

function walSize(file: string): number {
  return statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * A text of its own for message `i`: a marker no other text holds, and a trigram (three CJK
 * characters around it) that no other text holds either, so the index's vocabulary shows it.
 */
function secret(i: number): { marker: string; trigram: string; text: string } {
  const marker = `Zq${i.toString(36).padStart(4, '0')}Xj`;
  const trigram = `${String.fromCodePoint(0x4e00 + i)}${String.fromCodePoint(0x5e00 + i)}${String.fromCodePoint(0x6e00 + i)}`;
  return { marker, trigram, text: `secret ${marker} ${trigram} end` };
}

/** Whether the trigram index still knows a term, and every entry of it agrees with the messages. */
function indexKnows(file: string, term: string): boolean {
  return onConnection(file, (db) => {
    db.exec('CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, messages_trigrams, row)');
    return db.prepare('SELECT doc FROM temp.vocabulary WHERE term = ?').pluck().get(term) !== undefined;
  });
}

function checkIndex(file: string): void {
  // Throws (SQLITE_CORRUPT_VTAB) when an entry names a row that is gone or holds other text.
  onConnection(file, (db) =>
    db.prepare("INSERT INTO messages_trigrams (messages_trigrams, rank) VALUES ('integrity-check', 1)").run(),
  );
}

const MODES = [
  { mode: 'on the writer thread', writerThread: compiledWriterUrl },
  { mode: 'inline', writerThread: undefined },
] as const;

describe.each(MODES)('SQLite erasure and retention $mode', ({ writerThread }) => {
  const threadOption = writerThread === undefined ? {} : { writerThread };

  it('leaves no byte of an erased text in the database file or its log once the checkpoint has run', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const { store, file } = await openStore({
      ...threadOption,
      checkpointDelayMs: 200,
      checkpointSpacingMs: 200,
      now: () => new Date(now),
    });
    const random = seededRandom(14);
    const messages: IncomingMessage[] = [];
    for (let i = 0; i < 3000; i++) {
      const { marker, text } = secret(i);
      const m = incoming(`m${i}`, { from: `+${i % 40}`, to: '+2', text, type: 'text' });
      // Some carry their text in what the provider sent too, and a contact name of their own.
      messages.push(i % 3 === 0 ? { ...m, origin: whatsappOrigin(m, { contactName: `Name ${marker}` }) } : m);
    }
    for (let i = 0; i < messages.length; i += 300) {
      now += 1000;
      await store.insertMany(messages.slice(i, i + 300));
    }
    await store.storeDelivery({
      messages: [],
      statuses: [statusOf('m5', 'read', { errors: '[{"title":"secret Zq0005Xj"}]' })],
      deadLetters: [],
      source: 'whatsapp',
    });
    await until(() => unindexed(file) === 0, 'the text index has caught up');

    const victims = new Set<number>();
    while (victims.size < 30) victims.add(Math.floor(random() * messages.length));
    victims.add(5);
    expect(indexKnows(file, secret(5).trigram)).toBe(true);
    for (const i of victims) expect(await store.eraseMessage(`m${i}`)).toMatchObject({ messages: 1 });
    // A whole sender, and the oldest batch by retention.
    expect((await store.eraseConversation({ from: '+7', to: '+2' })).messages).toBeGreaterThan(60);
    for (let i = 7; i < messages.length; i += 40) victims.add(i);
    let purged = 0;
    for (;;) {
      const removal = await store.purge(new Date(Date.parse('2030-01-01T00:00:01.500Z')).toISOString(), 50);
      if (removal === null || removal.messages === 0) break;
      purged += removal.messages;
    }
    for (let i = 0; i < 300; i++) victims.add(i);
    expect(purged).toBeGreaterThan(200);

    // Each marker, and the last two characters of each unique trigram: what the index's pages
    // keep of a term (the start of a term that shares it with the one before is not repeated).
    const erased = [...victims].flatMap((i) => [Buffer.from(secret(i).marker), Buffer.from(secret(i).trigram.slice(1))]);
    await until(() => {
      const bytes = fileBytes(file);
      return erased.every((marker) => !bytes.includes(marker));
    }, 'no erased marker is left in the files');
    expect(walSize(file)).toBe(0);
    // What was kept is still there, in the very file just read: the search above could find it.
    const bytes = fileBytes(file);
    const kept = messages.map((_, i) => i).filter((i) => !victims.has(i));
    expect(kept.length).toBeGreaterThan(2000);
    for (const i of kept.slice(0, 50)) expect(bytes.includes(Buffer.from(secret(i).marker)), `m${i} kept`).toBe(true);

    // The index knows none of their trigrams, and agrees with every message left.
    checkIndex(file);
    for (const i of [5, ...[...victims].slice(0, 20)])
      expect(indexKnows(file, secret(i).trigram), `trigram of m${i}`).toBe(false);
    for (const i of kept.slice(0, 20)) expect(indexKnows(file, secret(i).trigram), `trigram of m${i}`).toBe(true);
    expect((await store.listMessages({ q: secret(kept[0] ?? 0).marker }, { limit: 5, offset: 0 })).total).toBe(1);
    expect((await store.listMessages({ q: 'secret' }, { limit: 1, offset: 0 })).total).toBe(kept.length);
  });

  it('keeps searches exact when the newest rows, indexed or not, are removed and new ones take their ids', async () => {
    const { store, file } = await openStore(threadOption);
    await store.insertMany(Array.from({ length: 20 }, (_, i) => incoming(`a${i}`, { text: `first needle ${i}` })));
    await until(() => unindexed(file) === 0, 'the text index has caught up');
    // The newest rows go, and new ones take ids the index had already passed.
    for (let i = 10; i < 20; i++) await store.eraseMessage(`a${i}`);
    await store.insertMany(Array.from({ length: 15 }, (_, i) => incoming(`b${i}`, { text: `second needle ${i}` })));
    expect((await store.listMessages({ q: 'needle' }, { limit: 100, offset: 0 })).total).toBe(25);
    expect((await store.listMessages({ q: 'second needle' }, { limit: 100, offset: 0 })).total).toBe(15);
    await until(() => unindexed(file) === 0, 'the text index has caught up');
    checkIndex(file);
    expect((await store.listMessages({ q: 'needle' }, { limit: 100, offset: 0 })).total).toBe(25);
    expect((await store.listMessages({ q: 'second needle' }, { limit: 100, offset: 0 })).total).toBe(15);
  });
});

describe('SQLite checkpoint after an erasure', () => {
  it('is tried again while a reader holds the log back, and cuts the log once the reader is done', async () => {
    const { store, file } = await openStore({
      writerThread: compiledWriterUrl,
      checkpointDelayMs: 100,
      checkpointSpacingMs: 100,
    });
    await store.insertMany(Array.from({ length: 200 }, (_, i) => incoming(`m${i}`, { text: secret(i).text })));
    await until(() => unindexed(file) === 0, 'the text index has caught up');

    const reader = new Database(file);
    cleanups.push(() => {
      if (reader.open) reader.close();
    });
    // A read transaction from before the erasure: its snapshot still needs the log.
    reader.exec('BEGIN');
    expect(reader.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(200);
    expect(await store.eraseMessage('m42')).toEqual({ messages: 1, statuses: 0, deadLetters: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(walSize(file), 'the log, which the reader holds').toBeGreaterThan(0);
    expect(fileBytes(file).includes(Buffer.from(secret(42).marker))).toBe(true);

    reader.exec('COMMIT');
    reader.close();
    await until(() => walSize(file) === 0, 'the log is cut', 10_000);
    expect(fileBytes(file).includes(Buffer.from(secret(42).marker))).toBe(false);
  });
});

describe('SQLite checkpoints during a stream of removals', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('come delayMs after a lone removal, and at most one per spacingMs while removals keep coming', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const tmp = tempDir('webhook-inbox-checkpoint-');
    cleanups.push(tmp.cleanup);
    const file = path.join(tmp.dir, 'log.db');
    const db = new Database(file);
    cleanups.push(() => {
      if (db.open) db.close();
    });
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x TEXT)');
    let now = 1_000_000;
    const checkpoint = new RemovalCheckpoint(db, { delayMs: 5000, spacingMs: 20_000, now: () => now });
    /** A removal: a row goes (the log grows), then the checkpoint hears of it. */
    const remove = () => {
      db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(5000));
      db.exec('DELETE FROM t');
      checkpoint.removed();
    };
    const wait = (ms: number) => {
      now += ms;
      vi.advanceTimersByTime(ms);
    };

    remove();
    wait(4999);
    expect(walSize(file), 'before delayMs').toBeGreaterThan(0);
    wait(1);
    expect(walSize(file), 'delayMs after a lone removal').toBe(0);

    // A retention pass: a batch every 100 ms for a minute.
    const cut: number[] = [];
    for (let t = 0; t < 60_000; t += 100) {
      remove();
      wait(100);
      if (walSize(file) === 0) cut.push(t);
    }
    // Spaced by 20 s from the one at the start (5 s in): cut at 19.9 s and 39.9 s of the pass
    // (the batches before each having grown the log again), where delayMs alone would have cut
    // it every 5 s.
    expect(cut).toEqual([19_900, 39_900, 59_900]);

    // Quiet for longer than the spacing: a lone removal is delayMs away again.
    wait(30_000);
    remove();
    wait(5000);
    expect(walSize(file)).toBe(0);
    checkpoint.close();
  });
});

describe('SQLite retention on the writer thread', () => {
  it('runs batches between webhook commits, each its own transaction, every aggregate exact after', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const { store } = await openStore({ writerThread: compiledWriterUrl, now: () => new Date(now) });
    const old = Array.from({ length: 400 }, (_, i) => incoming(`old${i}`, { from: `+${i % 7}`, to: `+${i % 3}` }));
    for (let i = 0; i < old.length; i += 100) await store.insertMany(old.slice(i, i + 100));
    now += 60_000;
    const cutoff = new Date(now).toISOString();
    expect(await store.countPurge(cutoff)).toEqual({ messages: 400, statuses: 0, deadLetters: 0 });

    // Batches and webhooks posted together: every call gets its own answer.
    const fresh = Array.from({ length: 200 }, (_, i) => incoming(`new${i}`, { from: `+${i % 5}`, to: `+${i % 3}` }));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      calls.push(store.purge(cutoff, 10));
      calls.push(store.insertMany(fresh.slice(i * 10, i * 10 + 10)));
    }
    const answers = await Promise.all(calls);
    answers.forEach((answer, i) => {
      // A batch on the writer thread also says how long it held the writer.
      if (i % 2 === 0) expect(answer).toEqual({ messages: 10, statuses: 0, deadLetters: 0, writerMs: expect.any(Number) });
      else expect(answer).toEqual(Array.from({ length: 10 }, () => 'created'));
    });
    for (;;) if ((await store.purge(cutoff, 100))?.messages === 0) break;
    expect(await store.stats(10)).toMatchObject({ totalMessages: 200, sendersCount: 5 });
    for (const to of ['+0', '+1', '+2']) {
      expect((await store.listMessages({ to }, { limit: 1, offset: 0 })).total).toBe(fresh.filter((m) => m.to === to).length);
    }
    expect((await store.listConversations({}, { limit: 100 })).total).toBe(15);
    expect(await store.oldestReceivedAt()).toBe(cutoff);
  });
});

describe('SQLite rows by age', () => {
  it('find the oldest rows and the oldest time through the arrival indexes, without sorting a table', async () => {
    const { file, store } = await openStore();
    await store.insertMany([incoming('m')]);
    const plan = (sql: string, params: Record<string, unknown> = {}) =>
      onConnection(file, (db) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail),
      );
    const candidates = plan(PURGE_CANDIDATES, { before: '2030', limit: 10 });
    for (const index of ['messages_by_arrival', 'delivery_statuses_by_arrival', 'dead_letters_by_arrival']) {
      expect(candidates.some((line) => line.includes(index))).toBe(true);
    }
    // Only the merge of the three sorts: each table is read in its index's order.
    expect(candidates.filter((line) => line.includes('TEMP B-TREE')).length).toBeLessThanOrEqual(1);
    const oldest = plan(OLDEST_RECEIVED_AT);
    for (const index of ['messages_by_arrival', 'delivery_statuses_by_arrival', 'dead_letters_by_arrival']) {
      expect(oldest.some((line) => line.includes(index))).toBe(true);
    }
    expect(oldest.some((line) => /SCAN (messages|delivery_statuses|dead_letters)\b(?! USING)/.test(line))).toBe(false);
  });
});

describe('SQLite migration 7', () => {
  it('brings a file at schema 6 to the current one: old rows found by age, erased from the index for good, searches exact', async () => {
    const tmp = tempDir('webhook-inbox-migrate-');
    cleanups.push(tmp.cleanup);
    const file = path.join(tmp.dir, 'messages.db');
    // The file as release 6 left it: its migrations, rows its writer stored and indexed.
    const random = seededRandom(6);
    const old = Array.from({ length: 60 }, (_, i) =>
      incoming(`old${i}`, { from: pick(random, ['+1', '+2', '+3']), to: '+9', text: secret(i).text }),
    );
    fileAtRelease(file, 6, (writer) => {
      writer.write(old.slice(0, 30), '2025-01-01T00:00:00.000Z');
      writer.write(old.slice(30), '2025-01-02T00:00:00.000Z');
      writer.indexText(1000);
    });

    const store = await SqliteStore.open({
      path: file,
      writerThread: compiledWriterUrl,
      checkpointDelayMs: 100,
      checkpointSpacingMs: 100,
    });
    cleanups.push(() => store.close());
    await expect(store.checkHealth()).resolves.toBeUndefined();
    expect(onConnection(file, (c) => c.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all())).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(
      onConnection(file, (c) => c.prepare("SELECT v FROM messages_trigrams_config WHERE k = 'secure-delete'").pluck().get()),
    ).toBe(1);
    expect(await store.oldestReceivedAt()).toBe('2025-01-01T00:00:00.000Z');
    expect(await store.countPurge('2025-01-01T12:00:00Z')).toEqual({ messages: 30, statuses: 0, deadLetters: 0 });

    expect(await store.eraseMessage('old40')).toMatchObject({ messages: 1 });
    const batch = await store.purge('2025-01-01T12:00:00Z', 1000);
    expect(batch && removalCounts(batch)).toEqual({ messages: 30, statuses: 0, deadLetters: 0 });
    checkIndex(file);
    expect(indexKnows(file, foldCase(secret(40).trigram))).toBe(false);
    expect(indexKnows(file, foldCase(secret(3).trigram))).toBe(false);
    expect(indexKnows(file, foldCase(secret(41).trigram))).toBe(true);
    expect((await store.listMessages({ q: 'secret' }, { limit: 100, offset: 0 })).data.map((m) => m.messageId)).toEqual(
      old
        .slice(30)
        .map((m) => m.messageId)
        .filter((id) => id !== 'old40')
        .sort(),
    );
    await until(() => !fileBytes(file).includes(Buffer.from(secret(40).marker)), 'the erased text is gone from the files');
  });
});
