// The SQLite MessageStore: one file, WAL journal with synchronous=FULL so that a commit has
// reached the disk before insertMany or storeDelivery resolves. Reads run on the calling thread;
// writes run either inline or on a writer thread (the default for the server), so disk syncs
// never block HTTP.

import type Database from 'better-sqlite3';
import { codePointLength } from '../ingest/issues.js';
import { asDeadLetterKind, asStatusName, isStorableId, messagesOnly, STATUS_ORDER_SQL, withType } from './delivery-rows.js';
import { SQLITE_SCHEMA_VERSION } from './migrations/sqlite.js';
import { openConnection } from './sqlite-connection.js';
import { SqliteWriter, type WritePart } from './sqlite-writer.js';
import { SqliteWriterThread } from './sqlite-writer-thread.js';
import {
  type DeadLetterPage,
  type Delivery,
  type DeliveryOutcome,
  foldCase,
  type IncomingMessage,
  type InsertOutcome,
  type MessageDetail,
  type MessageFilter,
  type MessagePage,
  type MessageStore,
  type Page,
  type Stats,
  type StoredMessage,
  type StoredStatus,
} from './store.js';

interface MessageRow {
  message_id: string;
  from_number: string;
  to_number: string;
  ts: string;
  ts_key: string;
  text: string | null;
  type: string | null;
}

/** The columns a MessageRow reads. */
const MESSAGE_COLUMNS = 'message_id, from_number, to_number, ts, ts_key, text, type';

interface StatusRow {
  status: string;
  ts: string;
  recipient_id: string | null;
  errors: string | null;
}

interface DeadLetterRow {
  id: number;
  received_at: string;
  source: string;
  kind: string;
  reason: string;
  item: string;
  item_id: string | null;
}

interface ListStatements {
  readonly rows: Database.Statement;
  readonly count: Database.Statement;
}

/** The trigram index serves search terms of at least this many characters; shorter ones scan. */
const TRIGRAM = 3;

/**
 * An FTS5 query that matches rows containing every trigram of `q` (a superset of the rows that
 * contain q; instr then decides). Long terms use a spread of at most 16 trigrams: enough to be
 * selective, few enough to stay cheap.
 */
function trigramQuery(q: string): string {
  const chars = Array.from(q);
  const all = new Set<string>();
  for (let i = 0; i + TRIGRAM <= chars.length; i++) all.add(chars.slice(i, i + TRIGRAM).join(''));
  const unique = [...all];
  const step = Math.max(1, unique.length / 16);
  const picked = new Set<string>();
  for (let i = 0; i < unique.length; i += step) picked.add(unique[Math.floor(i)] ?? '');
  picked.add(unique.at(-1) ?? '');
  picked.delete('');
  return [...picked].map((t) => `"${t.replaceAll('"', '""')}"`).join(' AND ');
}

function toStored(row: MessageRow): StoredMessage {
  const { message_id: messageId, from_number: from, to_number: to, ts, ts_key: tsKey, text } = row;
  return withType({ messageId, from, to, ts, tsKey, text }, row.type);
}

function toStatus(row: StatusRow): StoredStatus {
  return { status: asStatusName(row.status), ts: row.ts, recipientId: row.recipient_id, errors: row.errors };
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:' (tests only: nothing is durable; no writer thread). */
  readonly path: string;
  /** Clock for created_at; tests may pin it. */
  readonly now?: () => Date;
  /**
   * Commit on a writer thread instead of the calling thread. The URL is the compiled
   * sqlite-writer.worker.js (see defaultWriterUrl). Omitted: writes run inline.
   */
  readonly writerThread?: URL;
}

/** The writer thread's entry point next to this module, as compiled into dist/. */
export const defaultWriterUrl = new URL('./sqlite-writer.worker.js', import.meta.url);

export class SqliteStore implements MessageStore {
  readonly #db: Database.Database;
  readonly #now: () => Date;
  readonly #thread: SqliteWriterThread | null;
  /** Commits a part (a batch or a delivery): inline on this thread, or on the writer thread. */
  readonly #commit: (part: WritePart) => DeliveryOutcome | Promise<DeliveryOutcome>;
  readonly #listCache = new Map<string, ListStatements>();
  readonly #stats: { totals: Database.Statement; top: Database.Statement; first: Database.Statement; last: Database.Statement };
  readonly #detail: { message: Database.Statement; statuses: Database.Statement };
  readonly #deadLetters: { rows: Database.Statement; count: Database.Statement };
  #closed = false;

  /** The writer thread merges batches that queue up during a commit, so they need not wait here. */
  get concurrentWrites(): number {
    return this.#thread === null ? 1 : 64;
  }

