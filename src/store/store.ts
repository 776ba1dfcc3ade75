// What the application needs from a database, in domain terms. sqlite/store.ts and postgres/store.ts
// implement it; the HTTP layer never sees SQL.

import type { IncomingMessage, MessageOrigin, MessageSource } from '../ingest/message.js';
import type { DeadLetter, DeliveryStatus, DeliveryStatusName } from '../ingest/whatsapp.js';
import type { ExportChunk, ExportFormat } from './export-format.js';
import type { ImportSequence } from './import-sequence.js';

export type { DeadLetter, DeliveryStatus, DeliveryStatusName, IncomingMessage, MessageOrigin, MessageSource };

/** The outcome of storing one message: the first delivery of a message_id creates, later ones are duplicates. */
export type InsertOutcome = 'created' | 'duplicate';

/**
 * What is known about a message beyond the core fields, as read back. Rows stored before these
 * were kept read `raw`, `contactName`, `replyTo` and `phoneNumberId` as null, and their source as
 * best known: "whatsapp" when they have a type, else "spec".
 */
export interface MessageDetails {
  readonly source: MessageSource;
  /** Server time (ISO-8601 UTC, milliseconds, Z) at which the store took the message in. */
  readonly receivedAt: string;
  /** JSON text of what the provider sent about this message (see MessageOrigin.raw). */
  readonly raw: string | null;
  readonly contactName: string | null;
  readonly replyTo: string | null;
  readonly phoneNumberId: string | null;
}

/**
 * A message as read back: the fields it was stored with (tsKey with messageId is its place in the
 * order), without its origin; `details` when the read asked for them (always from getMessage).
 */
export type StoredMessage = Omit<IncomingMessage, 'origin'> & { readonly details?: MessageDetails };

/** A place in a listing's order: rows strictly after it in that order come next (keyset pagination). */
export interface Position {
  readonly tsKey: string;
  readonly messageId: string;
}

export type SortOrder = 'asc' | 'desc';

export interface MessageFilter {
  /** Exact sender. */
  readonly from?: string;
  /** Exact recipient. */
  readonly to?: string;
  /** Exact provider message type; never matches a message without one. */
  readonly type?: string;
  /** Instant key (see instantKey); keeps messages at or after it. */
  readonly sinceKey?: string;
  /** Instant key; keeps messages strictly before it. */
  readonly untilKey?: string;
  /** Case-insensitive substring of text; already non-empty. */
  readonly q?: string;
}

export interface Page {
  readonly limit: number;
  readonly offset: number;
  /** Keyset pagination: start strictly after this position in the page's order (offset still applies after it). */
  readonly after?: Position;
  /** By instant then message_id: ascending (the default) or both descending. */
  readonly order?: SortOrder;
  /** Read each message's details too. */
  readonly details?: boolean;
}

export interface MessagePage {
  readonly data: StoredMessage[];
  /** Every row matching the filter, ignoring limit, offset and after. */
  readonly total: number;
  /** True when rows matching the filter follow the last one returned. */
  readonly hasMore: boolean;
}

export interface SenderCount {
  readonly from: string;
  readonly count: number;
}

export interface Stats {
  readonly totalMessages: number;
  readonly sendersCount: number;
  /** Top senders by count, descending, ties by sender ascending. */
  readonly messagesPerSender: SenderCount[];
  readonly firstMessageTs: string | null;
  readonly lastMessageTs: string | null;
}

/**
 * Everything one provider delivery (a WhatsApp Cloud API envelope) asks to keep, written in one
 * transaction: its messages, its delivery statuses and the items that could not be read.
 */
export interface Delivery {
  readonly messages: readonly IncomingMessage[];
  readonly statuses: readonly DeliveryStatus[];
  /** Kept whole with their reason; `source` names the provider ("whatsapp"). */
  readonly deadLetters: readonly DeadLetter[];
  readonly source: string;
}

