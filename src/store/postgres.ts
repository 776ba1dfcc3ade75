// The PostgreSQL MessageStore, for several replicas on one database: a bounded pool, one
// transaction per group-commit batch or provider delivery (multi-row INSERT … ON CONFLICT DO
// NOTHING statements plus the aggregates), and timeouts everywhere so that a database that stops
// or hangs turns into errors (503) instead of requests that wait forever. The pool replaces broken
// connections by itself.

import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import {
  asDeadLetterKind,
  asStatusName,
  deadLetterHash,
  isStorableId,
  messagesOnly,
  STATUS_ORDER_SQL,
  withType,
} from './delivery-rows.js';
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from './migrations/postgres.js';
import {
  DEFAULT_READ_TIMEOUT_MS,
  type DeadLetter,
  type DeadLetterPage,
  type Delivery,
  type DeliveryOutcome,
  type DeliveryStatus,
  foldCase,
  type IncomingMessage,
  type InsertOutcome,
  type MessageDetail,
  type MessageFilter,
  type MessagePage,
  type MessageStore,
  type Page,
  QueryTimeout,
  type SenderCount,
  type Stats,
  type StoredDeadLetter,
  type StoredMessage,
  type StoredStatus,
  StoreUnavailable,
} from './store.js';

export interface PostgresTimeouts {
  /** Opening a connection, or waiting for a free one in a full pool. */
  readonly connectMs: number;
  /**
   * Server side: a statement of a write running longer is cancelled by PostgreSQL itself. Reads
   * have their own limit, readTimeoutMs.
   */
  readonly statementMs: number;
  /**
   * Client side: no answer at all (a hung server or network) fails the query; a little over
   * statementMs. A read waits as much longer than its own limit.
   */
  readonly queryMs: number;
  /** Server side: a session left inside a transaction (a client that froze mid-batch) is ended. */
  readonly idleInTransactionMs: number;
  /** How long an unused pooled connection stays open. */
  readonly idleMs: number;
  /** The readiness query, kept short so /health/ready answers before a probe gives up. */
  readonly healthMs: number;
  /** Migrations at start (an index build on a large table may take minutes). */
  readonly migrationMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = {
  connectMs: 5_000,
  statementMs: 10_000,
  queryMs: 15_000,
  idleInTransactionMs: 10_000,
  idleMs: 30_000,
  healthMs: 3_000,
  migrationMs: 15 * 60_000,
};

export interface PostgresStoreOptions {
  /** postgres:// or postgresql:// URL, as libpq reads it (sslmode and friends included). */
  readonly url: string;
  /** The most connections this process opens. */
  readonly poolMax: number;
  readonly timeouts?: Partial<PostgresTimeouts>;
  /** Clock for created_at; tests may pin it. */
  readonly now?: () => Date;
  /** Where connection trouble that reaches no request is reported (a dropped idle connection, a missing index). */
  readonly logger?: Pick<Logger, 'warn' | 'info'>;
  /** Server side: a read running longer is cancelled (QueryTimeout); READ_TIMEOUT_MS. */
  readonly readTimeoutMs?: number;
}

// SQLSTATE classes that mean "not now" rather than "wrong": connection exceptions (08), transaction
// rollbacks such as deadlocks and serialization failures (40), insufficient resources (53),
// operator intervention: shutdown, statement timeout (57), system I/O errors (58); a lock not
// granted in time (55P03); and a server that became a read-only standby after a failover (25006).
const UNAVAILABLE_SQLSTATE = /^(08|40|53|57|58)|^55P03$|^25006$/;
// What pg itself says when a connection fails, ends or times out, without a SQLSTATE.
const UNAVAILABLE_MESSAGE = /connect|connection|terminated|timeout|timed out|not queryable|socket|ended/i;

/** Whether an error from pg means the database is unreachable or unable to serve now. */
function isUnavailable(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isUnavailable) || UNAVAILABLE_MESSAGE.test(error.message);
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // A system error of the socket: ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, EAI_AGAIN…
  // Tested first, since EPIPE and EBUSY have five letters like a SQLSTATE; no SQLSTATE class
  // begins with E.
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return true;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATE.test(code);
  return UNAVAILABLE_MESSAGE.test(error.message);
}