  /** Opens the file, migrating it, and (with writerThread) starts the writer thread. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    try {
      await store.#thread?.start();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  constructor(options: SqliteStoreOptions) {
    this.#db = openConnection(options.path);
    this.#now = options.now ?? (() => new Date());
    const thread =
      options.writerThread && options.path !== ':memory:' ? new SqliteWriterThread(options.path, options.writerThread) : null;
    this.#thread = thread;
    if (thread !== null) this.#commit = (part) => thread.commit(part);
    else {
      const inline = new SqliteWriter(this.#db);
      this.#commit = (part) => {
        const [outcome] = inline.commit([part]);
        // No thread to index in the background: index now, so that searches never scan.
        inline.indexText(Number.MAX_SAFE_INTEGER);
        if (outcome === undefined) throw new Error('the writer returned no outcome');
        return outcome;
      };
    }
    this.#stats = {
      totals: this.#db.prepare('SELECT messages, senders FROM totals WHERE id = 1'),
      top: this.#db.prepare('SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT ?'),
      first: this.#db.prepare('SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1').pluck(),
      last: this.#db.prepare('SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1').pluck(),
    };
    this.#detail = {
      message: this.#db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE message_id = ?`),
      statuses: this.#db.prepare(
        `SELECT status, ts, recipient_id, errors FROM delivery_statuses WHERE message_id = ? ORDER BY ${STATUS_ORDER_SQL}`,
      ),
    };
    this.#deadLetters = {
      rows: this.#db.prepare(
        'SELECT id, received_at, source, kind, reason, item, item_id FROM dead_letters ORDER BY id LIMIT ? OFFSET ?',
      ),
      // Exact, by counting: dead letters are the rare unreadable items, not the stream of messages.
      count: this.#db.prepare('SELECT count(*) FROM dead_letters').pluck(),
    };
  }

  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    return (await this.storeDelivery(messagesOnly(messages))).messages;
  }

  async storeDelivery(delivery: Delivery): Promise<DeliveryOutcome> {
    if (this.#closed) throw new Error('the store is closed');
    if (delivery.messages.length === 0 && delivery.statuses.length === 0 && delivery.deadLetters.length === 0) {
      return { messages: [], statuses: [] };
    }
    return this.#commit({ ...delivery, createdAt: this.#now().toISOString() });
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
    // Rows the writer has not indexed yet (the newest few hundred, see sqlite-writer.ts) are
    // candidates too, found by their ids.
    if (useFts) {
      where.push(`id IN (SELECT rowid FROM messages_trigrams WHERE messages_trigrams MATCH @match
                         UNION ALL
                         SELECT id FROM messages WHERE id > (SELECT indexed_upto FROM text_index_progress))`);
    }
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
        `SELECT ${MESSAGE_COLUMNS} FROM messages
         ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
         ORDER BY ts_key, message_id LIMIT @limit OFFSET @offset`,
      ),
      count: this.#db.prepare(count).pluck(),
    };
    this.#listCache.set(key, statements);
    return statements;
  }

  async listMessages(filter: MessageFilter, page: Page): Promise<MessagePage> {
    // No stored message holds U+0000 (validation refuses it), so a sender or search term holding
    // one matches nothing; FTS5 could not even parse such a term.
    if (filter.from?.includes('\0') || filter.q?.includes('\0')) return { data: [], total: 0, hasMore: false };
    const q = filter.q === undefined ? undefined : foldCase(filter.q);
    const { rows, count } = this.#listStatements(filter, page, q);
    const params: Record<string, string | number> = {};
    if (filter.from !== undefined) params.from = filter.from;
    if (filter.sinceKey !== undefined) params.sinceKey = filter.sinceKey;
    if (q !== undefined) {
      params.q = q;
      params.match = trigramQuery(q);
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

  async getMessage(messageId: string): Promise<MessageDetail | null> {
    if (!isStorableId(messageId)) return null;
    // One read transaction: the message and its statuses come from the same snapshot.
    const read = this.#db.transaction((): MessageDetail | null => {
      const row = this.#detail.message.get(messageId) as MessageRow | undefined;
      const statuses = (this.#detail.statuses.all(messageId) as StatusRow[]).map(toStatus);
      if (row === undefined && statuses.length === 0) return null;
      return { messageId, message: row === undefined ? null : toStored(row), statuses };
    });
    return read.deferred();
  }

  async listDeadLetters(page: { readonly limit: number; readonly offset: number }): Promise<DeadLetterPage> {
    const read = this.#db.transaction((): DeadLetterPage => {
      const rows = this.#deadLetters.rows.all(page.limit, page.offset) as DeadLetterRow[];
      return {
        data: rows.map((r) => ({
          id: r.id,
          source: r.source,
          receivedAt: r.received_at,
          kind: asDeadLetterKind(r.kind),
          reason: r.reason,
          item: r.item,
          itemId: r.item_id,
        })),
        total: Number(this.#deadLetters.count.get()),
      };
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
    if (this.#thread !== null && !this.#thread.running) {
      // A dead writer is restarted here (and by the next write); ready again once it is up.
      await this.#thread.start();
    }
    const version = this.#db.prepare('SELECT max(version) FROM schema_migrations').pluck().get();
    if (version !== SQLITE_SCHEMA_VERSION) {
      throw new Error(`schema version is ${String(version)}, expected ${SQLITE_SCHEMA_VERSION}`);
    }
    this.#db.prepare('SELECT 1 FROM messages LIMIT 1').get();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#thread?.close();
    this.#db.close();
  }
}
