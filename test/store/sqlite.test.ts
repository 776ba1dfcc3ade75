// Runs the MessageStore contract on the SQLite store (inline, with a writer thread, and with reader
// threads too), each test on a fresh file in its own temp dir, then what only SQLite has: the text
// index built behind the writes, the writer's merged transactions, and migrations of a file made
// by an earlier release.

import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { openConnection } from '../../src/store/sqlite/connection.js';
import { SQLITE_SCHEMA_VERSION, sqliteMigrations } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { messagesPart, SqliteWriter } from '../../src/store/sqlite/writer.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledReaderUrl, compiledWriterUrl } from '../helpers/writer.js';
import {
  deadLetterOf,
  deliveryOf,
  describeStoreContract,
  expectUpgradedStoreWorks,
  incoming,
  type OpenedStore,
  statusOf,
} from './contract.js';

/**
 * Plants a trigger, from a connection of its own, that fails every insert into `table` of a row
 * for `id`: the store's connections notice the new schema by themselves.
 */
function refuser(file: string): OpenedStore['refuse'] {
  let planted = 0;
  return async (table, id) => {
    const db = new Database(file);
    try {
      const column = table === 'dead_letters' ? 'item_id' : 'message_id';
      db.exec(`CREATE TRIGGER refuse_${planted++} BEFORE INSERT ON ${table}
        WHEN NEW.${column} = '${id.replaceAll("'", "''")}'
        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    } finally {
      db.close();
    }
  };
}

describeStoreContract('SQLite', async () => {
  const tmp = tempDir('webhook-inbox-store-');
  const file = path.join(tmp.dir, 'nested', 'messages.db');
  const store = new SqliteStore({ path: file });
  return {
    store,
    cleanup: async () => {
      await store.close();
      tmp.cleanup();
    },
    refuse: refuser(file),
  };
});

describeStoreContract('SQLite with a writer thread', async () => {
  const tmp = tempDir('webhook-inbox-store-');
  const file = path.join(tmp.dir, 'messages.db');
  const store = await SqliteStore.open({ path: file, writerThread: compiledWriterUrl });
  return {
    store,
    cleanup: async () => {
      await store.close();
      tmp.cleanup();
    },
    refuse: refuser(file),
  };
});

// As the server runs it: commits on the writer thread, every read on one of the reader threads.
describeStoreContract('SQLite with writer and reader threads', async () => {
  const tmp = tempDir('webhook-inbox-store-');
  const file = path.join(tmp.dir, 'messages.db');
  const store = await SqliteStore.open({
    path: file,
    writerThread: compiledWriterUrl,
    readWorkers: 2,
    readerThread: compiledReaderUrl,
  });
  return {
    store,
    cleanup: async () => {
      await store.close();
      tmp.cleanup();
    },
    refuse: refuser(file),
  };
});

describe('SQLite text index built behind the writes', () => {
  const texts = ['Needle in a haystack', 'no match here', 'NEEDLES everywhere', null, 'a neeDle', 'needl', 'ne'];

  it('finds every match for q whether or not its row has been indexed yet, across restarts', async () => {
    const tmp = tempDir('webhook-inbox-index-');
    const file = path.join(tmp.dir, 'messages.db');
    const writerDb = openConnection(file, 'writer');
    const store = new SqliteStore({ path: file });
    try {
      const writer = new SqliteWriter(writerDb);
      const batch = Array.from({ length: 28 }, (_, i) =>
        incoming(`m${String(i).padStart(2, '0')}`, { text: texts[i % texts.length] ?? null }),
      );
      expect(writer.write(batch, new Date().toISOString())).toEqual(batch.map(() => 'created'));
      const expectIds = async (q: string) => {
        const folded = q.toLowerCase();
        const want = batch.filter((m) => m.text?.toLowerCase().includes(folded)).map((m) => m.messageId);
        const page = await store.listMessages({ q }, { limit: 100, offset: 0 });
        expect(
          page.data.map((m) => m.messageId),
          `q=${q} with ${writer.unindexedRows} rows unindexed`,
        ).toEqual(want);
        expect(page.total).toBe(want.length);
      };

      // Nothing indexed, part indexed, all indexed: the same answers (3+ characters use the index).
      const unindexed: number[] = [];
      for (;;) {
        unindexed.push(writer.unindexedRows);
        for (const q of ['needle', 'NEEDLE', 'eedl', 'haystack', 'ne']) await expectIds(q);
        if (writer.indexText(5) === 0) break;
      }
      expect(unindexed).toEqual([28, 23, 18, 13, 8, 3, 0]);

      // A second writer on the same file (a restart) knows what is left to index.
      writer.write([incoming('m99', { text: 'late needle' })], new Date().toISOString());
      batch.push(incoming('m99', { text: 'late needle' }));
      expect(new SqliteWriter(writerDb).unindexedRows).toBe(1);
      await expectIds('needle');
    } finally {
      writerDb.close();
      await store.close();
      tmp.cleanup();
    }
  });
});

describe('SQLite writer thread: the text index keeps up', () => {
  /** Rows of the file not yet in the trigram index, read on a connection of the test's own. */
  const unindexed = (file: string): number => {
    const db = openConnection(file);
    try {
      return Number(
        db.prepare('SELECT (SELECT coalesce(max(id), 0) FROM messages) - indexed_upto FROM text_index_progress').pluck().get(),
      );
    } finally {
      db.close();
    }
  };
  const settled = async (file: string): Promise<number> => {
    const deadline = Date.now() + 20_000;
    while (unindexed(file) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return unindexed(file);
  };
  const batch = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => incoming(`${prefix}${i}`, { text: `needle ${prefix} ${i}` }));

  it('indexes big batches as they come, and a backlog left by an earlier run once it starts', async () => {
    const tmp = tempDir('webhook-inbox-index-');
    const file = path.join(tmp.dir, 'messages.db');
    try {
      // An earlier run that stored rows without indexing them (as if it had stopped first).
      const earlier = openConnection(file, 'writer');
      new SqliteWriter(earlier).write(batch('old', 3000), new Date().toISOString());
      earlier.close();
      expect(unindexed(file)).toBe(3000);

      const store = await SqliteStore.open({ path: file, writerThread: compiledWriterUrl });
      try {
        expect(await settled(file)).toBe(0);
        for (let i = 0; i < 3; i++) await store.insertMany(batch(`new${i}-`, 5000));
        expect(await settled(file)).toBe(0);
        const page = await store.listMessages({ q: 'NEEDLE new2-' }, { limit: 1, offset: 0 });
        expect(page.total).toBe(5000);
      } finally {
        await store.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('SQLite writer: text-index chunks', () => {
  it('commits them with synchronous NORMAL at least, never OFF, and leaves the connection at FULL', () => {
    const tmp = tempDir('webhook-inbox-index-');
    const db = openConnection(path.join(tmp.dir, 'messages.db'), 'writer');
    try {
      const writer = new SqliteWriter(db);
      writer.write([incoming('m1', { text: 'needle' }), incoming('m2', { text: 'haystack' })], new Date().toISOString());
      // OFF would let a checkpoint this connection runs copy unsynced frames into the database file
      // and reset the log: a power loss could then corrupt the file, not just lose a chunk.
      const levels: unknown[] = [];
      const pragma = db.pragma.bind(db);
      vi.spyOn(db, 'pragma').mockImplementation((source, options) => {
        const result = pragma(source, options);
        levels.push(pragma('synchronous', { simple: true }));
        return result;
      });
      expect(writer.indexText(10)).toBe(2);
      expect(levels.length).toBeGreaterThan(0);
      for (const level of levels) expect(level, 'synchronous (0 OFF, 1 NORMAL, 2 FULL)').toBeGreaterThanOrEqual(1);
      expect(pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});

describe('SQLite writer: requests merged into one transaction', () => {
  it('gives each part the outcomes it would get committed alone, in the order of the parts', () => {
    const tmp = tempDir('webhook-inbox-merge-');
    const db = openConnection(path.join(tmp.dir, 'messages.db'), 'writer');
    try {
      const writer = new SqliteWriter(db);
      const at = '2025-01-15T10:00:00.000Z';
      const outcomes = writer.commit([
        messagesPart([incoming('m1'), incoming('m2')], at),
        {
          ...deliveryOf({
            messages: [incoming('m2', { type: 'text' }), incoming('m3', { type: 'text' }), incoming('m3')],
            statuses: [statusOf('m1', 'sent'), statusOf('m1', 'sent'), statusOf('m1', 'read')],
            deadLetters: [deadLetterOf('x')],
          }),
          createdAt: at,
        },
        messagesPart([incoming('m3'), incoming('m4')], at),
        { ...deliveryOf({ statuses: [statusOf('m1', 'read'), statusOf('m4', 'sent')] }), createdAt: at },
      ]);
      expect(outcomes).toEqual([
        { messages: ['created', 'created'], statuses: [] },
        { messages: ['duplicate', 'created', 'duplicate'], statuses: ['created', 'duplicate', 'created'] },
        { messages: ['duplicate', 'created'], statuses: [] },
        { messages: [], statuses: ['duplicate', 'created'] },
      ]);
      expect(writer.unindexedRows).toBe(4);
      expect(db.prepare('SELECT messages, senders FROM totals').get()).toEqual({ messages: 4, senders: 1 });
      expect(db.prepare('SELECT count(*) FROM dead_letters').pluck().get()).toBe(1);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });

  it('commits nothing of any part when one of them fails', () => {
    const tmp = tempDir('webhook-inbox-merge-');
    const file = path.join(tmp.dir, 'messages.db');
    const db = openConnection(file, 'writer');
    try {
      const writer = new SqliteWriter(db);
      db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON dead_letters WHEN NEW.item_id = 'poison'
        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
      const at = '2025-01-15T10:00:00.000Z';
      expect(() =>
        writer.commit([
          messagesPart([incoming('m1')], at),
          { ...deliveryOf({ messages: [incoming('m2')], statuses: [statusOf('m1', 'sent')] }), createdAt: at },
          { ...deliveryOf({ deadLetters: [deadLetterOf('poison')] }), createdAt: at },
        ]),
      ).toThrow(/refused by the test/);
      expect(writer.unindexedRows).toBe(0);
      for (const table of ['messages', 'delivery_statuses', 'dead_letters', 'sender_counts', 'hour_counts']) {
        expect(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get(), table).toBe(0);
      }
      expect(db.prepare('SELECT messages, senders FROM totals').get()).toEqual({ messages: 0, senders: 0 });
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});

describe('SQLite migrations', () => {
  /** A file as release 2 of the schema left it: migrations 1 and 2 applied, rows written by that release's writer. */
  function fileAtVersion2(file: string): void {
    const db = new Database(file);
    try {
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const migration of sqliteMigrations.filter((m) => m.version <= 2)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          '2025-01-01T00:00:00.000Z',
        );
      }
      db.exec(`
        INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at) VALUES
          ('old1', '+1', '+2', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'Old Needle', 'old needle', '2025-01-15T10:00:01.000Z'),
          ('old2', '+3', '+2', '2025-01-15T11:00:00.5Z', '2025-01-15T11:00:00.5', NULL, NULL, '2025-01-15T11:00:01.000Z');
        UPDATE totals SET messages = 2, senders = 2;
        INSERT INTO sender_counts (sender, count) VALUES ('+1', 1), ('+3', 1);
        INSERT INTO hour_counts (hour, count) VALUES ('2025-01-15T10', 1), ('2025-01-15T11', 1);
      `);
    } finally {
      db.close();
    }
  }

  it.each([
    ['inline', undefined],
    ['with a writer thread', compiledWriterUrl],
  ])('bring a file at schema version 2 to the current version, keeping its rows (%s)', async (_, writerThread) => {
    expect(SQLITE_SCHEMA_VERSION).toBe(3);
    const tmp = tempDir('webhook-inbox-migrate-');
    const file = path.join(tmp.dir, 'messages.db');
    fileAtVersion2(file);
    const store = await SqliteStore.open({ path: file, ...(writerThread ? { writerThread } : {}) });
    try {
      await expect(store.checkHealth()).resolves.toBeUndefined();
      await expectUpgradedStoreWorks(store);
    } finally {
      await store.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual([1, 2, 3]);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});
