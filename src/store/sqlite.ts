// The SQLite MessageStore: one file, WAL journal with synchronous=FULL so that a commit has
// reached the disk before insertMany resolves.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { codePointLength } from '../ingest/issues.js';
import { type Migration, SQLITE_SCHEMA_VERSION, sqliteMigrations } from './migrations/sqlite.js';
import {
  foldCase,
  type IncomingMessage,
  type InsertOutcome,
  type MessageFilter,
  type MessagePage,
  type MessageStore,
  type Page,
  type Stats,
  type StoredMessage,
} from './store.js';

interface MessageRow {
  message_id: string;
  from_number: string;
  to_number: string;
  ts: string;
  ts_key: string;
  text: string | null;
}

interface ListStatements {
  readonly rows: Database.Statement;
  readonly count: Database.Statement;
}

/** The trigram index serves search terms of at least this many characters; shorter ones scan. */
const TRIGRAM = 3;

function toStored(row: MessageRow): StoredMessage {
  return { messageId: row.message_id, from: row.from_number, to: row.to_number, ts: row.ts, tsKey: row.ts_key, text: row.text };
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:' (tests only: nothing is durable). */
  readonly path: string;
  /** Clock for created_at; tests may pin it. */
  readonly now?: () => Date;
}

function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  // IMMEDIATE takes the write lock first, so two processes starting on one file apply each
  // migration once: the second waits (busy_timeout), then sees it applied.
  const applyPending = db.transaction(() => {
    const applied = new Set(
      db
        .prepare('SELECT version FROM schema_migrations')
        .pluck()
        .all()
        .map((v) => Number(v)),
    );
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
    }
  });
  applyPending.immediate();
}