export interface DeliveryOutcome {
  /** Positional, as insertMany's. */
  readonly messages: InsertOutcome[];
  /** Positional: a (message id, status) pair is stored once; later deliveries of it are duplicates. */
  readonly statuses: InsertOutcome[];
  /** Positional: a dead letter is kept once per (source, kind, item); a redelivered one is a duplicate. */
  readonly deadLetters: InsertOutcome[];
}

export interface StoredStatus {
  readonly status: DeliveryStatusName;
  readonly ts: string;
  readonly recipientId: string | null;
  /** JSON text of the provider's errors array, as received. */
  readonly errors: string | null;
}

/** One message id with what is known about it: the message itself (if received) and its delivery statuses. */
export interface MessageDetail {
  readonly messageId: string;
  /** Null when only statuses are known: statuses usually describe messages the business sent. */
  readonly message: StoredMessage | null;
  /** Ordered by instant, then sent < delivered < read < failed. */
  readonly statuses: StoredStatus[];
}

export interface StoredDeadLetter extends DeadLetter {
  /** Increasing in the order the dead letters were stored. */
  readonly id: number;
  readonly source: string;
  /** Server time (ISO-8601) of the delivery that carried it. */
  readonly receivedAt: string;
}

export interface DeadLetterPage {
  /** Oldest first. */
  readonly data: StoredDeadLetter[];
  readonly total: number;
}

/** The newest message of a conversation, as a conversation lists it. */
export interface LastMessage {
  readonly messageId: string;
  readonly ts: string;
  readonly text: string | null;
  readonly type: string | null;
}

/** One (from, to) pair that has messages, with its aggregates. */
export interface Conversation {
  readonly from: string;
  readonly to: string;
  /** Of the latest message (by instant, then message_id) that has one. */
  readonly contactName: string | null;
  readonly messages: number;
  /** ts of the earliest message (by instant, then message_id). */
  readonly firstTs: string;
  /** ts of lastMessage. */
  readonly lastTs: string;
  /** The instant key of lastMessage: with from and to, the conversation's place in the order. */
  readonly lastTsKey: string;
  /** The latest message by instant, ties by the greatest message_id. */
  readonly lastMessage: LastMessage;
}

/** A place in the conversations' order (last instant descending, then from, then to ascending). */
export interface ConversationPosition {
  readonly lastTsKey: string;
  readonly from: string;
  readonly to: string;
}

export interface ConversationFilter {
  readonly from?: string;
  readonly to?: string;
}

export interface ConversationPage {
  /** Most recent first. */
  readonly data: Conversation[];
  /** Every conversation matching the filter, ignoring the page. */
  readonly total: number;
  readonly hasMore: boolean;
}

export type Bucket = 'hour' | 'day';

/** Messages counted per UTC bucket of their instant, over since <= instant < until. */
export interface TimeseriesQuery {
  readonly bucket: Bucket;
  readonly sinceKey: string;
  readonly untilKey: string;
}

/** One bucket that holds messages: its start ('YYYY-MM-DDTHH' for hours, 'YYYY-MM-DD' for days). */
export interface BucketCount {
  readonly bucket: string;
  readonly count: number;
}

/** What the feed says happened: a message, a delivery status or a dead letter was stored. */
export const FEED_EVENT_TYPES = ['message.created', 'status.created', 'dead_letter.created'] as const;
export type FeedEventType = (typeof FEED_EVENT_TYPES)[number];

interface FeedEventBase {
  /** Positive, strictly increasing in commit order across every writer of the database. */
  readonly position: number;
  /** Server time (ISO-8601 UTC, milliseconds, Z) at which the store took the row in. */
  readonly receivedAt: string;
}

/**
 * One stored event, read back from the row it is about (an event keeps no copy of the row, so a
 * row removed later leaves nothing of itself in the feed).
 */
export type FeedEvent =
  | (FeedEventBase & { readonly type: 'message.created'; readonly message: StoredMessage & { readonly details: MessageDetails } })
  | (FeedEventBase & { readonly type: 'status.created'; readonly messageId: string; readonly status: StoredStatus })
  | (FeedEventBase & { readonly type: 'dead_letter.created'; readonly deadLetter: StoredDeadLetter });

