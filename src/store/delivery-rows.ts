// What the SQLite and PostgreSQL stores share about the rows they write and read back: the order
// statuses are read back in, the checks that rows read back hold the domain's values, and the
// shape of a message read back.

import { createHash } from 'node:crypto';
import { codePointLength } from '../ingest/issues.js';
import { DEAD_LETTER_KINDS, DELIVERY_STATUS_NAMES } from '../ingest/whatsapp.js';
import type { DeadLetter, Delivery, DeliveryStatusName, IncomingMessage, StoredMessage } from './store.js';

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