export class SqliteStore implements MessageStore {
  readonly #db: Database.Database;
  readonly #now: () => Date;
  readonly #insert: Database.Statement;
  readonly #insertBatch: (messages: readonly IncomingMessage[], createdAt: string) => InsertOutcome[];
  readonly #listCache = new Map<string, ListStatements>();
  readonly #stats: { totals: Database.Statement; top: Database.Statement; first: Database.Statement; last: Database.Statement };
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(path.dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#now = options.now ?? (() => new Date());
    this.#db.pragma('journal_mode = WAL');
    // FULL: every commit is fsynced before it returns; a 200 means the row is on disk.
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    migrate(this.#db, sqliteMigrations);

    this.#insert = this.#db.prepare(
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (message_id) DO NOTHING`,
    );
    this.#stats = {
      totals: this.#db.prepare('SELECT messages, senders FROM totals WHERE id = 1'),
      top: this.#db.prepare('SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT ?'),
      first: this.#db.prepare('SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1').pluck(),
      last: this.#db.prepare('SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1').pluck(),
    };
    this.#insertBatch = this.#db.transaction((messages: readonly IncomingMessage[], createdAt: string) =>
      messages.map((m): InsertOutcome => {
        const info = this.#insert.run(
          m.messageId,
          m.from,
          m.to,
          m.ts,
          m.tsKey,
          m.text,
          m.text === null ? null : foldCase(m.text),
          createdAt,
        );
        return info.changes === 1 ? 'created' : 'duplicate';
      }),
    );
  }

  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    if (messages.length === 0) return [];
    return this.#insertBatch(messages, this.#now().toISOString());
  }

  #listStatements(filter: MessageFilter, page: Page, q: string | undefined): ListStatements {
    const useFts = q !== undefined && codePointLength(q) >= TRIGRAM;
    const key = [
      filter.from !== undefined,
      filter.sinceKey !== undefined,
      q !== undefined,
      useFts,
      page.after !== undefined,
    ].join();
    const cached = this.#listCache.get(key);
    if (cached) return cached;

    const where: string[] = [];
    if (filter.from !== undefined) where.push('from_number = @from');
    if (filter.sinceKey !== undefined) where.push('ts_key >= @sinceKey');
    // The trigram index narrows the candidates; instr decides. instr, not LIKE: `%`, `_` and `\`
    // in q are plain characters, with no escaping to get wrong.
    if (useFts) where.push('id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH @match)');
    if (q !== undefined) where.push('instr(text_folded, @q) > 0');
    const filtered = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const paged = page.after !== undefined ? [...where, '(ts_key, message_id) > (@afterKey, @afterId)'] : where;

    let count: string;
    if (where.length === 0) count = 'SELECT messages FROM totals WHERE id = 1';
    else if (where.length === 1 && filter.from !== undefined) {
      count = 'SELECT coalesce((SELECT count FROM sender_counts WHERE sender = @from), 0)';
    } else if (where.length === 1 && filter.sinceKey !== undefined) {
      // Whole hours after the one `since` falls in, plus the rows of that hour at or after it.
      count = `SELECT
        (SELECT coalesce(sum(count), 0) FROM hour_counts WHERE hour > substr(@sinceKey, 1, 13))
        + (SELECT count(*) FROM messages WHERE ts_key >= @sinceKey AND ts_key < substr(@sinceKey, 1, 13) || ';')`;
    } else count = `SELECT count(*) FROM messages ${filtered}`;

    const statements: ListStatements = {
      rows: this.#db.prepare(
        `SELECT message_id, from_number, to_number, ts, ts_key, text FROM messages
         ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
         ORDER BY ts_key, message_id LIMIT @limit OFFSET @offset`,
      ),
      count: this.#db.prepare(count).pluck(),
    };
    this.#listCache.set(key, statements);
    return statements;
  }

  async listMessages(filter: MessageFilter, page: Page): Promise<MessagePage> {
    const q = filter.q === undefined ? undefined : foldCase(filter.q);
    const { rows, count } = this.#listStatements(filter, page, q);
    const params: Record<string, string | number> = {};
    if (filter.from !== undefined) params.from = filter.from;
    if (filter.sinceKey !== undefined) params.sinceKey = filter.sinceKey;
    if (q !== undefined) {
      params.q = q;
      params.match = `"${q.replaceAll('"', '""')}"`;
    }
    const rowParams: Record<string, string | number> = { ...params, limit: page.limit + 1, offset: page.offset };
    if (page.after !== undefined) {
      rowParams.afterKey = page.after.tsKey;
      rowParams.afterId = page.after.messageId;
    }
    // One read transaction: the page and its total see the same snapshot.
    const read = this.#db.transaction((): MessagePage => {
      const found = (rows.all(rowParams) as MessageRow[]).map(toStored);
      const hasMore = found.length > page.limit;
      return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(count.get(params)), hasMore };
    });
    return read.deferred();
  }

  async stats(topSenders: number): Promise<Stats> {
    const read = this.#db.transaction((): Stats => {
      const totals = this.#stats.totals.get() as { messages: number; senders: number } | undefined;
      const top = this.#stats.top.all(topSenders) as { sender: string; count: number }[];
      const first = this.#stats.first.get();
      const last = this.#stats.last.get();
      return {
        totalMessages: totals?.messages ?? 0,
        sendersCount: totals?.senders ?? 0,
        messagesPerSender: top.map((r) => ({ from: r.sender, count: r.count })),
        firstMessageTs: typeof first === 'string' ? first : null,
        lastMessageTs: typeof last === 'string' ? last : null,
      };
    });
    return read.deferred();
  }

  async checkHealth(): Promise<void> {
    if (this.#closed) throw new Error('database is closed');
    const version = this.#db.prepare('SELECT max(version) FROM schema_migrations').pluck().get();
    if (version !== SQLITE_SCHEMA_VERSION) {
      throw new Error(`schema version is ${String(version)}, expected ${SQLITE_SCHEMA_VERSION}`);
    }
    this.#db.prepare('SELECT 1 FROM messages LIMIT 1').get();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
