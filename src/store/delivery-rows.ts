// What the SQLite and PostgreSQL stores share about the rows they write and read back: the order
// statuses are read back in, the checks that rows read back hold the domain's values, and the
// shape of a message read back.

import { createHash } from 'node:crypto';
import { codePointLength } from '../ingest/issues.js';
import { MESSAGE_SOURCES } from '../ingest/message.js';
import { DEAD_LETTER_KINDS, DELIVERY_STATUS_NAMES } from '../ingest/whatsapp.js';
import type {
  DeadLetter,
  Delivery,
  DeliveryStatusName,
  IncomingMessage,
  MessageDetails,
  MessageSource,
  StoredMessage,
} from './store.js';

/** An insertMany batch as a delivery: both stores write the two through one path. */
export function messagesOnly(messages: readonly IncomingMessage[]): Delivery {
  return { messages, statuses: [], deadLetters: [], source: '' };
}

/** A stored message with its type, if it has one: a core-form message has none and reads back without the key, exactly as it was given. */
export function withType(message: Omit<StoredMessage, 'type'>, type: string | null): StoredMessage {
  return type === null ? message : { ...message, type };
}

const LIFECYCLE = DELIVERY_STATUS_NAMES;

/**
 * SQL (the same in both dialects) ordering delivery_statuses rows by instant, then by lifecycle.
 * The ranks live in the query rather than in a column: the schema keeps no list of status names,
 * so a new provider status needs no migration, only a place here.
 */
export const STATUS_ORDER_SQL = `ts_key, CASE status ${LIFECYCLE.map((name, rank) => `WHEN '${name}' THEN ${rank}`).join(' ')} ELSE ${LIFECYCLE.length} END`;

export function asStatusName(value: unknown): DeliveryStatusName {
  const name = LIFECYCLE.find((candidate) => candidate === value);
  if (name === undefined) throw new Error(`unexpected delivery status read back: ${String(value)}`);
  return name;
}

export function asDeadLetterKind(value: unknown): DeadLetter['kind'] {
  const kind = DEAD_LETTER_KINDS.find((candidate) => candidate === value);
  if (kind === undefined) throw new Error(`unexpected dead letter kind read back: ${String(value)}`);
  return kind;
}

/**
 * Whether a message id could be stored at all. Ingest refuses ids holding U+0000 (PostgreSQL text
 * cannot carry it) or an unpaired surrogate (UTF-8 cannot), so such an id names nothing, and
 * looking it up answers "not found" in every store instead of an error in one.
 */
export function isStorableId(messageId: string): boolean {
  return !messageId.includes('\0') && codePointLength(messageId) >= 0;
}

/**
 * What makes two dead letters the same: their source, kind and item text. A provider that
 * delivers an envelope again (at least once is the norm) must not double its dead letters, so
 * the stores keep one row per (source, kind, item_hash) with this hash of the item.
 */
export function deadLetterHash(item: string): string {
  return createHash('sha256').update(item, 'utf8').digest('hex');
}

/** The core form's body as the service writes it from a message's own fields. */
function coreBody(m: Pick<IncomingMessage, 'messageId' | 'from' | 'to' | 'ts' | 'text'>): string {
  return JSON.stringify({ message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text });
}

/**
 * What the raw column keeps for a message: its origin's raw, or null when that is exactly the
 * core body written from the row's own fields (the commonest case), which rawReadBack rebuilds.
 */
export function rawToStore(m: IncomingMessage): string | null {
  const origin = m.origin;
  if (origin === undefined) return null;
  return origin.source !== 'whatsapp' && origin.raw === coreBody(m) ? null : origin.raw;
}

/** The columns a message's details are read back from, by both stores. */
export interface DetailColumns {
  readonly source: string | null;
  readonly receivedAt: string;
  readonly raw: string | null;
  readonly contactName: string | null;
  readonly replyTo: string | null;
  readonly phoneNumberId: string | null;
}

/**
 * A message's details from its columns. A row stored before sources were kept (source null) has
 * no raw, and its source is the best that is known: "whatsapp" if it has a type, else "spec".
 */
export function detailsOf(m: Omit<StoredMessage, 'details'>, columns: DetailColumns): MessageDetails {
  let source: MessageSource;
  let raw = columns.raw;
  if (columns.source === null) {
    source = m.type === undefined ? 'spec' : 'whatsapp';
  } else {
    const known = MESSAGE_SOURCES.find((candidate) => candidate === columns.source);
    if (known === undefined) throw new Error(`unexpected message source read back: ${columns.source}`);
    source = known;
    if (raw === null && source !== 'whatsapp') raw = coreBody(m);
  }
  return {
    source,
    receivedAt: columns.receivedAt,
    raw,
    contactName: columns.contactName,
    replyTo: columns.replyTo,
    phoneNumberId: columns.phoneNumberId,
  };
}