// A connection the server ended while it sat in the pool: the server shut down or restarted
// (57P01, 57P02), or the link broke (class 08, a reset socket).
const STALE_SQLSTATE = new Set(['57P01', '57P02', '08000', '08003', '08006']);

/** Whether an error says the connection was already dead (rather than the database being down now). */
function isStaleConnection(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (STALE_SQLSTATE.has(code) || code === 'ECONNRESET' || code === 'EPIPE')) return true;
  return /connection terminated unexpectedly|not queryable/i.test(error.message);
}

/** SQLSTATE query_canceled: statement_timeout ran out (or an operator cancelled the statement). */
const QUERY_CANCELED = '57014';

/**
 * Unavailability becomes StoreUnavailable (the API answers 503); anything else, a bug, passes
 * through. A read cancelled at its time limit becomes QueryTimeout: the query, not the database,
 * was the problem. A write cancelled so is the database's trouble (it cannot keep up).
 */
export function classify(error: unknown, during: 'read' | 'write'): unknown {
  if (during === 'read' && error instanceof Error && (error as { code?: unknown }).code === QUERY_CANCELED) {
    return new QueryTimeout('query took too long', { cause: error });
  }
  if (error instanceof StoreUnavailable || !isUnavailable(error)) return error;
  const reason = error instanceof Error && error.message !== '' ? error.message : 'connection failed';
  return new StoreUnavailable(`database unavailable: ${reason}`, { cause: error });
}

