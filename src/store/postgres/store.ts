// The PostgreSQL MessageStore, for several replicas on one database: a bounded pool, one
// transaction per group-commit batch or provider delivery (multi-row INSERT … ON CONFLICT DO
// NOTHING statements plus the aggregates), and timeouts everywhere so that a database that stops
// or hangs turns into errors (503) instead of requests that wait forever. The pool replaces broken
// connections by itself.

import type pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { aggregateDeltas, type ConversationDelta } from '../aggregates.js';
import { deadLetterHash, isStorableId, messagesOnly, rawToStore } from '../delivery-rows.js';
import {
  type BucketCount,
  type ConversationFilter,
  type ConversationPage,
  type ConversationPosition,
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
  type Stats,
  type TimeseriesQuery,
} from '../store.js';
import { bucketCounts } from '../timeseries.js';
import { DEFAULT_POSTGRES_TIMEOUTS, migrationClient, PostgresPool, type PostgresTimeouts } from './connection.js';
import { classify } from './errors.js';
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from './migrations.js';
import { hourCount, senderCount, storedConversation, storedDeadLetter, storedMessage, storedStatus } from './rows.js';
import {
  ADD_CONVERSATIONS,
  ADD_HOURS,
  ADD_RECIPIENTS,
  ADD_SENDERS,
  ADD_TOTALS,
  ADD_TYPES,
  DEAD_LETTERS,
  HEALTH,
  INSERT_BATCH,
  INSERT_DEAD_LETTERS,
  INSERT_STATUSES,
  listConversationsQuery,
  listMessagesQuery,
  MESSAGE_DETAIL,
  STATS,
  timeseriesQuery,
} from './sql.js';

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

/** What inserting a batch of messages did: positional outcomes, and the messages the aggregates must count. */
interface InsertedMessages {
  readonly outcomes: InsertOutcome[];
  readonly created: IncomingMessage[];
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

/** A (from, to) pair as one string, as statusKey. */
function pairKey(from: string, to: string): string {
  return JSON.stringify([from, to]);
}

/** The arrays ADD_CONVERSATIONS unnests, one per column. */
function conversationArrays(deltas: readonly ConversationDelta[]): unknown[] {
  return [
    deltas.map((c) => c.from),
    deltas.map((c) => c.to),
    deltas.map((c) => c.count),
    deltas.map((c) => c.first.tsKey),
    deltas.map((c) => c.first.messageId),
    deltas.map((c) => c.first.ts),
    deltas.map((c) => c.last.tsKey),
    deltas.map((c) => c.last.messageId),
    deltas.map((c) => c.last.ts),
    deltas.map((c) => c.last.text),
    deltas.map((c) => c.last.type),
    deltas.map((c) => c.contact?.name ?? null),
    deltas.map((c) => c.contact?.tsKey ?? null),
    deltas.map((c) => c.contact?.messageId ?? null),
  ];
}

/** U+0000 cannot be in PostgreSQL text, nor in any stored value: a filter holding it matches nothing. */
function holdsNul(...values: (string | undefined)[]): boolean {
  return values.some((value) => value?.includes('\0'));
}

export class PostgresStore implements MessageStore {
  readonly #pool: PostgresPool;
  readonly #timeouts: PostgresTimeouts;
  readonly #now: () => Date;
  #closed = false;

