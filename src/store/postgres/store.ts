// The PostgreSQL MessageStore, for several replicas on one database: a bounded pool, one
// transaction per group-commit batch, provider delivery or import (multi-row INSERT … ON CONFLICT
// DO NOTHING statements plus the aggregates and the feed's events), one per erasure or retention
// batch (the rows, their events and their share of the aggregates, then a VACUUM soon after), and
// timeouts everywhere so that a database that stops or hangs turns into errors (503) instead of
// requests that wait forever. The pool replaces broken connections by itself.

import type pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { aggregateDeltas, type ConversationDelta, type RemovedMessage, removalDeltas } from '../aggregates.js';
import { deadLetterHash, isStorableId, messagesOnly, rawToStore } from '../delivery-rows.js';
import { detailed, type ExportChunk, type ExportFormat, formatChunk } from '../export-format.js';
import { feedJsonOf } from '../feed-json.js';
import { type ImportSequence, ImportSequences } from '../import-sequence.js';
import { NOTHING_REMOVED, type PurgeCandidate, purgeBatch, storedInstant } from '../retention.js';
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
  type FeedEvent,
  type FeedEventType,
  type FeedHead,
  type FeedJson,
  type FeedQuery,
  foldCase,
  type ImportedMessage,
  type IncomingMessage,
  type InsertOutcome,
  type MessageDetail,
  type MessageFilter,
  type MessagePage,
  type MessageStore,
  type Page,
  type Position,
  type Removal,
  type Stats,
  type StoredMessage,
  type TimeseriesQuery,
} from '../store.js';
import { bucketCounts } from '../timeseries.js';
import { DEFAULT_POSTGRES_TIMEOUTS, listenerClient, migrationClient, PostgresPool, type PostgresTimeouts } from './connection.js';
import { classify } from './errors.js';
import { FeedWatch } from './feed-watch.js';
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from './migrations.js';
import {
  feedEvent,
  feedHead,
  hourCount,
  senderCount,
  storedConversation,
  storedDeadLetter,
  storedMessage,
  storedStatus,
} from './rows.js';
import {
  ADD_CONVERSATIONS,
  ADD_EVENTS,
  ADD_HOURS,
  ADD_IMPORTED_EVENTS,
  ADD_RECIPIENTS,
  ADD_SENDERS,
  ADD_TOTALS,
  ADD_TYPES,
  DEAD_LETTERS,
  DELETE_CONVERSATION_MESSAGES,
  DELETE_DEAD_LETTERS,
  DELETE_EVENTS,
  DELETE_MESSAGES,
  DELETE_SENDER_MESSAGES,
  DELETE_STATUS_PAIRS,
  DELETE_STATUSES_OF,
  DROP_CONVERSATIONS,
  DROP_EMPTY_COUNTS,
  exportMessagesQuery,
  FEED_CHANNEL,
  FEED_HEAD,
  FEED_HEAD_POSITION,
  HEALTH,
  IMPORT_BATCH,
  INSERT_BATCH,
  INSERT_DEAD_LETTERS,
  INSERT_STATUSES,
  LOCK_CONVERSATIONS,
  listConversationsQuery,
  listMessagesQuery,
  MESSAGE_DETAIL,
  OLDEST_RECEIVED_AT,
  PURGE_CANDIDATES,
  PURGE_COUNT,
  REFRESH_CONVERSATIONS,
  RETENTION_LOCK,
  readFeedQuery,
  STATS,
  SUBTRACT_CONVERSATIONS,
  TRY_RETENTION_LOCK,
  timeseriesQuery,
  VACUUMED_TABLES,
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
  /** How long after a removal the VACUUM that follows it runs (see #vacuumSoon); 10 seconds when omitted. */
  readonly vacuumDelayMs?: number;
}

const DEFAULT_VACUUM_DELAY_MS = 10_000;
/** The wait before a VACUUM that failed (the database unreachable) is tried again. */
const VACUUM_RETRY_MS = 30_000;

