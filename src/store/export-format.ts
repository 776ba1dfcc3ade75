// The export's two formats: a stored message as an NDJSON line (the GET /messages/{message_id}
// object without statuses, which is also the feed's message.created data) or as a CSV record, and
// a chunk of them written straight into bytes. Pure, and free of Fastify and TypeBox at run time:
// the SQLite reader threads format an export where they read its rows (see exportChunk).

import { stringify } from 'csv-stringify/sync';
import type { MessageDetails, MessageSource, Position, StoredMessage } from './store.js';

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A stored message read with its details. */
export type DetailedMessage = StoredMessage & { readonly details: MessageDetails };

/** The message with its details, which every read of an export gives. */
export function detailed(m: StoredMessage): DetailedMessage {
  if (m.details === undefined) throw new Error(`the store exported message ${JSON.stringify(m.messageId)} without its details`);
  return { ...m, details: m.details };
}

/**
 * Provider JSON stored as text (raw, status errors, dead-letter items), given back as JSON. Every
 * such text is JSON that JSON.stringify wrote (see storedJsonText, which the export and the feed
 * rely on too), so a text that does not parse is a damaged database: it throws, as a read of a
 * damaged file does, rather than come back as a string that storedJsonText would not give.
 */
export function storedJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

/**
 * The same JSON as storedJson gives, written out as JSON text without parsing it: the stored text
 * itself. The stores hold only what JSON.stringify wrote of a value that JSON.parse made (ingest:
 * boundedJsonText; import: JSON.stringify; the core form's body, rebuilt by the store likewise),
 * and such a text is exactly what JSON.stringify(JSON.parse(text)) gives back: JSON.parse keeps
 * the keys in the order they are written, and every number and string comes out as it went in.
 */
export function storedJsonText(text: string | null): string {
  return text ?? 'null';
}