  /** Connects, checks the database, applies the migrations, and returns the store; rejects when any step fails. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
    const migrator = migrationClient(options.url, timeouts);
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
    this.#pool = new PostgresPool({
      url: options.url,
      poolMax: options.poolMax,
      timeouts,
      readTimeoutMs: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
      forceSync,
      logger: options.logger,
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
    return this.#pool.transaction(async (client) => {
      // Every transaction of every replica takes its locks in one order: messages, statuses, then
      // the aggregates with the totals row last (a part that has no rows is skipped), and rows in
      // key order inside each table. Two transactions may wait for each other, never in a cycle.
      const stored: InsertedMessages =
        messages.length > 0 ? await this.#insertMessages(client, messages, createdAt) : { outcomes: [], created: [] };
      const statusOutcomes = statuses.length > 0 ? await this.#insertStatuses(client, statuses, createdAt) : [];
      if (deadLetters.length > 0) await this.#insertDeadLetters(client, deadLetters, delivery.source, createdAt);
      if (stored.created.length > 0) await this.#addAggregates(client, stored.created);
      return { messages: stored.outcomes, statuses: statusOutcomes };
    });
  }

  /** Inserts the messages (not their aggregates, which #addAggregates adds). */
  async #insertMessages(
    client: pg.PoolClient,
    messages: readonly IncomingMessage[],
    createdAt: string,
  ): Promise<InsertedMessages> {
    const inserted = await client.query<{ message_id: string }>(INSERT_BATCH, [
      messages.map((m) => m.messageId),
      messages.map((m) => m.from),
      messages.map((m) => m.to),
      messages.map((m) => m.ts),
      messages.map((m) => m.tsKey),
      messages.map((m) => m.text),
      messages.map((m) => (m.text === null ? null : foldCase(m.text))),
      messages.map((m) => m.type ?? null),
      messages.map((m) => m.origin?.source ?? null),
      messages.map(rawToStore),
      messages.map((m) => m.origin?.contactName ?? null),
      messages.map((m) => m.origin?.replyTo ?? null),
      messages.map((m) => m.origin?.phoneNumberId ?? null),
      createdAt,
    ]);
    // The first occurrence of an id that this batch inserted is the one created: its fields are
    // the row's, and the aggregates count them.
    const insertedIds = inserted.rows.map((r) => r.message_id);
    const outcomes = positional(messages, (m) => m.messageId, insertedIds);
    const firsts = new Map<string, IncomingMessage>();
    for (const m of messages) if (!firsts.has(m.messageId)) firsts.set(m.messageId, m);
    const created = insertedIds.map((id) => {
      const m = firsts.get(id);
      if (m === undefined) throw new Error(`PostgreSQL returned a message_id the batch does not hold: ${id}`);
      return m;
    });
    return { outcomes, created };
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

  /** The aggregates of the messages just created, one multi-row upsert per table, in the order sql.ts gives. */
  async #addAggregates(client: pg.PoolClient, created: readonly IncomingMessage[]): Promise<void> {
    const deltas = aggregateDeltas(created);
    const arrays = (counts: Map<string, number>): unknown[] => [[...counts.keys()], [...counts.values()]];
    const senders = await client.query<{ sender: string; count: string }>(ADD_SENDERS, arrays(deltas.perSender));
    // A sender whose count is now exactly what this batch added was not there before.
    const newSenders = senders.rows.filter((r) => Number(r.count) === deltas.perSender.get(r.sender)).length;
    await client.query(ADD_RECIPIENTS, arrays(deltas.perRecipient));
    if (deltas.perType.size > 0) await client.query(ADD_TYPES, arrays(deltas.perType));
    await client.query(ADD_HOURS, arrays(deltas.perHour));
    const conversations = await client.query<{ from_number: string; to_number: string; messages: string }>(
      ADD_CONVERSATIONS,
      conversationArrays(deltas.conversations),
    );
    // Likewise a conversation whose count is now exactly the delta's.
    const added = new Map(deltas.conversations.map((c) => [pairKey(c.from, c.to), c.count]));
    const newConversations = conversations.rows.filter(
      (r) => Number(r.messages) === added.get(pairKey(r.from_number, r.to_number)),
    ).length;
    await client.query(ADD_TOTALS, [created.length, newSenders, newConversations]);
  }

  async listMessages(filter: MessageFilter, page: Page): Promise<MessagePage> {
    if (this.#closed) throw new Error('the store is closed');
    // PostgreSQL text cannot carry U+0000, and no stored message holds one (validation refuses
    // it), so a sender, recipient, type or search term containing it matches nothing, exactly as
    // it would if the database could compare it.
    if (holdsNul(filter.from, filter.to, filter.type, filter.q)) return { data: [], total: 0, hasMore: false };
    const { text, values } = listMessagesQuery(filter, page);
    const result = await this.#pool.read<{ total: string; rows: unknown }>(text, values);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.rows)) throw new Error('unexpected answer from PostgreSQL');
    const found = row.rows.map(storedMessage);
    const hasMore = found.length > page.limit;
    return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(row.total), hasMore };
  }

  async listConversations(
    filter: ConversationFilter,
    page: { readonly limit: number; readonly after?: ConversationPosition },
  ): Promise<ConversationPage> {
    if (this.#closed) throw new Error('the store is closed');
    if (holdsNul(filter.from, filter.to)) return { data: [], total: 0, hasMore: false };
    const { text, values } = listConversationsQuery(filter, page);
    const result = await this.#pool.read<{ total: string; rows: unknown }>(text, values);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.rows)) throw new Error('unexpected answer from PostgreSQL');
    const found = row.rows.map(storedConversation);
    const hasMore = found.length > page.limit;
    return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(row.total), hasMore };
  }

  async timeseries(query: TimeseriesQuery): Promise<BucketCount[]> {
    if (this.#closed) throw new Error('the store is closed');
    const statement = timeseriesQuery(query);
    if (statement === null) return [];
    const result = await this.#pool.read<{ hours: unknown }>(statement.text, statement.values);
    const hours = result.rows[0]?.hours;
    if (!Array.isArray(hours)) throw new Error('unexpected answer from PostgreSQL');
    return bucketCounts(query.bucket, hours.map(hourCount));
  }

  async getMessage(messageId: string): Promise<MessageDetail | null> {
    if (this.#closed) throw new Error('the store is closed');
    if (!isStorableId(messageId)) return null;
    const result = await this.#pool.read<{ message: unknown; statuses: unknown }>(MESSAGE_DETAIL, [messageId]);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.statuses)) throw new Error('unexpected answer from PostgreSQL');
    const statuses = row.statuses.map(storedStatus);
    if (row.message === null && statuses.length === 0) return null;
    return { messageId, message: row.message === null ? null : storedMessage(row.message), statuses };
  }

  async listDeadLetters(page: { readonly limit: number; readonly offset: number }): Promise<DeadLetterPage> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#pool.read<{ total: string; rows: unknown }>(DEAD_LETTERS, [page.limit, page.offset]);
    const row = result.rows[0];
    if (row === undefined || !Array.isArray(row.rows)) throw new Error('unexpected answer from PostgreSQL');
    return { data: row.rows.map(storedDeadLetter), total: Number(row.total) };
  }

  async stats(topSenders: number): Promise<Stats> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#pool.read<{
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
    const result = await this.#pool.read<{ version: number | null }>(HEALTH, [], this.#timeouts.healthMs);
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
}
