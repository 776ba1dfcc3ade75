// Runs the MessageStore contract and its inbox contract on the SQLite store (inline, with a writer
// thread, and with reader threads too), each test on a fresh file in its own temp dir, then what
// only SQLite has: the text index built behind the writes, the writer's merged transactions, and
// migrations of a file made by an earlier release (its rows kept, their new aggregates made).

import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import { feedJsonOf } from '../../src/store/feed-json.js';
import { BULK_WRITER_AUTOCHECKPOINT_PAGES, openConnection } from '../../src/store/sqlite/connection.js';
import { SQLITE_SCHEMA_VERSION, sqliteMigrations } from '../../src/store/sqlite/migrations.js';
import { SqliteReads } from '../../src/store/sqlite/reads.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/store.js';
import { messagesPart, SqliteWriter } from '../../src/store/sqlite/writer.js';
import { foldCase, type IncomingMessage, type MessageFilter } from '../../src/store/store.js';
import { fileAtRelease } from '../helpers/sqlite-release.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledReaderUrl, compiledWriterUrl } from '../helpers/writer.js';
import {
  bodyOriginOf,
  deadLetterOf,
  deliveryOf,
  describeStoreContract,
  detailed,
  expectUpgradedStoreWorks,
  ID_CHARS,
  incoming,
  type OpenedStore,
  type OpenStore,
  pick,
  randomText,
  seededRandom,
  statusOf,
} from './contract.js';
import { describeFeedContract } from './feed-contract.js';
import { describeInboxContract, referenceConversationList, referenceMessages, referenceTimeseries } from './inbox-contract.js';
import { describeRemovalContract } from './removal-contract.js';

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

/** A fresh store on a file of its own, opened as `options` say, with the test's clock when it gives one. */
function opener(options: Omit<SqliteStoreOptions, 'path' | 'now'>, nested = false): OpenStore {
  return async (test = {}) => {
    const tmp = tempDir('webhook-inbox-store-');
    const file = nested ? path.join(tmp.dir, 'nested', 'messages.db') : path.join(tmp.dir, 'messages.db');
    const store = await SqliteStore.open({ path: file, ...options, ...(test.now ? { now: test.now } : {}) });
    return {
      store,
      cleanup: async () => {
        await store.close();
        tmp.cleanup();
      },
      refuse: refuser(file),
    };
  };
}

const variants: [string, OpenStore][] = [
  // Inline, in a folder that does not exist yet.
  ['SQLite', opener({}, true)],
  ['SQLite with a writer thread', opener({ writerThread: compiledWriterUrl })],
  // As the server runs it: commits on the writer thread, every read on one of the reader threads.
  [
    'SQLite with writer and reader threads',
    opener({ writerThread: compiledWriterUrl, readWorkers: 2, readerThread: compiledReaderUrl }),
  ],
];

for (const [name, open] of variants) {
  describeStoreContract(name, open);
  describeInboxContract(name, open);
  describeFeedContract(name, open);
  describeRemovalContract(name, open);
}

/** A store on `file` with a writer thread and one reader thread, as the server opens it. */
const openThreaded = (file: string): Promise<SqliteStore> =>
  SqliteStore.open({ path: file, writerThread: compiledWriterUrl, readWorkers: 1, readerThread: compiledReaderUrl });