export interface FeedQuery {
  /** Events with a position greater than this, oldest first. */
  readonly after: number;
  readonly limit: number;
  /** Only these types (all when absent). */
  readonly types?: readonly FeedEventType[];
  /** Only message.created events of this sender (and so no other type). */
  readonly from?: string;
  /** Only message.created events of this recipient (and so no other type). */
  readonly to?: string;
}

/**
 * A page of the feed as JSON text, written by the store: what GET /feed answers in `data`, without
 * the brackets. The calling thread then has nothing to parse or build per event.
 */
export interface FeedJson {
  /** Each event as its feed item's JSON text (the FeedItem schema, keys in its order), oldest first, joined by commas. */
  readonly items: string;
  /** The position of the last event; null when there is none. */
  readonly last: number | null;
}

/** The newest event: where a subscriber that starts "now" starts. */
export interface FeedHead {
  /** 0 when the feed is empty. */
  readonly position: number;
  /** When the newest event was stored; null when the feed is empty. */
  readonly receivedAt: string | null;
}

/** What an erasure or a purge removed, row by row. */
export interface Removal {
  readonly messages: number;
  readonly statuses: number;
  readonly deadLetters: number;
}

/** One batch of retention (MessageStore.purge). */
export interface PurgeBatch extends Removal {
  /**
   * How long the batch's transaction ran, in milliseconds, when the store has one writer that
   * webhooks wait for meanwhile (SQLite): without the time the batch itself waited for its turn,
   * which under load is most of the time the call takes. Retention sizes its batches by it.
   */
  readonly writerMs?: number;
}

/**
 * A message read back from an export, to be stored again (the `import` command): insertMany's
 * fields with the origin it was stored with, and the server time it was first received.
 */
export type ImportedMessage = IncomingMessage & { readonly receivedAt: string };