/** What a removal transaction deletes besides its messages (see #removeRows). */
interface RemovalParts {
  /** Ids whose every status goes (the ids of the messages deleted are added). */
  readonly statusesOf: readonly string[];
  /** Statuses that go on their own, as [message id, status]. */
  readonly statusPairs: readonly (readonly [string, string])[];
  readonly deadLetters: readonly number[];
}

/** A message row as a removal's DELETE answers it. */
interface DeletedMessageRow {
  message_id: string;
  from_number: string;
  to_number: string;
  ts_key: string;
  type: string | null;
}

/** What inserting a batch of messages did: positional outcomes, and the messages created, in the batch's order. */
interface InsertedMessages {
  readonly outcomes: InsertOutcome[];
  readonly created: IncomingMessage[];
}

/** What inserting a delivery's statuses did: positional outcomes, and the statuses created, in the delivery's order. */
interface InsertedStatuses {
  readonly outcomes: InsertOutcome[];
  readonly created: DeliveryStatus[];
}

/** The events of a transaction, one array per column of ADD_EVENTS, in the order their positions are handed out. */
interface NewEvents {
  readonly types: FeedEventType[];
  readonly messageIds: (string | null)[];
  readonly statuses: (string | null)[];
  readonly deadLetters: (string | null)[];
}

/** The events of the rows a delivery created: its messages, then its statuses, then its dead letters, each in its order. */
function eventsOf(
  messages: readonly IncomingMessage[],
  statuses: readonly DeliveryStatus[],
  deadLetters: readonly string[],
): NewEvents {
  const events: NewEvents = { types: [], messageIds: [], statuses: [], deadLetters: [] };
  const add = (type: FeedEventType, messageId: string | null, status: string | null, deadLetter: string | null) => {
    events.types.push(type);
    events.messageIds.push(messageId);
    events.statuses.push(status);
    events.deadLetters.push(deadLetter);
  };
  for (const m of messages) add('message.created', m.messageId, null, null);
  for (const s of statuses) add('status.created', s.messageId, s.status, null);
  for (const id of deadLetters) add('dead_letter.created', null, null, id);
  return events;
}

/**
 * Outcomes by position: of the items with one key, the first is the one created, if the key was
 * inserted; and the items created, in the order given. Rejects a key the items do not hold.
 */
