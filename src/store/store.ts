// What the application needs from a database, in domain terms. sqlite/store.ts and postgres/store.ts
// implement it; the HTTP layer never sees SQL.

import type { IncomingMessage } from '../ingest/message.js';
import type { DeadLetter, DeliveryStatus, DeliveryStatusName } from '../ingest/whatsapp.js';

export type { DeadLetter, DeliveryStatus, DeliveryStatusName, IncomingMessage };

/** The outcome of storing one message: the first delivery of a message_id creates, later ones are duplicates. */
export type InsertOutcome = 'created' | 'duplicate';

/** A message as read back: the same fields it was stored with (tsKey with messageId is its place in the order). */
export type StoredMessage = IncomingMessage;

/** A place in the chronological order: rows strictly after it come next (keyset pagination). */
export interface Position {
  readonly tsKey: string;
  readonly messageId: string;
}

export interface MessageFilter {
  /** Exact sender. */
  readonly from?: string;
  /** Instant key (see instantKey); keeps messages at or after it. */
  readonly sinceKey?: string;
  /** Case-insensitive substring of text; already non-empty. */
  readonly q?: string;
}

export interface Page {
  readonly limit: number;
  readonly offset: number;
  /** Keyset pagination: start strictly after this position (offset still applies after it). */
  readonly after?: Position;
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
  /**
   * Stores a provider delivery in one transaction and resolves once it is durably committed;
   * rejects (committing nothing) when the database fails. Messages follow insertMany's rules.
   */
  storeDelivery(delivery: Delivery): Promise<DeliveryOutcome>;
  listMessages(filter: MessageFilter, page: Page): Promise<MessagePage>;
  /** The message and its statuses; null when the id has neither. */
  getMessage(messageId: string): Promise<MessageDetail | null>;
  listDeadLetters(page: { readonly limit: number; readonly offset: number }): Promise<DeadLetterPage>;
  stats(topSenders: number): Promise<Stats>;
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
