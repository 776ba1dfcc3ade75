// Rows read back from PostgreSQL, which answers as JSON arrays (one statement builds the whole
// answer): each is checked for the shape and types expected before it becomes a domain value.

import { asDeadLetterKind, asStatusName, withType } from '../delivery-rows.js';
import type { SenderCount, StoredDeadLetter, StoredMessage, StoredStatus } from '../store.js';

/** The columns of a message, in the order stored() reads them from a JSON array. */
export const MESSAGE_COLUMNS = ['message_id', 'from_number', 'to_number', 'ts', 'ts_key', 'text', 'type'];

function nullableText(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

export function stored(value: unknown): StoredMessage {
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

export function storedStatus(value: unknown): StoredStatus {
  if (!Array.isArray(value) || value.length !== 4) throw new Error('unexpected status shape from PostgreSQL');
  const [status, ts, recipientId, errors] = value as unknown[];
  if (typeof ts !== 'string' || !nullableText(recipientId) || !nullableText(errors)) {
    throw new Error('unexpected status types from PostgreSQL');
  }
  return { status: asStatusName(status), ts, recipientId, errors };
}

export function storedDeadLetter(value: unknown): StoredDeadLetter {
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

export function senderCount(value: unknown): SenderCount {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'number') {
    throw new Error('unexpected sender count from PostgreSQL');
  }
  return { from: value[0], count: value[1] };
}