export interface MessageStore {
  /**
   * Stores a batch in one transaction and resolves only once it is durably committed.
   * Outcomes are positional. A message_id repeated inside the batch is created once, by its
   * first occurrence. Rejects (and commits nothing) when the database fails.
   */
  insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]>;
  /**
   * How many insertMany calls may usefully run at once: more than 1 when the store merges queued
   * batches (the SQLite writer thread) or runs them in parallel (a connection pool).
   */
  readonly concurrentWrites?: number;
  /** Rows after which the group committer hands its queue over within the turn (see GroupCommitOptions). */
  readonly handOffRows?: number;
  /**
   * Stores a provider delivery in one transaction and resolves once it is durably committed;
   * rejects (committing nothing) when the database fails. Messages follow insertMany's rules.
   */
  storeDelivery(delivery: Delivery): Promise<DeliveryOutcome>;
  listMessages(filter: MessageFilter, page: Page): Promise<MessagePage>;
  /** Conversations, most recent first, their totals kept exact by the writes. */
  listConversations(
    filter: ConversationFilter,
    page: { readonly limit: number; readonly after?: ConversationPosition },
  ): Promise<ConversationPage>;
  /** Buckets that hold messages in the window, oldest first; buckets with none are left out. */
  timeseries(query: TimeseriesQuery): Promise<BucketCount[]>;
  /** The message (with its details) and its statuses; null when the id has neither. */
  getMessage(messageId: string): Promise<MessageDetail | null>;
  listDeadLetters(page: { readonly limit: number; readonly offset: number }): Promise<DeadLetterPage>;
  /** Stored events after a position, oldest first (see FeedEvent). */
  readFeed(query: FeedQuery): Promise<FeedEvent[]>;
  /** The same events as readFeed, as JSON text (what feedItemJson writes of each). */
  readFeedJson(query: FeedQuery): Promise<FeedJson>;
  feedHead(): Promise<FeedHead>;
  /**
   * Calls `onAdvance` soon after other processes sharing the database commit events (PostgreSQL
   * replicas); stores with one writer per database leave it out. Returns the function that stops it.
   */
  watchFeed?(onAdvance: () => void): () => void;
  stats(topSenders: number): Promise<Stats>;
  /**
   * Up to `limit` messages matching the filter strictly after `after`, oldest first (by instant,
   * then message_id), each with its details: one chunk of an export. Reads no total.
   */
  exportMessages(filter: MessageFilter, page: { readonly after?: Position; readonly limit: number }): Promise<StoredMessage[]>;
  /**
   * The messages exportMessages answers, formatted as the export writes them (formatChunk). A
   * store that reads on threads of its own formats them on the thread that reads the rows, and
   * only the bytes come back. `reuse`: the buffer of an earlier chunk, once nothing reads it any
   * more, to write this one into (moved to that thread and back, never copied); the caller must
   * not touch it after the call.
   */
  exportChunk(
    filter: MessageFilter,
    page: { readonly after?: Position; readonly limit: number },
    format: ExportFormat,
    reuse?: ArrayBuffer,
  ): Promise<ExportChunk>;
  /**
   * Stores messages of an export in one transaction, as insertMany does (an id already stored is
   * a duplicate), each keeping its receivedAt and origin. Every one created is a new feed event.
   * `sequence`: the imports of one file, stored in the order of the calls, each only if every
   * earlier one of the sequence was (see ImportSequence): the next may be handed over before the
   * one before it has committed.
   */
  importMessages(messages: readonly ImportedMessage[], sequence?: ImportSequence): Promise<InsertOutcome[]>;
  /**
   * Erases a message id in one transaction: the message, its statuses, their feed events and its
   * text in every index, with every aggregate adjusted. All zero when the id has neither.
   */
  eraseMessage(messageId: string): Promise<Removal>;
  /** Erases, in one transaction, every message from `from` (to `to` when given) as eraseMessage does. */
  eraseConversation(filter: { readonly from: string; readonly to?: string }): Promise<Removal>;
  /** What purge would remove for this cutoff, every batch together. */
  countPurge(before: string): Promise<Removal>;
  /**
   * One batch of retention, in one transaction: at most `limit` of the oldest messages, statuses
   * and dead letters received before `before` (ISO-8601 instant), a message's statuses and events
   * with it, every aggregate adjusted. Called again until it removes nothing. Null when another
   * process holds the retention lock (PostgreSQL replicas: one at a time).
   */
  purge(before: string, limit: number): Promise<PurgeBatch | null>;
  /** The oldest received_at still kept (message, status or dead letter); null when there is none. */
  oldestReceivedAt(): Promise<string | null>;
  /** Resolves when the database answers a query on the applied schema; rejects with the reason otherwise. */
  checkHealth(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The database cannot be reached or cannot serve now (connection refused or lost, a timeout, a
 * server shutting down): the request was fine and is worth retrying later, so the API answers 503.
 */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailable';
  }
}

/** READ_TIMEOUT_MS's default, and the stores' when their options leave it out. */
export const DEFAULT_READ_TIMEOUT_MS = 5_000;

/**
 * A read ran past its time limit (READ_TIMEOUT_MS) and was stopped: the query, not the database,
 * is the problem, so the API answers 503 "query took too long" rather than "database unavailable".
 */
export class QueryTimeout extends Error {
  constructor(message = 'query took too long', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueryTimeout';
  }
}

/**
 * Every reader is busy and the read cannot wait: too many reads wait already, or this one waited
 * past the read time limit without starting. It is refused unrun (503), so slow reads pile up
 * neither memory nor latency; webhooks never wait behind reads.
 */
export class ReadersBusy extends StoreUnavailable {
  constructor(message: string) {
    super(message);
    this.name = 'ReadersBusy';
  }
}

/** Case folding shared by every store, for the Unicode-aware case-insensitive `q` filter. */
export function foldCase(text: string): string {
  // NFC makes a precomposed é and e + combining accent the same text. Lower, upper, lower folds
  // more pairs than lower alone: ß, ẞ and SS all become ss. JavaScript lowercases a capital sigma
  // at the end of a word to the final form ς, so every sigma is then made σ.
  return text.normalize('NFC').toLowerCase().toUpperCase().toLowerCase().replaceAll('ς', 'σ');
}
