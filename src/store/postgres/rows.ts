// Rows read back from PostgreSQL, which answers as JSON arrays (one statement builds the whole
// answer): each is checked for the shape and types expected before it becomes a domain value.

import { asDeadLetterKind, asStatusName, detailsOf, withType } from '../delivery-rows.js';
import type {
  Conversation,
  FeedEvent,
  FeedHead,
  MessageDetails,
  SenderCount,
  StoredDeadLetter,
  StoredMessage,
  StoredStatus,
} from '../store.js';

/**
 * A timestamptz column as JavaScript's toISOString writes it (UTC, milliseconds, Z): the store
 * wrote it from one, so no precision is lost.
 */
export function isoText(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The columns of a message, in the order storedMessage() reads them from a JSON array. */
export const MESSAGE_COLUMNS = ['message_id', 'from_number', 'to_number', 'ts', 'ts_key', 'text', 'type'];

/** What a message's details are read from, after MESSAGE_COLUMNS when asked for. */
export const DETAIL_COLUMNS = ['source', isoText('received_at'), 'raw', 'contact_name', 'reply_to', 'phone_number_id'];

/** The columns of a conversation, in the order storedConversation() reads them from a JSON array. */
export const CONVERSATION_COLUMNS = [
  'from_number',
  'to_number',
  'contact_name',
  'messages',
  'first_ts',
  'last_ts',
  'last_ts_key',
  'last_message_id',
  'last_text',
  'last_type',
];

function nullableText(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

/** A message from MESSAGE_COLUMNS, followed by DETAIL_COLUMNS when the read asked for them. */
export function storedMessage(value: unknown): StoredMessage {
  const withDetails = MESSAGE_COLUMNS.length + DETAIL_COLUMNS.length;
  if (!Array.isArray(value) || (value.length !== MESSAGE_COLUMNS.length && value.length !== withDetails)) {
    throw new Error('unexpected row shape from PostgreSQL');
  }
  const [messageId, from, to, ts, tsKey, text, type, source, receivedAt, raw, contactName, replyTo, phoneNumberId] =
    value as unknown[];
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
  const message = withType({ messageId, from, to, ts, tsKey, text }, type);
  if (value.length === MESSAGE_COLUMNS.length) return message;
  if (
    !nullableText(source) ||
    typeof receivedAt !== 'string' ||
    !nullableText(raw) ||
    !nullableText(contactName) ||
    !nullableText(replyTo) ||
    !nullableText(phoneNumberId)
  ) {
    throw new Error('unexpected detail types from PostgreSQL');
  }
  return { ...message, details: detailsOf(message, { source, receivedAt, raw, contactName, replyTo, phoneNumberId }) };
}

export function storedConversation(value: unknown): Conversation {
  if (!Array.isArray(value) || value.length !== CONVERSATION_COLUMNS.length) {
    throw new Error('unexpected conversation shape from PostgreSQL');
  }
  const [from, to, contactName, messages, firstTs, lastTs, lastTsKey, messageId, text, type] = value as unknown[];
  if (
    typeof from !== 'string' ||
    typeof to !== 'string' ||
    !nullableText(contactName) ||
    typeof messages !== 'number' ||
    typeof firstTs !== 'string' ||
    typeof lastTs !== 'string' ||
    typeof lastTsKey !== 'string' ||
    typeof messageId !== 'string' ||
    !nullableText(text) ||
    !nullableText(type)
  ) {
    throw new Error('unexpected conversation types from PostgreSQL');
  }
  return { from, to, contactName, messages, firstTs, lastTs, lastTsKey, lastMessage: { messageId, ts: lastTs, text, type } };
}

/** An [hour key, count] pair of a time series (a day key when the database added a day's hours up already). */
export function hourCount(value: unknown): { hour: string; count: number } {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'number') {
    throw new Error('unexpected bucket count from PostgreSQL');
  }
  return { hour: value[0], count: value[1] };
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

/** The row an event names must be there: an event is removed with its row, in one transaction. */
function present<T>(value: T | null, what: string, position: number): T {
  if (value === null) throw new Error(`the ${what} of feed event ${position} is missing`);
  return value;
}

/** An event of the feed, as readFeedQuery builds it. */
export function feedEvent(value: unknown): FeedEvent {
  if (!Array.isArray(value) || value.length !== 7) throw new Error('unexpected feed event shape from PostgreSQL');
  const [position, type, receivedAt, messageId, message, status, deadLetter] = value as unknown[];
  if (typeof position !== 'number' || typeof type !== 'string' || typeof receivedAt !== 'string' || !nullableText(messageId)) {
    throw new Error('unexpected feed event types from PostgreSQL');
  }
  const base = { position, receivedAt };
  switch (type) {
    case 'message.created': {
      const stored = storedMessage(present(message, 'message', position));
      const details: MessageDetails = present(stored.details ?? null, 'message details', position);
      return { ...base, type, message: { ...stored, details } };
    }
    case 'status.created':
      return {
        ...base,
        type,
        messageId: present(messageId, 'message id', position),
        status: storedStatus(present(status, 'status', position)),
      };
    case 'dead_letter.created':
      return { ...base, type, deadLetter: storedDeadLetter(present(deadLetter, 'dead letter', position)) };
    default:
      throw new Error(`unexpected feed event type from PostgreSQL: ${type}`);
  }
}

/** The newest event, [position, received_at], or none (an empty feed). */
export function feedHead(value: unknown): FeedHead {
  if (value === undefined) return { position: 0, receivedAt: null };
  if (!Array.isArray(value) || typeof value[0] !== 'number' || typeof value[1] !== 'string') {
    throw new Error('unexpected feed head from PostgreSQL');
  }
  return { position: value[0], receivedAt: value[1] };
}
