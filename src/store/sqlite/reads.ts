// The SQLite read queries, one copy of each: SqliteStore runs them on the calling thread, and each
// reader thread (reader.worker.ts) runs them on a connection of its own.

import type Database from 'better-sqlite3';
import { codePointLength } from '../../ingest/issues.js';
import { type CountPlan, countPlan } from '../count-plan.js';
import { asDeadLetterKind, asStatusName, isStorableId, STATUS_ORDER_SQL, withType } from '../delivery-rows.js';
import {
  type DeadLetterPage,
  foldCase,
  type MessageDetail,
  type MessageFilter,
  type MessagePage,
  type Page,
  type Stats,
  type StoredMessage,
  type StoredStatus,
} from '../store.js';

/**
 * What each read takes. A read travels to a reader thread as `{ kind, ...arguments }`, so every
 * argument is plain data that the structured clone copies.
 */
export interface ReadArguments {
  messages: { readonly filter: MessageFilter; readonly page: Page };
  message: { readonly messageId: string };
  deadLetters: { readonly page: { readonly limit: number; readonly offset: number } };
  stats: { readonly topSenders: number };
}

/** What each read answers. */
export interface ReadAnswers {
  messages: MessagePage;
  message: MessageDetail | null;
  deadLetters: DeadLetterPage;
  stats: Stats;
}

export type ReadKind = keyof ReadArguments;

/** One read: its kind with its arguments. */
export type ReadRequest<K extends ReadKind = ReadKind> = { readonly kind: K } & ReadArguments[K];

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

/**
 * The count statement of a plan (see count-plan.ts), with the named parameters listMessages
 * binds; `filtered` is the listing's WHERE clause, which a scan counts.
 */
function countSql(plan: CountPlan, filtered: string): string {
  switch (plan.kind) {
    case 'total':
      return 'SELECT messages FROM totals WHERE id = 1';
    case 'sender':
      return 'SELECT coalesce((SELECT count FROM sender_counts WHERE sender = @from), 0)';
    case 'since':
      return `SELECT (SELECT coalesce(sum(count), 0) FROM hour_counts WHERE hour > @hour)
        + (SELECT count(*) FROM messages WHERE ts_key >= @sinceKey AND ts_key < @hourEnd)`;
    case 'scan':
      return `SELECT count(*) FROM messages ${filtered}`;
  }
}

/** The reads of one connection, its statements prepared once. Every read is one read transaction. */
export class SqliteReads {
  readonly #db: Database.Database;
  readonly #listCache = new Map<string, ListStatements>();
  readonly #stats: { totals: Database.Statement; top: Database.Statement; first: Database.Statement; last: Database.Statement };
  readonly #detail: { message: Database.Statement; statuses: Database.Statement };
  readonly #deadLetters: { rows: Database.Statement; count: Database.Statement };
  /** One entry per kind: `answer` picks the one its request names. */
  readonly #handlers: { [K in ReadKind]: (request: ReadRequest<K>) => ReadAnswers[K] } = {
    messages: (request) => this.listMessages(request.filter, request.page),
    message: (request) => this.getMessage(request.messageId),
    deadLetters: (request) => this.listDeadLetters(request.page),
    stats: (request) => this.stats(request.topSenders),
  };

  constructor(db: Database.Database) {
    this.#db = db;
    this.#stats = {
      totals: db.prepare('SELECT messages, senders FROM totals WHERE id = 1'),
      top: db.prepare('SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT ?'),
      first: db.prepare('SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1').pluck(),
      last: db.prepare('SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1').pluck(),
    };
    this.#detail = {
      message: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE message_id = ?`),
      statuses: db.prepare(
        `SELECT status, ts, recipient_id, errors FROM delivery_statuses WHERE message_id = ? ORDER BY ${STATUS_ORDER_SQL}`,
      ),
    };
    this.#deadLetters = {
      rows: db.prepare(
        'SELECT id, received_at, source, kind, reason, item, item_id FROM dead_letters ORDER BY id LIMIT ? OFFSET ?',
      ),
      // Exact, by counting: dead letters are the rare unreadable items, not the stream of messages.
      count: db.prepare('SELECT count(*) FROM dead_letters').pluck(),
    };
  }

  /** Runs the read a request names. */
  answer<K extends ReadKind>(request: ReadRequest<K>): ReadAnswers[K] {
    const handler: (request: ReadRequest<K>) => ReadAnswers[K] = this.#handlers[request.kind];
    return handler(request);
  }

  #listStatements(filter: MessageFilter, page: Page, q: string | undefined, plan: CountPlan): ListStatements {
    const useFts = q !== undefined && codePointLength(q) >= TRIGRAM;
    // Everything the statements' text depends on; the count plan's kind follows from the first three.
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
    // Rows the writer has not indexed yet (the newest few hundred, see writer.ts) are
    // candidates too, found by their ids.
    if (useFts) {
      where.push(`id IN (SELECT rowid FROM messages_trigrams WHERE messages_trigrams MATCH @match
                         UNION ALL
                         SELECT id FROM messages WHERE id > (SELECT indexed_upto FROM text_index_progress))`);
    }
    if (q !== undefined) where.push('instr(text_folded, @q) > 0');
    const filtered = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const paged = page.after !== undefined ? [...where, '(ts_key, message_id) > (@afterKey, @afterId)'] : where;

    const statements: ListStatements = {
      rows: this.#db.prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM messages
         ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
         ORDER BY ts_key, message_id LIMIT @limit OFFSET @offset`,
      ),
      count: this.#db.prepare(countSql(plan, filtered)).pluck(),
    };
    this.#listCache.set(key, statements);
    return statements;
  }

  listMessages(filter: MessageFilter, page: Page): MessagePage {
    // No stored message holds U+0000 (validation refuses it), so a sender or search term holding
    // one matches nothing; FTS5 could not even parse such a term.
    if (filter.from?.includes('\0') || filter.q?.includes('\0')) return { data: [], total: 0, hasMore: false };
    const q = filter.q === undefined ? undefined : foldCase(filter.q);
    const plan = countPlan(filter);
    const { rows, count } = this.#listStatements(filter, page, q, plan);
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
    const countParams = plan.kind === 'since' ? { ...params, hour: plan.hour, hourEnd: plan.hourEnd } : params;
    // One read transaction: the page and its total see the same snapshot.
    const read = this.#db.transaction((): MessagePage => {
      const found = (rows.all(rowParams) as MessageRow[]).map(toStored);
      const hasMore = found.length > page.limit;
      return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(count.get(countParams)), hasMore };
    });
    return read.deferred();
  }

  getMessage(messageId: string): MessageDetail | null {
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

  listDeadLetters(page: { readonly limit: number; readonly offset: number }): DeadLetterPage {
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

  stats(topSenders: number): Stats {
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
}