/**
 * A LIKE pattern matching `q` anywhere, with `%`, `_` and `\` in q taken literally (backslash is
 * LIKE's default escape character). A pg_trgm GIN index serves it; see the migrations.
 */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, '\\$&')}%`;
}

/** The columns of a message, in the order stored() reads them from a JSON array. */
const MESSAGE_COLUMNS = ['message_id', 'from_number', 'to_number', 'ts', 'ts_key', 'text', 'type'];

function nullableText(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

function stored(value: unknown): StoredMessage {
  if (!Array.isArray(value) || value.length !== MESSAGE_COLUMNS.length) throw new Error('unexpected row shape from PostgreSQL');
  const [messageId, from, to, ts, tsKey, text, type] = value as unknown[];
  if (
    typeof messageId !== 'string' ||
    typeof from !== 'string' ||
    typeof to !== 'string' ||
    typeof ts !== 'string' ||
    typeof tsKey !== 'string' ||
    !nullableText(text) ||
    !nullableText(type)
  ) {
    throw new Error('unexpected row types from PostgreSQL');
  }
  return withType({ messageId, from, to, ts, tsKey, text }, type);
}

function storedStatus(value: unknown): StoredStatus {
  if (!Array.isArray(value) || value.length !== 4) throw new Error('unexpected status shape from PostgreSQL');
  const [status, ts, recipientId, errors] = value as unknown[];
  if (typeof ts !== 'string' || !nullableText(recipientId) || !nullableText(errors)) {
    throw new Error('unexpected status types from PostgreSQL');
  }
  return { status: asStatusName(status), ts, recipientId, errors };
}

function storedDeadLetter(value: unknown): StoredDeadLetter {
  if (!Array.isArray(value) || value.length !== 7) throw new Error('unexpected dead letter shape from PostgreSQL');
  const [id, receivedAt, source, kind, reason, item, itemId] = value as unknown[];
  if (
    typeof id !== 'number' ||
    typeof receivedAt !== 'string' ||
    typeof source !== 'string' ||
    typeof reason !== 'string' ||
    typeof item !== 'string' ||
    !nullableText(itemId)
  ) {
    throw new Error('unexpected dead letter types from PostgreSQL');
  }
  return { id, source, receivedAt, kind: asDeadLetterKind(kind), reason, item, itemId };
}

function senderCount(value: unknown): SenderCount {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'number') {
    throw new Error('unexpected sender count from PostgreSQL');
  }
  return { from: value[0], count: value[1] };
}

/**
 * One statement for the whole batch: the rows arrive as arrays, one per column, unnested WITH
 * ORDINALITY. They are inserted in message_id order (ties by position), so that concurrent batches
 * of several replicas take their row locks in one global order and cannot deadlock, and the first
 * occurrence of a message_id repeated inside the batch is the one inserted.
 */
const INSERT_BATCH = `
  INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, created_at)
  SELECT b.message_id, b.from_number, b.to_number, b.ts, b.ts_key, b.text, b.text_folded, b.type, $9::timestamptz
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
    WITH ORDINALITY AS b (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, position)
  ORDER BY b.message_id COLLATE "C", b.position
  ON CONFLICT (message_id) DO NOTHING
  RETURNING message_id, from_number, ts_key`;

// A delivery's statuses, in key order for the same reason, and a pair repeated inside the
// delivery is inserted from its first occurrence.
const INSERT_STATUSES = `
  INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at)
  SELECT s.message_id, s.status, s.ts, s.ts_key, s.recipient_id, s.errors, $7::timestamptz
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    WITH ORDINALITY AS s (message_id, status, ts, ts_key, recipient_id, errors, position)
  ORDER BY s.message_id COLLATE "C", s.status COLLATE "C", s.position
  ON CONFLICT (message_id, status) DO NOTHING
  RETURNING message_id, status`;

// Dead letters take their ids in the order the delivery lists them, and a redelivered one is kept
// once. Unlike the keys above they are not inserted in key order: only two replicas taking in the
// same partly unreadable envelope at the same moment can wait on each other's rows, and if that
// ever ends in a deadlock, PostgreSQL fails one delivery (503), which the provider then retries.
const INSERT_DEAD_LETTERS = `
  INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id)
  SELECT $1::timestamptz, $2, d.kind, d.reason, d.item, d.item_hash, d.item_id
  FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    WITH ORDINALITY AS d (kind, reason, item, item_hash, item_id, position)
  ORDER BY d.position
  ON CONFLICT (source, kind, item_hash) DO NOTHING`;

// The aggregates of the rows just inserted, each in key order for the same reason as above; the
// totals row, which every batch updates, comes last so it is held for the shortest time.
const ADD_SENDERS = `
  INSERT INTO sender_counts AS c (sender, count)
  SELECT s.sender, s.count FROM unnest($1::text[], $2::bigint[]) AS s (sender, count) ORDER BY s.sender COLLATE "C"
  ON CONFLICT (sender) DO UPDATE SET count = c.count + excluded.count
  RETURNING sender, count`;
const ADD_HOURS = `
  INSERT INTO hour_counts AS c (hour, count)
  SELECT h.hour, h.count FROM unnest($1::text[], $2::bigint[]) AS h (hour, count) ORDER BY h.hour COLLATE "C"
  ON CONFLICT (hour) DO UPDATE SET count = c.count + excluded.count`;
const ADD_TOTALS = 'UPDATE totals SET messages = messages + $1, senders = senders + $2 WHERE id = 1';

const STATS = `
  SELECT t.messages, t.senders,
    (SELECT coalesce(json_agg(json_build_array(s.sender, s.count) ORDER BY s.count DESC, s.sender), '[]')
       FROM (SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT $1) AS s) AS top,
    (SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS first_ts,
    (SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last_ts
  FROM totals AS t WHERE t.id = 1`;

// One statement each, so that every part of the answer comes from one snapshot.
const MESSAGE_DETAIL = `
  SELECT
    (SELECT json_build_array(${MESSAGE_COLUMNS.join(', ')}) FROM messages WHERE message_id = $1) AS message,
    (SELECT coalesce(json_agg(json_build_array(status, ts, recipient_id, errors) ORDER BY ${STATUS_ORDER_SQL}), '[]')
       FROM delivery_statuses WHERE message_id = $1) AS statuses`;
// received_at as JavaScript's toISOString writes it: it was stored from one, so no precision is lost.
const DEAD_LETTERS = `
  SELECT (SELECT count(*) FROM dead_letters) AS total,
    (SELECT coalesce(json_agg(json_build_array(d.id, d.received_at, d.source, d.kind, d.reason, d.item, d.item_id) ORDER BY d.id), '[]')
       FROM (SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
                    source, kind, reason, item, item_id
             FROM dead_letters ORDER BY id LIMIT $1 OFFSET $2) AS d) AS rows`;

const HEALTH = 'SELECT (SELECT max(version) FROM schema_migrations) AS version, EXISTS (SELECT 1 FROM messages) AS reachable';

interface InsertedRow {
  message_id: string;
  from_number: string;
  ts_key: string;
}

/** What inserting a batch of messages did: positional outcomes, and the rows the aggregates must count. */
interface InsertedMessages {
  readonly outcomes: InsertOutcome[];
  readonly inserted: InsertedRow[];
}

/** Outcomes by position: of the items with one key, the first is the one created, if the key was inserted. */
function positional<T>(items: readonly T[], keyOf: (item: T) => string, insertedKeys: Iterable<string>): InsertOutcome[] {
  const created = new Set(insertedKeys);
  return items.map((item): InsertOutcome => (created.delete(keyOf(item)) ? 'created' : 'duplicate'));
}

/** A (message id, status) pair as one string; JSON keeps any two different pairs apart. */
function statusKey(messageId: string, status: string): string {
  return JSON.stringify([messageId, status]);
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

export class PostgresStore implements MessageStore {
  readonly #pool: pg.Pool;
  readonly #timeouts: PostgresTimeouts;
  readonly #now: () => Date;
  readonly #poolMax: number;
  /**
   * BEGIN with the writes' statement_timeout, plus SET LOCAL synchronous_commit when the
   * database would otherwise acknowledge before the disk has it.
   */
  readonly #begin: string;
  /** Client side: how long a read waits for any answer (its server-side limit, plus the margin queryMs gives writes). */
  readonly #readQueryMs: number;
  #closed = false;

  /** Connects, checks the database, applies the migrations, and returns the store; rejects when any step fails. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
    const migrator = new pg.Client({
      ...connectionConfig(options.url, timeouts),
      statement_timeout: timeouts.migrationMs,
      query_timeout: timeouts.migrationMs,
    });
    // An error event on a connection nobody is querying must never crash the process.
    migrator.on('error', () => {});
    let forceSync: boolean;
    try {
      await migrator.connect();
      const settings = await migrator.query<{ encoding: string; sync: string }>(
        "SELECT current_setting('server_encoding') AS encoding, current_setting('synchronous_commit') AS sync",
      );
      const { encoding, sync } = settings.rows[0] ?? { encoding: 'unknown', sync: 'on' };
      if (encoding !== 'UTF8') {
        throw new Error(
          `the database encoding is ${encoding}; webhook-inbox needs a UTF8 database (CREATE DATABASE … ENCODING 'UTF8')`,
        );
      }
      // An acknowledged message must survive a crash of the database too; with
      // synchronous_commit=off, COMMIT returns before the WAL reaches the disk.
      forceSync = sync === 'off';
      const result = await migratePostgres(migrator);
      if (!result.trigramIndex) {
        options.logger?.warn(
          { problem: result.trigramProblem },
          'PostgreSQL: pg_trgm is not available, so ?q= searches scan the messages instead of using a trigram index',
        );
      }
      if (result.applied.length > 0) options.logger?.info({ versions: result.applied }, 'PostgreSQL: schema migrated');
    } catch (error) {
      throw classify(error, 'write');
    } finally {
      await migrator.end().catch(() => {});
    }
    return new PostgresStore(options, timeouts, forceSync);
  }

  private constructor(options: PostgresStoreOptions, timeouts: PostgresTimeouts, forceSync: boolean) {
    this.#timeouts = timeouts;
    this.#now = options.now ?? (() => new Date());
    this.#poolMax = options.poolMax;
    // The session's statement_timeout is the reads' limit: each read is one statement outside any
    // transaction, so it needs no round trip of its own to set it. Writes, always in a transaction,
    // put their own limit back with SET LOCAL in the same message as their BEGIN.
    const readTimeoutMs = Math.trunc(options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS);
    this.#readQueryMs = readTimeoutMs + Math.max(0, timeouts.queryMs - timeouts.statementMs);
    this.#begin = [
      'BEGIN',
      `SET LOCAL statement_timeout = ${Math.trunc(timeouts.statementMs)}`,
      ...(forceSync ? ['SET LOCAL synchronous_commit = on'] : []),
    ].join('; ');
    this.#pool = new pg.Pool({
      ...connectionConfig(options.url, timeouts),
      max: options.poolMax,
      idleTimeoutMillis: timeouts.idleMs,
      statement_timeout: readTimeoutMs,
      query_timeout: timeouts.queryMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    });
    const logger = options.logger;
    // An idle connection that breaks (the server restarted, a network blip) is dropped by the
    // pool and replaced on the next checkout; without these listeners the 'error' event would
    // crash the process. A connection checked out by this store gets one too, for the moments
    // between two queries of a transaction.
    this.#pool.on('error', (error) => {
      logger?.warn({ error: error.message }, 'PostgreSQL: an idle connection failed and was dropped');
    });
    this.#pool.on('connect', (client) => {
      client.on('error', () => {});
    });
  }

  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    return (await this.storeDelivery(messagesOnly(messages))).messages;
  }

  async storeDelivery(delivery: Delivery): Promise<DeliveryOutcome> {
    if (this.#closed) throw new Error('the store is closed');
    const { messages, statuses, deadLetters } = delivery;
    if (messages.length === 0 && statuses.length === 0 && deadLetters.length === 0) return { messages: [], statuses: [] };
    const createdAt = this.#now().toISOString();
    return this.#transaction(async (client) => {
      // Every transaction of every replica takes its locks in one order: messages, statuses, then
      // the aggregates with the totals row last (a part that has no rows is skipped), and rows in
      // key order inside each table. Two transactions may wait for each other, never in a cycle.
      const stored: InsertedMessages =
        messages.length > 0 ? await this.#insertMessages(client, messages, createdAt) : { outcomes: [], inserted: [] };
      const statusOutcomes = statuses.length > 0 ? await this.#insertStatuses(client, statuses, createdAt) : [];
      if (deadLetters.length > 0) await this.#insertDeadLetters(client, deadLetters, delivery.source, createdAt);
      if (stored.inserted.length > 0) await this.#addAggregates(client, stored.inserted);
      return { messages: stored.outcomes, statuses: statusOutcomes };
    });
  }

  /**
   * Runs `work` in one transaction on a pooled connection and resolves once it has committed;
   * rejects, with nothing committed, when any statement fails.
   */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect().catch((error: unknown) => {
        throw classify(error, 'write');
      });
      let begun = false;
      let broken = false;
      try {
        await client.query(this.#begin);
        begun = true;
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // Never ROLLBACK on a connection in an unknown state: dropping it makes the server roll the
        // transaction back, and the pool opens a fresh one.
        broken = true;
        // A pooled connection the server had already ended (a restart, a failover) fails on its
        // first statement, before anything began: take another. Once begun, a failure is final
        // for this batch (503, the senders retry); it is never replayed blind.
        if (!begun && isStaleConnection(error) && attempt <= this.#poolMax) continue;
        throw classify(error, 'write');
      } finally {
        client.release(broken);
      }
    }
  }

  /** Inserts the messages (not their aggregates, which #addAggregates adds). */
  async #insertMessages(
    client: pg.PoolClient,
    messages: readonly IncomingMessage[],
    createdAt: string,
  ): Promise<InsertedMessages> {
    const inserted = await client.query<InsertedRow>(INSERT_BATCH, [
      messages.map((m) => m.messageId),
      messages.map((m) => m.from),
      messages.map((m) => m.to),
      messages.map((m) => m.ts),
      messages.map((m) => m.tsKey),
      messages.map((m) => m.text),
      messages.map((m) => (m.text === null ? null : foldCase(m.text))),
      messages.map((m) => m.type ?? null),
      createdAt,
    ]);
    // The first occurrence of an id that this batch inserted is the one created.
    const outcomes = positional(
      messages,
      (m) => m.messageId,
      inserted.rows.map((r) => r.message_id),
    );
    return { outcomes, inserted: inserted.rows };
  }

  async #insertStatuses(client: pg.PoolClient, statuses: readonly DeliveryStatus[], createdAt: string): Promise<InsertOutcome[]> {
    const inserted = await client.query<{ message_id: string; status: string }>(INSERT_STATUSES, [
      statuses.map((s) => s.messageId),
      statuses.map((s) => s.status),
      statuses.map((s) => s.ts),
      statuses.map((s) => s.tsKey),
      statuses.map((s) => s.recipientId),
      statuses.map((s) => s.errors),
      createdAt,
    ]);
    return positional(
      statuses,
      (s) => statusKey(s.messageId, s.status),
      inserted.rows.map((r) => statusKey(r.message_id, r.status)),
    );
  }

  async #insertDeadLetters(
    client: pg.PoolClient,
    deadLetters: readonly DeadLetter[],
    source: string,
    receivedAt: string,
  ): Promise<void> {
    await client.query(INSERT_DEAD_LETTERS, [
      receivedAt,
      source,
      deadLetters.map((d) => d.kind),
      deadLetters.map((d) => d.reason),
      deadLetters.map((d) => d.item),
      deadLetters.map((d) => deadLetterHash(d.item)),
      deadLetters.map((d) => d.itemId),
    ]);
  }

  async #addAggregates(client: pg.PoolClient, rows: readonly InsertedRow[]): Promise<void> {
    const perSender = countBy(rows, (r) => r.from_number);
    const perHour = countBy(rows, (r) => r.ts_key.slice(0, 13));
    const senders = await client.query<{ sender: string; count: string }>(ADD_SENDERS, [
      [...perSender.keys()],
      [...perSender.values()],
    ]);
    // A sender whose count is now exactly what this batch added was not there before.
    const newSenders = senders.rows.filter((r) => Number(r.count) === perSender.get(r.sender)).length;
    await client.query(ADD_HOURS, [[...perHour.keys()], [...perHour.values()]]);
    await client.query(ADD_TOTALS, [rows.length, newSenders]);
  }

  async listMessages(filter: MessageFilter, page: Page): Promise<MessagePage> {
    if (this.#closed) throw new Error('the store is closed');
    // PostgreSQL text cannot carry U+0000, and no stored message holds one (validation refuses
    // it), so a sender or search term containing it matches nothing, exactly as it would if the
    // database could compare it.
    if (filter.from?.includes('\0') || filter.q?.includes('\0')) return { data: [], total: 0, hasMore: false };
    const params: (string | number)[] = [];
    const param = (value: string | number): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const where: string[] = [];
    let from: string | undefined;
    let since: string | undefined;
    if (filter.from !== undefined) {
      from = param(filter.from);
      where.push(`from_number = ${from}`);
    }
    if (filter.sinceKey !== undefined) {
      since = param(filter.sinceKey);
      where.push(`ts_key >= ${since}`);
    }
    // Folded on both sides by the same function, so case-insensitivity is exactly SQLite's.
    if (filter.q !== undefined) where.push(`text_folded LIKE ${param(containsPattern(foldCase(filter.q)))}`);

    let count: string;
    if (where.length === 0) count = 'SELECT messages FROM totals WHERE id = 1';
    else if (where.length === 1 && from !== undefined) {
      count = `SELECT coalesce((SELECT count FROM sender_counts WHERE sender = ${from}), 0)`;
    } else if (where.length === 1 && since !== undefined) {
      // Whole hours after the one `since` falls in, plus the rows of that hour at or after it.
      count = `SELECT (SELECT coalesce(sum(count), 0) FROM hour_counts WHERE hour > left(${since}, 13))
        + (SELECT count(*) FROM messages WHERE ts_key >= ${since} AND ts_key < left(${since}, 13) || ';')`;
    } else count = `SELECT count(*) FROM messages WHERE ${where.join(' AND ')}`;

    // A position whose message_id holds U+0000 (a crafted cursor) is cut before it: no stored id
    // holds one, so the ids after 'm\0…' are exactly the ids after 'm'.
    const afterId = page.after?.messageId.split('\0', 1)[0];
    const paged =
      page.after === undefined
        ? where
        : [...where, `(ts_key, message_id) > (${param(page.after.tsKey)}, ${param(afterId ?? '')})`];
    const rows = `SELECT ${MESSAGE_COLUMNS.join(', ')} FROM messages
      ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
      ORDER BY ts_key, message_id LIMIT ${param(page.limit + 1)} OFFSET ${param(page.offset)}`;
    // One statement, so the page and its total come from one snapshot.
    const sql = `SELECT (${count}) AS total,
      (SELECT coalesce(json_agg(json_build_array(${MESSAGE_COLUMNS.map((c) => `r.${c}`).join(', ')})
         ORDER BY r.ts_key, r.message_id), '[]') FROM (${rows}) AS r) AS rows`;
    const result = await this.#read<{ total: string; rows: unknown }>(sql, params);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.rows)) throw new Error('unexpected answer from PostgreSQL');
    const found = row.rows.map(stored);
    const hasMore = found.length > page.limit;
    return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(row.total), hasMore };
  }

  async getMessage(messageId: string): Promise<MessageDetail | null> {
    if (this.#closed) throw new Error('the store is closed');
    if (!isStorableId(messageId)) return null;
    const result = await this.#read<{ message: unknown; statuses: unknown }>(MESSAGE_DETAIL, [messageId]);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.statuses)) throw new Error('unexpected answer from PostgreSQL');
    const statuses = row.statuses.map(storedStatus);
    if (row.message === null && statuses.length === 0) return null;
    return { messageId, message: row.message === null ? null : stored(row.message), statuses };
  }

  async listDeadLetters(page: { readonly limit: number; readonly offset: number }): Promise<DeadLetterPage> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#read<{ total: string; rows: unknown }>(DEAD_LETTERS, [page.limit, page.offset]);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.rows)) throw new Error('unexpected answer from PostgreSQL');
    return { data: row.rows.map(storedDeadLetter), total: Number(row.total) };
  }

  async stats(topSenders: number): Promise<Stats> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#read<{
      messages: string;
      senders: string;
      top: unknown;
      first_ts: string | null;
      last_ts: string | null;
    }>(STATS, [topSenders]);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.top)) throw new Error('unexpected answer from PostgreSQL');
    return {
      totalMessages: Number(row.messages),
      sendersCount: Number(row.senders),
      messagesPerSender: row.top.map(senderCount),
      firstMessageTs: row.first_ts,
      lastMessageTs: row.last_ts,
    };
  }

  async checkHealth(): Promise<void> {
    if (this.#closed) throw new Error('database is closed');
    const result = await this.#read<{ version: number | null }>(HEALTH, [], this.#timeouts.healthMs);
    const version = result.rows[0]?.version ?? null;
    if (version !== POSTGRES_SCHEMA_VERSION) {
      throw new Error(`schema version is ${String(version)}, expected ${POSTGRES_SCHEMA_VERSION}`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #read<R extends pg.QueryResultRow>(text: string, values: unknown[], timeoutMs?: number): Promise<pg.QueryResult<R>> {
    const query = { text, values, query_timeout: timeoutMs ?? this.#readQueryMs };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#pool.query<R>(query);
      } catch (error) {
        // Reads change nothing: one that met a connection the server had already ended is
        // simply run again on another (each stale one is dropped as it fails).
        if (isStaleConnection(error) && attempt <= this.#poolMax) continue;
        throw classify(error, 'read');
      }
    }
  }
}

/** What every connection of the store shares: where, how long to wait for it, and its encoding. */
function connectionConfig(url: string, timeouts: PostgresTimeouts): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: timeouts.connectMs,
    // A peer that vanished without closing the socket is noticed by TCP keepalives.
    keepAlive: true,
    application_name: 'webhook-inbox',
    client_encoding: 'UTF8',
  };
}