describe('SQLite feed as JSON text', () => {
  // SQLite writes each event's text (readFeedJson) where readFeed builds objects: rows that the
  // store's own writes never leave must come out the same way in both, or be refused by both.
  it('writes what feedItemJson writes for rows of every source kept or not, and refuses what readFeed refuses', async () => {
    const tmp = tempDir('webhook-inbox-feed-json-');
    const file = path.join(tmp.dir, 'messages.db');
    const store = await openThreaded(file);
    try {
      const typed = incoming('typed', { type: 'image', text: null });
      const plain = incoming('plain', { text: 'x' });
      const standard = incoming('standard', { text: 'y' });
      await store.storeDelivery(
        deliveryOf({
          messages: [typed, plain, { ...standard, origin: bodyOriginOf(standard, 'standard') }],
          statuses: [statusOf('typed', 'read')],
          deadLetters: [deadLetterOf('bad')],
        }),
      );
      const db = new Database(file);
      const check = async (): Promise<void> => {
        const feed = await store.readFeed({ after: 0, limit: 10 });
        expect(await store.readFeedJson({ after: 0, limit: 10 })).toEqual(feedJsonOf(feed));
      };
      try {
        await check();
        // As a release before sources were kept left them, with and without a raw text; and a
        // raw in another writer's spelling, which goes out as it is (json() would respace it).
        db.prepare("UPDATE messages SET source = NULL, raw = NULL WHERE message_id IN ('typed', 'plain')").run();
        db.prepare(`UPDATE messages SET raw = '{ "x" : 1.0, "y" : 1e5, "z" : -0.0 }' WHERE message_id = 'standard'`).run();
        await check();
        db.prepare(`UPDATE messages SET raw = '{"kept":true}' WHERE message_id = 'plain'`).run();
        await check();
        // Values the domain does not know are refused by both reads, not written out.
        for (const [sql, undo] of [
          [
            "UPDATE messages SET source = 'pigeon' WHERE message_id = 'plain'",
            "UPDATE messages SET source = 'spec' WHERE message_id = 'plain'",
          ],
          [
            "UPDATE delivery_statuses SET status = 'lost'; UPDATE events SET status = 'lost' WHERE type = 'status.created'",
            "UPDATE delivery_statuses SET status = 'read'; UPDATE events SET status = 'read' WHERE type = 'status.created'",
          ],
          ["UPDATE dead_letters SET kind = 'odd'", "UPDATE dead_letters SET kind = 'message'"],
        ] as const) {
          db.exec(sql);
          await expect(store.readFeed({ after: 0, limit: 10 })).rejects.toThrow();
          await expect(store.readFeedJson({ after: 0, limit: 10 })).rejects.toThrow(/feed event \d+/);
          db.exec(undo);
          await check();
        }
      } finally {
        db.close();
      }
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
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
        { messages: ['created', 'created'], statuses: [], deadLetters: [] },
        {
          messages: ['duplicate', 'created', 'duplicate'],
          statuses: ['created', 'duplicate', 'created'],
          deadLetters: ['created'],
        },
        { messages: ['duplicate', 'created'], statuses: [], deadLetters: [] },
        { messages: [], statuses: ['duplicate', 'created'], deadLetters: [] },
      ]);
      expect(writer.unindexedRows).toBe(4);
      expect(db.prepare('SELECT messages, senders FROM totals').get()).toEqual({ messages: 4, senders: 1 });
      expect(db.prepare('SELECT count(*) FROM dead_letters').pluck().get()).toBe(1);
      // Each row created names its event, whose position follows the order of the parts, with no
      // position taken by a duplicate.
      const named = db
        .prepare(
          `SELECT e.position, e.type, coalesce(m.message_id, s.message_id || ' ' || s.status, 'dead letter ' || d.id)
             FROM events e
             LEFT JOIN messages m ON m.event = e.position
             LEFT JOIN delivery_statuses s ON s.event = e.position
             LEFT JOIN dead_letters d ON d.event = e.position
            ORDER BY e.position`,
        )
        .raw()
        .all();
      expect(named).toEqual([
        [1, 'message.created', 'm1'],
        [2, 'message.created', 'm2'],
        [3, 'message.created', 'm3'],
        [4, 'status.created', 'm1 sent'],
        [5, 'status.created', 'm1 read'],
        [6, 'dead_letter.created', 'dead letter 1'],
        [7, 'message.created', 'm4'],
        [8, 'status.created', 'm4 sent'],
      ]);
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
      // The positions it had handed out are handed out again.
      writer.commit([messagesPart([incoming('m1')], at)]);
      expect(db.prepare('SELECT position, message_id FROM events').raw().all()).toEqual([[1, 'm1']]);
      expect(db.prepare('SELECT event FROM messages').pluck().all()).toEqual([1]);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});

describe('SQLite migrations', () => {
  /** One message as an earlier release's writer stored it (with its type only from release 3 on). */
  interface OldRow {
    readonly m: IncomingMessage;
    readonly createdAt: string;
  }

  /**
   * A file as release `version` of the schema left it: migrations up to that one applied, and the
   * rows written by that release's writer, with the aggregates it kept (totals, sender and hour
   * counts) and nothing newer.
   */
  function fileAtVersion(file: string, version: 2 | 3, rows: readonly OldRow[]): void {
    const db = new Database(file);
    try {
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const migration of sqliteMigrations.filter((m) => m.version <= version)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          '2025-01-01T00:00:00.000Z',
        );
      }
      const typeColumn = version >= 3 ? ', type' : '';
      const insert = db.prepare(
        `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at${typeColumn})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?${version >= 3 ? ', ?' : ''})`,
      );
      const senders = new Map<string, number>();
      const hours = new Map<string, number>();
      for (const { m, createdAt } of rows) {
        if (version < 3 && m.type !== undefined) throw new Error('test bug: release 2 kept no types');
        const values = [m.messageId, m.from, m.to, m.ts, m.tsKey, m.text, m.text === null ? null : foldCase(m.text), createdAt];
        insert.run(...values, ...(version >= 3 ? [m.type ?? null] : []));
        senders.set(m.from, (senders.get(m.from) ?? 0) + 1);
        hours.set(m.tsKey.slice(0, 13), (hours.get(m.tsKey.slice(0, 13)) ?? 0) + 1);
      }
      db.prepare('UPDATE totals SET messages = ?, senders = ?').run(rows.length, senders.size);
      for (const [sender, count] of senders)
        db.prepare('INSERT INTO sender_counts (sender, count) VALUES (?, ?)').run(sender, count);
      for (const [hour, count] of hours) db.prepare('INSERT INTO hour_counts (hour, count) VALUES (?, ?)').run(hour, count);
    } finally {
      db.close();
    }
  }

  /** The rows expectUpgradedStoreWorks expects (old3 only where the schema kept types). */
  function upgradeRows(typed: boolean): OldRow[] {
    return [
      {
        m: incoming('old1', { from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z', text: 'Old Needle' }),
        createdAt: '2025-01-15T10:00:01.000Z',
      },
      {
        m: incoming('old2', { from: '+3', to: '+2', ts: '2025-01-15T11:00:00.5Z', text: null }),
        createdAt: '2025-01-15T11:00:01.000Z',
      },
      ...(typed
        ? [
            {
              m: incoming('old3', { from: '+3', to: '+4', ts: '2025-01-15T11:30:00Z', text: null, type: 'image' }),
              createdAt: '2025-01-15T11:30:02.500Z',
            },
          ]
        : []),
    ];
  }

  function eventOfEachMessage(file: string): unknown[] {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare('SELECT message_id, event FROM messages ORDER BY message_id').raw().all();
    } finally {
      db.close();
    }
  }

  function appliedVersions(file: string): unknown[] {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    } finally {
      db.close();
    }
  }

  it.each([
    [3, 'inline', undefined],
    [3, 'with a writer thread', compiledWriterUrl],
    [2, 'inline', undefined],
    [2, 'with a writer thread', compiledWriterUrl],
  ] as const)(
    'bring a file at schema version %i to the current version, keeping its rows and making their aggregates (%s)',
    async (version, _, writerThread) => {
      expect(SQLITE_SCHEMA_VERSION).toBe(10);
      const tmp = tempDir('webhook-inbox-migrate-');
      try {
        const file = path.join(tmp.dir, 'messages.db');
        const rows = upgradeRows(version >= 3);
        fileAtVersion(file, version, rows);
        const store = await SqliteStore.open({ path: file, ...(writerThread ? { writerThread } : {}) });
        try {
          await expect(store.checkHealth()).resolves.toBeUndefined();
          await expectUpgradedStoreWorks(store, {
            typed: version >= 3,
            receivedAt: Object.fromEntries(rows.map((r) => [r.m.messageId, r.createdAt])),
          });
        } finally {
          await store.close();
        }
        expect(appliedVersions(file)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      } finally {
        tmp.cleanup();
      }
    },
  );

  it('give the rows of an older file their feed events, in the order they were received, and go on after them', async () => {
    const tmp = tempDir('webhook-inbox-migrate-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      // Received in another order than their ids and instants.
      const rows = upgradeRows(true).map((r, i) => ({ ...r, createdAt: `2025-01-16T00:00:0${3 - i}.000Z` }));
      fileAtVersion(file, 3, rows);
      const store = await SqliteStore.open({ path: file });
      try {
        const feed = await store.readFeed({ after: 0, limit: 10 });
        expect(feed.map((e) => [e.position, e.type, e.receivedAt])).toEqual([
          [1, 'message.created', '2025-01-16T00:00:01.000Z'],
          [2, 'message.created', '2025-01-16T00:00:02.000Z'],
          [3, 'message.created', '2025-01-16T00:00:03.000Z'],
        ]);
        expect(feed.map((e) => (e.type === 'message.created' ? e.message.messageId : null))).toEqual(['old3', 'old2', 'old1']);
        // Rows kept without a source: the text SQLite writes of them is what feedItemJson writes.
        expect(feed.map((e) => (e.type === 'message.created' ? e.message.details.source : null))).toEqual([
          'whatsapp',
          'spec',
          'spec',
        ]);
        expect(await store.readFeedJson({ after: 0, limit: 10 })).toEqual(feedJsonOf(feed));
        await store.insertMany([incoming('new', { from: '+1', to: '+2' })]);
        expect(await store.feedHead()).toMatchObject({ position: 4 });
      } finally {
        await store.close();
      }
      // Each row names its event, the old ones and the new one alike.
      expect(eventOfEachMessage(file)).toEqual([
        ['new', 4],
        ['old1', 3],
        ['old2', 2],
        ['old3', 1],
      ]);
    } finally {
      tmp.cleanup();
    }
  });

  it('bring an empty file at schema version 3 to the current version, with no conversations', async () => {
    const tmp = tempDir('webhook-inbox-migrate-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      fileAtVersion(file, 3, []);
      const store = await SqliteStore.open({ path: file });
      try {
        expect(await store.listConversations({}, { limit: 10 })).toEqual({ data: [], total: 0, hasMore: false });
        expect(await store.listMessages({ to: '+2' }, { limit: 10, offset: 0 })).toEqual({ data: [], total: 0, hasMore: false });
        await store.insertMany([incoming('first', { from: '+1', to: '+2' })]);
        expect((await store.listConversations({}, { limit: 10 })).total).toBe(1);
      } finally {
        await store.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('make aggregates of many old rows (ties, fractional seconds) that agree with a count of them', async () => {
    // Few parties and instants, so that conversations hold several messages and their first and
    // last messages tie on the instant, spelled in several ways.
    const random = seededRandom(31);
    const parties = ['+1', '+10', '+2', '+919876543210'];
    const times = [
      '2025-01-15T10:00:00Z',
      '2025-01-15T10:00:00.000Z',
      '2025-01-15T10:00:00.5Z',
      '2025-01-15T10:00:00.50Z',
      '2025-01-15T11:59:59.999Z',
      '2025-01-16T00:00:00Z',
    ];
    const olds: OldRow[] = Array.from({ length: 150 }, (_, n) => {
      const type = random() < 0.3 ? undefined : pick(random, ['text', 'image']);
      const m = incoming(`${pick(random, ID_CHARS)}${pick(random, ID_CHARS)}${n % 4 === 0 ? '' : n}`, {
        from: pick(random, parties),
        to: pick(random, parties),
        ts: pick(random, times),
        text: randomText(random),
        ...(type === undefined ? {} : { type }),
      });
      return { m, createdAt: new Date(Date.UTC(2025, 0, 15, 12) + n).toISOString() };
    });
    const unique = [...new Map(olds.map((r) => [r.m.messageId, r])).values()];
    const tmp = tempDir('webhook-inbox-migrate-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      fileAtVersion(file, 3, unique);
      const store = await SqliteStore.open({ path: file, writerThread: compiledWriterUrl });
      try {
        const rows = unique.map((r) => ({ m: r.m, receivedAt: r.createdAt }));
        expect(await store.listConversations({}, { limit: 100 })).toEqual({
          data: referenceConversationList(rows, {}),
          total: referenceConversationList(rows, {}).length,
          hasMore: false,
        });
        const total = async (filter: MessageFilter) => (await store.listMessages(filter, { limit: 1, offset: 0 })).total;
        for (const party of parties) {
          expect(await total({ from: party }), `from ${party}`).toBe(unique.filter((r) => r.m.from === party).length);
          expect(await total({ to: party }), `to ${party}`).toBe(unique.filter((r) => r.m.to === party).length);
          for (const other of parties) {
            expect(await total({ from: party, to: other })).toBe(
              unique.filter((r) => r.m.from === party && r.m.to === other).length,
            );
          }
        }
        for (const type of ['text', 'image', 'absent']) {
          expect(await total({ type }), `type ${type}`).toBe(unique.filter((r) => r.m.type === type).length);
        }
        for (const bucket of ['hour', 'day'] as const) {
          expect(await store.timeseries({ bucket, sinceKey: '2025-01-15T10:00:00.5', untilKey: '2025-01-17T00:00:00' })).toEqual(
            referenceTimeseries(rows, bucket, '2025-01-15T10:00:00.5Z', '2025-01-17T00:00:00Z'),
          );
        }
        expect((await store.listMessages({}, { limit: 100, offset: 0, order: 'desc', details: true })).data).toEqual(
          referenceMessages(rows, {}, { limit: 100, offset: 0, order: 'desc' }).data.map((m) => ({
            ...m,
            details: {
              source: m.type === undefined ? 'spec' : 'whatsapp',
              receivedAt: unique.find((r) => r.m.messageId === m.messageId)?.createdAt,
              raw: null,
              contactName: null,
              replyTo: null,
              phoneNumberId: null,
            },
          })),
        );
      } finally {
        await store.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('SQLite migration 8', () => {
  it('brings a file at schema 7 to the current one: each message event names its row, every event reads back whole', async () => {
    const tmp = tempDir('webhook-inbox-migrate-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      const at = (day: number) => `2025-01-0${day}T00:00:00.000Z`;
      const a = incoming('a', { from: '+1', to: '+9', text: 'first' });
      const b = incoming('b', { from: '+2', to: '+9', text: 'second' });
      const c = incoming('c', { from: '+1', to: '+9', text: 'third' });
      const d = incoming('d', { from: '+2', to: '+9', text: 'erased' });
      const e = incoming('e', { from: '+1', to: '+9', text: 'in the erased one’s place' });
      const f = incoming('f', { from: '+1', to: '+9', text: 'after the upgrade' });
      fileAtRelease(file, 7, (writer) => {
        writer.commit([
          {
            ...deliveryOf({
              messages: [a, b],
              statuses: [statusOf('a', 'sent'), statusOf('ghost', 'read')],
              deadLetters: [deadLetterOf('x')],
            }),
            createdAt: at(1),
          },
        ]);
        writer.write([c, d], at(2));
        // The newest message erased: the next one takes its rowid again, under an event of its own.
        writer.remove({ kind: 'message', messageId: 'd' });
        writer.write([e], at(3));
      });

      const store = await openThreaded(file);
      try {
        await store.insertMany([f]);
        const feed = await store.readFeed({ after: 0, limit: 100 });
        expect(
          feed.map((event) => [
            event.position,
            event.type,
            event.type === 'message.created'
              ? event.message.messageId
              : event.type === 'status.created'
                ? event.messageId
                : event.deadLetter.itemId,
          ]),
        ).toEqual([
          [1, 'message.created', 'a'],
          [2, 'message.created', 'b'],
          [3, 'status.created', 'a'],
          [4, 'status.created', 'ghost'],
          [5, 'dead_letter.created', 'x'],
          [6, 'message.created', 'c'],
          [8, 'message.created', 'e'],
          [9, 'message.created', 'f'],
        ]);
        const messages = feed.flatMap((event) => (event.type === 'message.created' ? [event.message] : []));
        expect(messages.slice(0, 4)).toEqual([detailed(a, at(1)), detailed(b, at(1)), detailed(c, at(2)), detailed(e, at(3))]);
        expect(messages[4]?.messageId).toBe('f');
        expect((await store.readFeed({ after: 0, limit: 100, from: '+1' })).map((event) => event.position)).toEqual([1, 6, 8, 9]);
      } finally {
        await store.close();
      }
      const db = new Database(file, { readonly: true });
      try {
        expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual([
          1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
        ]);
        // Old events and new ones alike name the rowid of their message; the others name none.
        expect(
          db
            .prepare(
              'SELECT e.position, e.message_row, m.message_id FROM events AS e LEFT JOIN messages AS m ON m.event = e.position ORDER BY e.position',
            )
            .raw()
            .all(),
        ).toEqual([
          [1, 1, 'a'],
          [2, 2, 'b'],
          [3, null, null],
          [4, null, null],
          [5, null, null],
          [6, 3, 'c'],
          [8, 4, 'e'],
          [9, 5, 'f'],
        ]);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('SQLite migration 9: the conversations in order of their last message', () => {
  /** Rows of the order's tables and of the stale list, each sorted. */
  function orderTables(db: Database.Database): { order: unknown[]; byRecipient: unknown[]; stale: unknown[] } {
    return {
      order: db.prepare('SELECT last_ts_key, from_number, to_number FROM conversation_order ORDER BY 1, 2, 3').raw().all(),
      byRecipient: db
        .prepare('SELECT to_number, last_ts_key, from_number FROM conversation_order_by_recipient ORDER BY 1, 2, 3')
        .raw()
        .all(),
      stale: db.prepare('SELECT last_ts_key, from_number, to_number FROM conversation_order_stale ORDER BY id').raw().all(),
    };
  }

  it('brings a file at schema 8 to the current one: each conversation entered once, recipients counting theirs', async () => {
    const tmp = tempDir('webhook-inbox-migrate-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      const random = seededRandom(9);
      const parties = ['+1', '+2', '+3', '+4'];
      const times = ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.5Z', '2025-01-15T11:00:00Z', '2025-01-16T00:00:00Z'];
      const written = Array.from({ length: 80 }, (_, n) =>
        incoming(`m${n}`, { from: pick(random, parties), to: pick(random, parties.slice(0, 2)), ts: pick(random, times) }),
      );
      const erased = new Set(['m3', 'm10', 'm11', 'm40']);
      fileAtRelease(file, 8, (writer) => {
        for (let i = 0; i < written.length; i += 20) writer.write(written.slice(i, i + 20), '2025-01-16T12:00:00.000Z');
        for (const id of erased) writer.remove({ kind: 'message', messageId: id });
      });
      const rows = written.filter((m) => !erased.has(m.messageId)).map((m) => ({ m, receivedAt: '2025-01-16T12:00:00.000Z' }));

      const store = await openThreaded(file);
      try {
        for (const filter of [{}, { to: '+1' }, { to: '+2' }, { to: '+3' }, { from: '+4' }, { from: '+1', to: '+2' }]) {
          const expected = referenceConversationList(rows, filter);
          // Two at a time, through the cursor, and all at once.
          const paged: unknown[] = [];
          let after: { lastTsKey: string; from: string; to: string } | undefined;
          for (;;) {
            const page = await store.listConversations(filter, { limit: 2, ...(after === undefined ? {} : { after }) });
            expect(page.total, JSON.stringify(filter)).toBe(expected.length);
            paged.push(...page.data);
            const last = page.data[page.data.length - 1];
            if (!page.hasMore || last === undefined) break;
            after = { lastTsKey: last.lastTsKey, from: last.from, to: last.to };
          }
          expect(paged, JSON.stringify(filter)).toEqual(expected);
        }
      } finally {
        await store.close();
      }
      const db = new Database(file, { readonly: true });
      try {
        const conversations = referenceConversationList(rows, {});
        const tables = orderTables(db);
        expect(tables.order).toEqual(
          conversations
            .map((c) => [c.lastTsKey, c.from, c.to])
            .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        );
        expect(tables.byRecipient).toHaveLength(conversations.length);
        expect(tables.stale).toEqual([]);
        expect(db.prepare('SELECT recipient, conversations FROM recipient_counts ORDER BY recipient').raw().all()).toEqual(
          ['+1', '+2'].map((to) => [to, conversations.filter((c) => c.to === to).length]),
        );
        // The indexes the tables replace are gone.
        expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'conversations_by_%'").pluck().all()).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('skips an entry its conversation has left until the sweep deletes it, and keeps one it has come back to', () => {
    const db = openConnection(':memory:', 'writer');
    try {
      const writer = new SqliteWriter(db);
      const reads = new SqliteReads(db);
      const at = (hour: number) => `2025-01-15T${String(hour).padStart(2, '0')}:00:00Z`;
      const list = (filter: { from?: string; to?: string }, limit = 10) =>
        reads.listConversations(filter, { limit }).data.map((c) => [c.from, c.to, c.lastTs, c.messages]);

      writer.write(
        [incoming('a', { from: '+1', to: '+9', ts: at(10) }), incoming('b', { from: '+2', to: '+9', ts: at(11) })],
        at(12),
      );
      // +1's conversation moves from 10:00 to 13:00: its entry at 10:00 is stale from now on.
      writer.write([incoming('c', { from: '+1', to: '+9', ts: at(13) })], at(13));
      expect(orderTables(db).order).toHaveLength(3);
      expect(orderTables(db).stale).toEqual([[instantKey(at(10)), '+1', '+9']]);
      for (const filter of [{}, { to: '+9' }]) {
        expect(list(filter)).toEqual([
          ['+1', '+9', at(13), 2],
          ['+2', '+9', at(11), 1],
        ]);
        // A page of one, then the next from its position: no conversation twice.
        const [first] = reads.listConversations(filter, { limit: 1 }).data;
        if (first === undefined) throw new Error('no first page');
        const next = reads.listConversations(filter, {
          limit: 5,
          after: { lastTsKey: first.lastTsKey, from: first.from, to: first.to },
        });
        expect(next.data.map((c) => c.from)).toEqual(['+2']);
        expect(next.total).toBe(2);
      }

      // The sweep (with the text index) deletes the stale entry.
      writer.indexText(Number.MAX_SAFE_INTEGER);
      expect(orderTables(db)).toEqual({
        order: [
          [instantKey(at(11)), '+2', '+9'],
          [instantKey(at(13)), '+1', '+9'],
        ],
        byRecipient: [
          ['+9', instantKey(at(11)), '+2'],
          ['+9', instantKey(at(13)), '+1'],
        ],
        stale: [],
      });

      // +1 moves on to 14:00, then that message is erased: back at 13:00, whose entry the sweep keeps.
      writer.write([incoming('d', { from: '+1', to: '+9', ts: at(14) })], at(14));
      writer.remove({ kind: 'message', messageId: 'd' });
      writer.write([incoming('e', { from: '+3', to: '+9', ts: at(9) })], at(15));
      writer.indexText(Number.MAX_SAFE_INTEGER);
      expect(list({})).toEqual([
        ['+1', '+9', at(13), 2],
        ['+2', '+9', at(11), 1],
        ['+3', '+9', at(9), 1],
      ]);
      expect(orderTables(db).order).toEqual([
        [instantKey(at(9)), '+3', '+9'],
        [instantKey(at(11)), '+2', '+9'],
        [instantKey(at(13)), '+1', '+9'],
      ]);

      // A conversation erased whole leaves no entry; its recipient counts one conversation less.
      writer.remove({ kind: 'conversation', from: '+2' });
      expect(list({ to: '+9' }).map(([from]) => from)).toEqual(['+1', '+3']);
      expect(reads.listConversations({ to: '+9' }, { limit: 10 }).total).toBe(2);
      expect(orderTables(db).byRecipient).toEqual([
        ['+9', instantKey(at(9)), '+3'],
        ['+9', instantKey(at(13)), '+1'],
      ]);
    } finally {
      db.close();
    }
  });
});

describe('SQLite migration 10: the leading senders in a short table', () => {
  /** Every sender's count, ranked as /stats ranks them. */
  function recount(counts: Map<string, number>): { from: string; count: number }[] {
    return [...counts]
      .map(([from, count]) => ({ from, count }))
      .sort((a, b) => b.count - a.count || (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  }

  function leadingTable(db: Database.Database): { members: unknown[]; bound: unknown } {
    return {
      members: db.prepare('SELECT sender, count FROM leading_senders ORDER BY count DESC, sender').raw().all(),
      bound: db.prepare('SELECT leading_bound_sender, leading_bound_count FROM totals WHERE id = 1').raw().get(),
    };
  }

  it('brings a file at schema 9 to the current one: the first 50 senders in the table, the 51st as the bound', async () => {
    const tmp = tempDir('webhook-inbox-migrate-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      const random = seededRandom(10);
      const senders = Array.from({ length: 70 }, (_, i) => `+1555${String(i).padStart(4, '0')}`);
      const written = Array.from({ length: 600 }, (_, n) =>
        incoming(`m${n}`, { from: senders[Math.floor(senders.length * random() ** 2)] ?? '+1', ts: '2025-01-15T10:00:00Z' }),
      );
      const erased = written.filter((_, n) => n % 7 === 0).map((m) => m.messageId);
      fileAtRelease(file, 9, (writer) => {
        for (let i = 0; i < written.length; i += 50) writer.write(written.slice(i, i + 50), '2025-01-16T12:00:00.000Z');
        for (const id of erased) writer.remove({ kind: 'message', messageId: id });
      });
      const counts = new Map<string, number>();
      for (const m of written.filter((w) => !erased.includes(w.messageId))) counts.set(m.from, (counts.get(m.from) ?? 0) + 1);
      const ranked = recount(counts);
      expect(ranked.length).toBeGreaterThan(50);

      const store = await openThreaded(file);
      try {
        const stats = await store.stats(10);
        expect(stats.messagesPerSender).toEqual(ranked.slice(0, 10));
        expect(stats.sendersCount).toBe(counts.size);
      } finally {
        await store.close();
      }
      const db = new Database(file, { readonly: true });
      try {
        expect(leadingTable(db)).toEqual({
          members: ranked.slice(0, 50).map((s) => [s.from, s.count]),
          bound: [ranked[50]?.from, ranked[50]?.count],
        });
        expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'sender_counts_by_rank'").all()).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('after random writes, erasures and purges, /stats names the first ten senders of a recount, ranking again when it must', () => {
    const db = openConnection(':memory:', 'writer');
    try {
      const writer = new SqliteWriter(db);
      const reads = new SqliteReads(db);
      const random = seededRandom(1010);
      const senders = Array.from({ length: 150 }, (_, i) => `+1666${String(i).padStart(4, '0')}`);
      const kept = new Map<string, { from: string; receivedAt: string }>();
      const counts = () => {
        const c = new Map<string, number>();
        for (const { from } of kept.values()) c.set(from, (c.get(from) ?? 0) + 1);
        return c;
      };
      let n = 0;
      let second = 0;
      const at = () => new Date(Date.UTC(2025, 0, 15) + 1000 * second++).toISOString();
      const check = (label: string) => {
        const c = counts();
        const stats = reads.stats(10);
        expect(stats.messagesPerSender, label).toEqual(recount(c).slice(0, 10));
        expect(stats.sendersCount, label).toBe(c.size);
        expect(leadingTable(db).members.length, label).toBeLessThanOrEqual(50);
      };
      const write = () => {
        const receivedAt = at();
        const batch = Array.from({ length: 1 + Math.floor(random() * 40) }, () =>
          incoming(`r${n++}`, { from: senders[Math.floor(senders.length * random() ** 3)] ?? '+1' }),
        );
        writer.write(batch, receivedAt);
        for (const m of batch) kept.set(m.messageId, { from: m.from, receivedAt });
      };
      for (let i = 0; i < 60; i++) write();
      check('after the first writes');
      expect(counts().size).toBeGreaterThan(50);

      // The forty busiest senders erased whole: fewer than ten members are left ahead of the
      // bound, so the writer ranks every sender again.
      for (const { from } of recount(counts()).slice(0, 40)) {
        writer.remove({ kind: 'conversation', from });
        for (const [id, row] of kept) if (row.from === from) kept.delete(id);
        check(`after erasing ${from}`);
      }
      for (let op = 0; op < 150; op++) {
        const r = random();
        if (r < 0.5) write();
        else if (r < 0.75 && kept.size > 0) {
          const ids = [...kept.keys()];
          const id = ids[Math.floor(random() * ids.length)] ?? '';
          writer.remove({ kind: 'message', messageId: id });
          kept.delete(id);
        } else if (r < 0.85) {
          const from = pick(random, senders);
          writer.remove({ kind: 'conversation', from });
          for (const [id, row] of kept) if (row.from === from) kept.delete(id);
        } else {
          const times = [...new Set([...kept.values()].map((row) => row.receivedAt))].sort();
          const before = times[Math.floor(random() * times.length)] ?? at();
          writer.remove({ kind: 'purge', before, limit: 1000 });
          for (const [id, row] of kept) if (row.receivedAt < before) kept.delete(id);
        }
        check(`operation ${op}`);
      }
    } finally {
      db.close();
    }
  });
});

describe('SQLite connections', () => {
  it('checkpoint the log every 10,000 pages, or at the interval a bulk load asks for', () => {
    const tmp = tempDir('webhook-inbox-connection-');
    try {
      const file = path.join(tmp.dir, 'messages.db');
      const service = openConnection(file, 'writer');
      const bulk = openConnection(file, 'writer', { autocheckpointPages: BULK_WRITER_AUTOCHECKPOINT_PAGES });
      try {
        expect(service.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
        expect(bulk.pragma('wal_autocheckpoint', { simple: true })).toBe(BULK_WRITER_AUTOCHECKPOINT_PAGES);
        expect(BULK_WRITER_AUTOCHECKPOINT_PAGES).toBeGreaterThan(10_000);
      } finally {
        bulk.close();
        service.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