function positional<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  insertedKeys: readonly string[],
): { outcomes: InsertOutcome[]; created: T[] } {
  const inserted = new Set(insertedKeys);
  const created: T[] = [];
  const outcomes = items.map((item): InsertOutcome => {
    if (!inserted.delete(keyOf(item))) return 'duplicate';
    created.push(item);
    return 'created';
  });
  if (inserted.size > 0) throw new Error(`PostgreSQL returned a key the batch does not hold: ${[...inserted][0]}`);
  return { outcomes, created };
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
  readonly #url: string;
  readonly #logger: PostgresStoreOptions['logger'];
  /** The feed watches running (see watchFeed), stopped by close(). */
  readonly #watches = new Set<FeedWatch>();
  readonly #vacuumDelayMs: number;
  /** The VACUUM due after removals, until it starts. */
  #vacuumTimer: NodeJS.Timeout | null = null;
  /** Whether a removal since the last VACUUM was an erasure (its VACUUM cleans every index). */
  #vacuumErased = false;
  /** The VACUUM running, which close() waits for. */
  #vacuuming: Promise<void> | null = null;
  #closed = false;
  readonly #sequences = new ImportSequences();

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
    this.#url = options.url;
    this.#logger = options.logger;
    this.#vacuumDelayMs = options.vacuumDelayMs ?? DEFAULT_VACUUM_DELAY_MS;
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
    if (messages.length === 0 && statuses.length === 0 && deadLetters.length === 0) {
      return { messages: [], statuses: [], deadLetters: [] };
    }
    const createdAt = this.#now().toISOString();
    return this.#pool.transaction(async (client) => {
      // Every transaction of every replica takes its locks in one order: messages, statuses, dead
      // letters, then the aggregates with the totals row, then the feed_head row last (a part that
      // has no rows is skipped), and rows in key order inside each table. Two transactions may
      // wait for each other, never in a cycle. feed_head being last keeps it so: once a
      // transaction has it, the only locks it still takes are its events' new keys (positions no
      // one else has) and, at COMMIT, the lock that serializes NOTIFY, whose holder is always
      // committing and waits for nothing; so the holder of feed_head never waits for a
      // transaction that waits for it. Last is also best for throughput: feed_head is held until
      // COMMIT and so serializes every writing transaction from there on, where only the events
      // statement and the COMMIT remain (the totals row, held just as long, already serializes
      // every transaction that creates messages).
      const noMessages: InsertedMessages = { outcomes: [], created: [] };
      const stored = messages.length > 0 ? await this.#insertMessages(client, messages, createdAt) : noMessages;
      const noStatuses: InsertedStatuses = { outcomes: [], created: [] };
      const storedStatuses = statuses.length > 0 ? await this.#insertStatuses(client, statuses, createdAt) : noStatuses;
      const keptLetters =
        deadLetters.length > 0
          ? await this.#insertDeadLetters(client, deadLetters, delivery.source, createdAt)
          : { ids: [], outcomes: [] };
      const deadLetterIds = keptLetters.ids;
      if (stored.created.length > 0) await this.#addAggregates(client, stored.created);
      const events = eventsOf(stored.created, storedStatuses.created, deadLetterIds);
      // A transaction that created nothing has no events and takes no position: it never waits for feed_head.
      if (events.types.length > 0) {
        await client.query(ADD_EVENTS, [
          events.types.length,
          events.types,
          events.messageIds,
          events.statuses,
          events.deadLetters,
          createdAt,
        ]);
      }
      return { messages: stored.outcomes, statuses: storedStatuses.outcomes, deadLetters: keptLetters.outcomes };
    });
  }

  /**
   * Inserts the messages (not their aggregates, which #addAggregates adds), all received at
   * `createdAt`, or (an import) each at its own received_at, by position.
   */
  async #insertMessages(
    client: pg.PoolClient,
    messages: readonly IncomingMessage[],
    createdAt: string | readonly string[],
  ): Promise<InsertedMessages> {
    const inserted = await client.query<{ message_id: string }>(typeof createdAt === 'string' ? INSERT_BATCH : IMPORT_BATCH, [
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
    return positional(
      messages,
      (m) => m.messageId,
      inserted.rows.map((r) => r.message_id),
    );
  }

  async #insertStatuses(
    client: pg.PoolClient,
    statuses: readonly DeliveryStatus[],
    createdAt: string,
  ): Promise<InsertedStatuses> {
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

  /**
   * Inserts the dead letters; answers the ids of those created, in the delivery's order (ids
   * increase in it), and the positional outcomes (the first of a repeated item is the one created).
   */
  async #insertDeadLetters(
    client: pg.PoolClient,
    deadLetters: readonly DeadLetter[],
    source: string,
    receivedAt: string,
  ): Promise<{ ids: string[]; outcomes: InsertOutcome[] }> {
    const inserted = await client.query<{ id: string; kind: string; item_hash: string }>(INSERT_DEAD_LETTERS, [
      receivedAt,
      source,
      deadLetters.map((d) => d.kind),
      deadLetters.map((d) => d.reason),
      deadLetters.map((d) => d.item),
      deadLetters.map((d) => deadLetterHash(d.item)),
      deadLetters.map((d) => d.itemId),
    ]);
    // bigint arrives as text: compared as numbers.
    const ids = inserted.rows
      .map((r) => BigInt(r.id))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map(String);
    const { outcomes } = positional(
      deadLetters,
      (d) => JSON.stringify([d.kind, deadLetterHash(d.item)]),
      inserted.rows.map((r) => JSON.stringify([r.kind, r.item_hash])),
    );
    return { ids, outcomes };
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

  /**
   * Like a batch (the same statements and lock order), each message at its own received_at, which
   * its feed event takes too.
   */
  async importMessages(messages: readonly ImportedMessage[], sequence?: ImportSequence): Promise<InsertOutcome[]> {
    if (this.#closed) throw new Error('the store is closed');
    // Two imports could run side by side on two connections: those of a sequence wait their turn.
    return this.#sequences.run(sequence, () => this.#importMessages(messages), { ordered: true });
  }

  async #importMessages(messages: readonly ImportedMessage[]): Promise<InsertOutcome[]> {
    if (messages.length === 0) return [];
    const receivedAt = messages.map((m) => storedInstant(m.receivedAt, `receivedAt of ${m.messageId}`));
    const at = new Map<IncomingMessage, string>(messages.map((m, i) => [m, receivedAt[i] ?? '']));
    return this.#pool.transaction(async (client) => {
      const stored = await this.#insertMessages(client, messages, receivedAt);
      if (stored.created.length === 0) return stored.outcomes;
      await this.#addAggregates(client, stored.created);
      const events = eventsOf(stored.created, [], []);
      await client.query(ADD_IMPORTED_EVENTS, [
        events.types.length,
        events.types,
        events.messageIds,
        events.statuses,
        events.deadLetters,
        stored.created.map((m) => at.get(m)),
      ]);
      return stored.outcomes;
    });
  }

  async eraseMessage(messageId: string): Promise<Removal> {
    if (this.#closed) throw new Error('the store is closed');
    if (!isStorableId(messageId)) return NOTHING_REMOVED;
    const removed = await this.#pool.transaction(async (client) => {
      const deleted = await client.query<DeletedMessageRow>(DELETE_MESSAGES, [[messageId]]);
      return this.#removeRows(client, deleted.rows, { statusesOf: [messageId], statusPairs: [], deadLetters: [] });
    });
    this.#vacuumSoon(removed, true);
    return removed;
  }

  async eraseConversation(filter: { readonly from: string; readonly to?: string }): Promise<Removal> {
    if (this.#closed) throw new Error('the store is closed');
    if (holdsNul(filter.from, filter.to)) return NOTHING_REMOVED;
    const removed = await this.#pool.transaction(async (client) => {
      const deleted =
        filter.to === undefined
          ? await client.query<DeletedMessageRow>(DELETE_SENDER_MESSAGES, [filter.from])
          : await client.query<DeletedMessageRow>(DELETE_CONVERSATION_MESSAGES, [filter.from, filter.to]);
      return this.#removeRows(client, deleted.rows, { statusesOf: [], statusPairs: [], deadLetters: [] });
    });
    this.#vacuumSoon(removed, true);
    return removed;
  }

  async countPurge(before: string): Promise<Removal> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#pool.read<{ messages: string; statuses: string; dead_letters: string }>(PURGE_COUNT, [
      storedInstant(before, 'the retention cutoff'),
    ]);
    const row = result.rows[0];
    if (row === undefined) throw new Error('unexpected answer from PostgreSQL');
    return { messages: Number(row.messages), statuses: Number(row.statuses), deadLetters: Number(row.dead_letters) };
  }

  /**
   * One batch, in a transaction that first takes the retention lock (RETENTION_LOCK) without
   * waiting: null, having done nothing, when another replica's batch holds it.
   */
  async purge(before: string, limit: number): Promise<Removal | null> {
    if (this.#closed) throw new Error('the store is closed');
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`a purge batch holds at least 1 row, not ${limit}`);
    const cutoff = storedInstant(before, 'the retention cutoff');
    const removed = await this.#pool.transaction(async (client): Promise<Removal | null> => {
      const lock = await client.query<{ locked: boolean }>(TRY_RETENTION_LOCK, [RETENTION_LOCK]);
      if (lock.rows[0]?.locked !== true) return null;
      const listed = await client.query<{ kind: number; key: string; status: string | null; statuses: string[] | null }>(
        PURGE_CANDIDATES,
        [cutoff, limit],
      );
      const candidates = listed.rows.map((r): PurgeCandidate => {
        if (r.kind === 0) return { kind: 'message', messageId: r.key, statuses: r.statuses ?? [] };
        if (r.kind === 1) return { kind: 'status', messageId: r.key, status: r.status ?? '' };
        return { kind: 'deadLetter', id: Number(r.key) };
      });
      const batch = purgeBatch(candidates, limit);
      const deleted =
        batch.messages.length > 0 ? (await client.query<DeletedMessageRow>(DELETE_MESSAGES, [batch.messages])).rows : [];
      return this.#removeRows(client, deleted, { statusesOf: [], statusPairs: batch.statuses, deadLetters: batch.deadLetters });
    });
    if (removed !== null) this.#vacuumSoon(removed, false);
    return removed;
  }

  /** Three index lookups. */
  async oldestReceivedAt(): Promise<string | null> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#pool.read<{ oldest: string | null }>(OLDEST_RECEIVED_AT, []);
    return result.rows[0]?.oldest ?? null;
  }

  /**
   * After the messages `deleted` (already deleted, and locked, by the caller): every status of
   * their ids and of `statusesOf`, the statuses and dead letters named, the events of all of
   * them, and what the messages counted in every aggregate. In the lock order of storeDelivery.
   */
  async #removeRows(client: pg.PoolClient, deleted: readonly DeletedMessageRow[], parts: RemovalParts): Promise<Removal> {
    const messageIds = deleted.map((r) => r.message_id);
    const statusIds = [...new Set([...messageIds, ...parts.statusesOf])];
    const statuses: { message_id: string; status: string }[] = [];
    if (statusIds.length > 0) statuses.push(...(await client.query(DELETE_STATUSES_OF, [statusIds])).rows);
    if (parts.statusPairs.length > 0) {
      const pairs = await client.query(DELETE_STATUS_PAIRS, [
        parts.statusPairs.map((p) => p[0]),
        parts.statusPairs.map((p) => p[1]),
      ]);
      statuses.push(...pairs.rows);
    }
    const deadLetters =
      parts.deadLetters.length > 0 ? (await client.query<{ id: string }>(DELETE_DEAD_LETTERS, [parts.deadLetters])).rows : [];
    if (messageIds.length > 0 || statuses.length > 0 || deadLetters.length > 0) {
      await client.query(DELETE_EVENTS, [
        messageIds,
        statuses.map((s) => s.message_id),
        statuses.map((s) => s.status),
        deadLetters.map((d) => d.id),
      ]);
    }
    if (deleted.length > 0) {
      await this.#subtractAggregates(
        client,
        deleted.map(
          (r): RemovedMessage => ({
            messageId: r.message_id,
            from: r.from_number,
            to: r.to_number,
            tsKey: r.ts_key,
            type: r.type,
          }),
        ),
      );
    }
    return { messages: deleted.length, statuses: statuses.length, deadLetters: deadLetters.length };
  }

  /**
   * Takes what removed messages counted out of every aggregate: the counts lowered by the very
   * upserts that raise them (negative counts: the rows are there, and are locked in the same
   * order), those at 0 removed; each conversation lowered, removed when empty, and given a new
   * first, last or contact message when its own was removed.
   */
  async #subtractAggregates(client: pg.PoolClient, removed: readonly RemovedMessage[]): Promise<void> {
    const deltas = removalDeltas(removed);
    const negated = (counts: Map<string, number>): unknown[] => [[...counts.keys()], [...counts.values()].map((n) => -n)];
    await client.query(ADD_SENDERS, negated(deltas.perSender));
    await client.query(ADD_RECIPIENTS, negated(deltas.perRecipient));
    if (deltas.perType.size > 0) await client.query(ADD_TYPES, negated(deltas.perType));
    await client.query(ADD_HOURS, negated(deltas.perHour));
    const dropped = await client.query<{ senders: string }>(DROP_EMPTY_COUNTS, [
      [...deltas.perSender.keys()],
      [...deltas.perRecipient.keys()],
      [...deltas.perType.keys()],
      [...deltas.perHour.keys()],
    ]);
    const froms = deltas.conversations.map((c) => c.from);
    const tos = deltas.conversations.map((c) => c.to);
    await client.query(LOCK_CONVERSATIONS, [froms, tos]);
    const emptied = await client.query<{ from_number: string; to_number: string }>(SUBTRACT_CONVERSATIONS, [
      froms,
      tos,
      deltas.conversations.map((c) => c.count),
    ]);
    if (emptied.rows.length > 0) {
      await client.query(DROP_CONVERSATIONS, [emptied.rows.map((r) => r.from_number), emptied.rows.map((r) => r.to_number)]);
    }
    await client.query(REFRESH_CONVERSATIONS, [froms, tos, removed.map((m) => m.messageId)]);
    await client.query(ADD_TOTALS, [-removed.length, -Number(dropped.rows[0]?.senders ?? 0), -emptied.rows.length]);
  }

  /**
   * Makes what a removal left behind unreadable, as far as PostgreSQL allows: a VACUUM of the
   * tables it touched, run `vacuumDelayMs` after the first removal since the last one (removals
   * meanwhile share it), on a connection of its own, never inside the request. After an erasure it
   * runs with INDEX_CLEANUP ON; after retention batches alone it lets PostgreSQL skip index
   * cleanup when few rows went, as autovacuum would.
   *
   * What that guarantees, and what it does not:
   * - At the commit of the removal itself, nothing removed can be read through PostgreSQL: every
   *   query, index and aggregate is without it.
   * - Once the VACUUM has run (within about `vacuumDelayMs` plus its own run time), the dead row
   *   versions are gone from the tables' pages (their TOAST included) and, after an erasure, their
   *   entries from every index (the trigram index's pending list too): the space is free for
   *   reuse. VACUUM cannot remove versions that a transaction older than the removal may still
   *   see (a long transaction, or a standby with hot_standby_feedback); autovacuum removes them
   *   later.
   * - It does not overwrite anything. PostgreSQL never zeroes freed space: bytes of a removed row
   *   may stay in a page's free space until new rows reuse it, and the write-ahead log keeps the
   *   original inserts until its segments are recycled after later checkpoints, and for as long
   *   as WAL archives, base backups, replicas or replication slots keep them. Rewriting the
   *   tables (VACUUM FULL, which locks out every read and write while it runs) and expiring
   *   backups and archives is left to the operator.
   */
  #vacuumSoon(removed: Removal, erasure: boolean): void {
    if (removed.messages + removed.statuses + removed.deadLetters === 0) return;
    this.#vacuumErased ||= erasure;
    this.#scheduleVacuum(this.#vacuumDelayMs);
  }

  #scheduleVacuum(delayMs: number): void {
    if (this.#closed || this.#vacuumTimer !== null) return;
    this.#vacuumTimer = setTimeout(() => {
      this.#vacuumTimer = null;
      // One at a time: removals during a run schedule the next.
      if (this.#vacuuming !== null) this.#scheduleVacuum(this.#vacuumDelayMs);
      else void this.#vacuum();
    }, delayMs);
  }

  #vacuum(): Promise<void> {
    const indexCleanup = this.#vacuumErased;
    this.#vacuumErased = false;
    const run = (async () => {
      // Not a pooled connection: VACUUM cannot run in a transaction, and runs longer than a read may.
      const client = migrationClient(this.#url, this.#timeouts);
      try {
        await client.connect();
        await client.query(`VACUUM ${indexCleanup ? '(INDEX_CLEANUP ON) ' : ''}${VACUUMED_TABLES.join(', ')}`);
      } catch (error) {
        this.#vacuumErased ||= indexCleanup;
        this.#logger?.warn(
          { error: error instanceof Error ? error.message : String(error) },
          'PostgreSQL: the VACUUM after removed rows failed; it is tried again',
        );
        this.#scheduleVacuum(VACUUM_RETRY_MS);
      } finally {
        await client.end().catch(() => {});
      }
    })();
    this.#vacuuming = run;
    return run.finally(() => {
      this.#vacuuming = null;
    });
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

  async exportMessages(
    filter: MessageFilter,
    page: { readonly after?: Position; readonly limit: number },
  ): Promise<StoredMessage[]> {
    if (this.#closed) throw new Error('the store is closed');
    if (holdsNul(filter.from, filter.to, filter.type, filter.q)) return [];
    const { text, values } = exportMessagesQuery(filter, page);
    const result = await this.#pool.read<{ rows: unknown }>(text, values);
    const rows = result.rows[0]?.rows;
    if (!Array.isArray(rows)) throw new Error('unexpected answer from PostgreSQL');
    return rows.map(storedMessage);
  }

  /** Formatted here, on the event loop: the pool's connections hand back rows, not threads of their own. */
  async exportChunk(
    filter: MessageFilter,
    page: { readonly after?: Position; readonly limit: number },
    format: ExportFormat,
    reuse?: ArrayBuffer,
  ): Promise<ExportChunk> {
    return formatChunk((await this.exportMessages(filter, page)).map(detailed), format, reuse);
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

  async readFeed(query: FeedQuery): Promise<FeedEvent[]> {
    if (this.#closed) throw new Error('the store is closed');
    if (holdsNul(query.from, query.to)) return [];
    const { text, values } = readFeedQuery(query);
    const result = await this.#pool.read<{ event: unknown }>(text, values);
    return result.rows.map((row) => feedEvent(row.event));
  }

  /** Written from the events (feedJsonOf): PostgreSQL hands the rows over as objects already. */
  async readFeedJson(query: FeedQuery): Promise<FeedJson> {
    return feedJsonOf(await this.readFeed(query));
  }

  async feedHead(): Promise<FeedHead> {
    if (this.#closed) throw new Error('the store is closed');
    const result = await this.#pool.read<{ head: unknown }>(FEED_HEAD, []);
    return feedHead(result.rows[0]?.head);
  }

  /**
   * Listens on a connection of its own for what any replica commits (this one's included), and
   * reads feed_head every second besides; see FeedWatch. The function returned ends both.
   */
  watchFeed(onAdvance: () => void): () => void {
    if (this.#closed) throw new Error('the store is closed');
    const watch = new FeedWatch({
      channel: FEED_CHANNEL,
      listener: () => listenerClient(this.#url, this.#timeouts),
      headPosition: async () => {
        const result = await this.#pool.read<{ position: string }>(FEED_HEAD_POSITION, [], this.#timeouts.healthMs);
        return Number(result.rows[0]?.position ?? 0);
      },
      onAdvance,
      logger: this.#logger,
    });
    this.#watches.add(watch);
    return () => {
      if (this.#watches.delete(watch)) void watch.stop();
    };
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

  /**
   * A VACUUM that is due runs now (what was erased should not wait for autovacuum because the
   * process stops), and close waits for it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#vacuumTimer !== null) {
      clearTimeout(this.#vacuumTimer);
      this.#vacuumTimer = null;
      if (this.#vacuuming === null) void this.#vacuum();
    }
    await this.#vacuuming;
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.all(watches.map((watch) => watch.stop()));
    await this.#pool.end();
  }
}