/** JSON text of a string or null, as JSON.stringify writes it. */
export function jsonText(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/** A message as GET /messages/{message_id} gives it, without `statuses` (the MessageEvent schema). */
export interface MessageObject {
  message_id: string;
  from: string;
  to: string;
  ts: string;
  text: string | null;
  type: string | null;
  source: MessageSource | null;
  received_at: string | null;
  contact_name: string | null;
  reply_to: string | null;
  phone_number_id: string | null;
  raw: unknown;
}

/** The MessageEvent object of a message, in that schema's key order (which is the NDJSON line's). */
export function messageObject(m: DetailedMessage): MessageObject {
  const d = m.details;
  return {
    message_id: m.messageId,
    from: m.from,
    to: m.to,
    ts: m.ts,
    text: m.text,
    type: m.type ?? null,
    source: d.source,
    received_at: d.receivedAt,
    contact_name: d.contactName,
    reply_to: d.replyTo,
    phone_number_id: d.phoneNumberId,
    raw: storedJson(d.raw),
  };
}

export const CSV_COLUMNS = ['message_id', 'from', 'to', 'ts', 'text', 'type', 'source', 'received_at'] as const;

export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

/**
 * RFC 4180: records end with CRLF; a field holding a comma, a double quote, CR or LF is quoted, its
 * quotes doubled. csv-stringify stops quoting fields with a lone LF or CR as soon as the record
 * delimiter is set (its quote_record_delimiter then defaults to false), so that is turned back on.
 * An empty string is written `""`, which keeps it apart from null (an empty field).
 */
const CSV_OPTIONS = {
  record_delimiter: 'windows',
  quote_record_delimiter: true,
  quoted_match: /^$/,
} as const;

/** CSV records formatted by one call of the CSV writer. */
const CSV_BATCH_ROWS = 100;

const csvFields = (m: DetailedMessage) => [
  m.messageId,
  m.from,
  m.to,
  m.ts,
  m.text,
  m.type ?? null,
  m.details.source,
  m.details.receivedAt,
];

/** One NDJSON line per message: the GET /messages/{message_id} object without statuses (messageJson). */
export function ndjsonLines(messages: readonly DetailedMessage[]): string {
  let text = '';
  for (const m of messages) text += `${messageJson(m)}\n`;
  return text;
}

/** One CSV record per message, in CSV_COLUMNS' order (no header). */
export function csvRecords(messages: readonly DetailedMessage[]): string {
  return stringify(messages.map(csvFields), CSV_OPTIONS);
}

/** The room a chunk's buffer starts with: the size chunks aim at (EXPORT_CHUNK_BYTES) and half again. */
export const CHUNK_BUFFER_BYTES = 1536 * 1024;

/**
 * Text written one piece after another into a buffer, which doubles when a piece does not fit.
 * The buffer is one of its own (never a slice of Node's shared pool), so that it can be handed to
 * another thread and back, and written again once what was read from it has gone to the socket.
 */
class ChunkBuffer {
  #buffer: Buffer;
  #length = 0;

  constructor(reuse: ArrayBuffer | undefined) {
    this.#buffer = reuse !== undefined && reuse.byteLength > 0 ? Buffer.from(reuse) : Buffer.allocUnsafeSlow(CHUNK_BUFFER_BYTES);
  }

  write(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8: only a piece near the end is measured.
    if (this.#length + text.length * 3 > this.#buffer.length) {
      const needed = this.#length + Buffer.byteLength(text);
      if (needed > this.#buffer.length) {
        const larger = Buffer.allocUnsafeSlow(Math.max(needed, this.#buffer.length * 2));
        this.#buffer.copy(larger, 0, 0, this.#length);
        this.#buffer = larger;
      }
    }
    this.#length += this.#buffer.write(text, this.#length);
  }

  get bytes(): Uint8Array {
    return new Uint8Array(this.#buffer.buffer, this.#buffer.byteOffset, this.#length);
  }
}

/** A chunk of an export, formatted: what exportChunk answers. */
export interface ExportChunk {
  /** The chunk's lines or records, one after the other (no CSV header). */
  readonly bytes: Uint8Array;
  readonly rows: number;
  /** Where the chunk's last message is (the next chunk starts after it); null for an empty chunk. */
  readonly last: Position | null;
}

/**
 * Formats messages into a chunk's bytes, one message at a time as they come (so that, read from a
 * statement one row at a time, each row is garbage as soon as it is written). `reuse`: the buffer
 * of an earlier chunk to write into, once nothing reads it any more.
 */
export function formatChunk(messages: Iterable<DetailedMessage>, format: ExportFormat, reuse?: ArrayBuffer): ExportChunk {
  const out = new ChunkBuffer(reuse);
  let rows = 0;
  let last: DetailedMessage | undefined;
  if (format === 'ndjson') {
    for (const m of messages) {
      out.write(messageJson(m));
      out.write('\n');
      rows++;
      last = m;
    }
  } else {
    let batch: DetailedMessage[] = [];
    for (const m of messages) {
      batch.push(m);
      rows++;
      last = m;
      if (batch.length === CSV_BATCH_ROWS) {
        out.write(csvRecords(batch));
        batch = [];
      }
    }
    if (batch.length > 0) out.write(csvRecords(batch));
  }
  return { bytes: out.bytes, rows, last: last === undefined ? null : { tsKey: last.tsKey, messageId: last.messageId } };
}

/**
 * JSON.stringify(messageObject(m)), written directly: the stored raw goes in as its text (see
 * storedJsonText) instead of being parsed and written out again.
 */
export function messageJson(m: DetailedMessage): string {
  const d = m.details;
  return (
    `{"message_id":${JSON.stringify(m.messageId)},"from":${JSON.stringify(m.from)},"to":${JSON.stringify(m.to)},` +
    `"ts":${JSON.stringify(m.ts)},"text":${jsonText(m.text)},"type":${jsonText(m.type ?? null)},` +
    `"source":${JSON.stringify(d.source)},"received_at":${JSON.stringify(d.receivedAt)},` +
    `"contact_name":${jsonText(d.contactName)},"reply_to":${jsonText(d.replyTo)},` +
    `"phone_number_id":${jsonText(d.phoneNumberId)},"raw":${storedJsonText(d.raw)}}`
  );
}
