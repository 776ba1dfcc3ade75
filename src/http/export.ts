// GET /messages/export: every message matching the /messages filters, oldest first, as NDJSON or
// CSV, streamed in keyset chunks that are read only as fast as the client takes them.

import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { EXPORT_FORMATS, type ExportFormat, type Metrics } from '../observability/metrics.js';
import type { MessageFilter, MessageStore, Position, StoredMessage } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { ValidationFailed } from './errors.js';
import { type DetailedMessage, messageFilterQuery, messageObject, parseMessageFilter } from './messages.js';
import { READ_SECURITY } from './openapi.js';
import { enumParam, type Query } from './query.js';
import { unauthorizedRead, unavailable, validationError } from './schemas.js';

/** The most messages one read of an export asks for. */
export const EXPORT_CHUNK_ROWS = 1000;
/**
 * About how many bytes one chunk should make. A message can carry a `raw` of megabytes (a signed
 * body may hold any field up to MAX_BODY_BYTES), so a chunk of 1,000 such rows could hold gigabytes:
 * each read asks for as many rows as the previous chunk's average size fits into this, and the
 * first, which has no previous, for EXPORT_FIRST_CHUNK_ROWS.
 */
export const EXPORT_CHUNK_BYTES = 1024 * 1024;
export const EXPORT_FIRST_CHUNK_ROWS = 100;

export const CSV_COLUMNS = ['message_id', 'from', 'to', 'ts', 'text', 'type', 'source', 'received_at'] as const;

const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson',
  csv: 'text/csv; charset=utf-8',
};

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

const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

export interface ExportQuery {
  readonly format: ExportFormat;
  readonly filter: MessageFilter;
}

/** Validates the query string of GET /messages/export: `format`, and the filters of GET /messages. Pure. */
export function parseExportQuery(query: Query): Parsed<ExportQuery> {
  const issues: ValidationIssue[] = [];
  const format = enumParam(query, 'format', EXPORT_FORMATS, issues) ?? 'ndjson';
  const filter = parseMessageFilter(query, issues);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { format, filter } };
}

/** One NDJSON line per message: the GET /messages/{message_id} object without statuses. */
export function ndjsonLines(messages: readonly DetailedMessage[]): string {
  let text = '';
  for (const m of messages) text += `${JSON.stringify(messageObject(m))}\n`;
  return text;
}

/** One CSV record per message, in CSV_COLUMNS' order (no header). */
export function csvRecords(messages: readonly DetailedMessage[]): string {
  return stringify(
    messages.map((m) => [m.messageId, m.from, m.to, m.ts, m.text, m.type ?? null, m.details.source, m.details.receivedAt]),
    CSV_OPTIONS,
  );
}

function withDetails(m: StoredMessage): DetailedMessage {
  if (m.details === undefined) throw new Error(`the store exported message ${JSON.stringify(m.messageId)} without its details`);
  return { ...m, details: m.details };
}

/** How many rows the next read asks for, so that a chunk makes about EXPORT_CHUNK_BYTES. */
export function nextChunkRows(lastRows: number, lastBytes: number): number {
  if (lastRows === 0 || lastBytes === 0) return EXPORT_CHUNK_ROWS;
  return Math.max(1, Math.min(EXPORT_CHUNK_ROWS, Math.floor((EXPORT_CHUNK_BYTES * lastRows) / lastBytes)));
}

/** What an export has done so far: for its log line. */
export interface ExportProgress {
  rows: number;
  reads: number;
  bytes: number;
  /** Every matching message was written. */
  complete: boolean;
}

/**
 * The body of an export, chunk by chunk. `first` is the first chunk, already read (so that a
 * database that cannot be read is a 503 before anything is sent). Each further chunk is read when
 * the stream asks for it, that is once what was sent before has left for the socket: a slow client
 * slows the reads, and a client that leaves stops them (the stream is destroyed, and the generator
 * returns at its next step).
 */
async function* exportChunks(
  store: Pick<MessageStore, 'exportMessages'>,
  query: ExportQuery,
  first: readonly StoredMessage[],
  firstLimit: number,
  progress: ExportProgress,
  onChunk: (rows: number) => void,
): AsyncGenerator<string> {
  const format = query.format === 'csv' ? csvRecords : ndjsonLines;
  let rows = first;
  let limit = firstLimit;
  let head = query.format === 'csv' ? CSV_HEADER : '';
  for (;;) {
    const text = head + format(rows.map(withDetails));
    const bytes = Buffer.byteLength(text);
    head = '';
    progress.rows += rows.length;
    progress.bytes += bytes;
    onChunk(rows.length);
    if (text !== '') yield text;
    const last = rows.at(-1);
    if (last === undefined || rows.length < limit) {
      progress.complete = true;
      return;
    }
    const after: Position = { tsKey: last.tsKey, messageId: last.messageId };
    limit = nextChunkRows(rows.length, bytes);
    progress.reads++;
    rows = await store.exportMessages(query.filter, { after, limit });
  }
}

/** `messages-20250115T100000Z.csv`: when the export began, which bounds what it holds. */
export function exportFilename(format: ExportFormat, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(/[-:]/g, '');
  return `messages-${stamp}.${format}`;
}

export interface ExportRoutesOptions extends ReadRoutesOptions {
  readonly metrics: Pick<Metrics, 'exportedMessages'>;
  /** Writes a request's log line and metrics (see request-log.ts). */
  readonly recordEnded: (request: FastifyRequest, status: number, elapsedMs: number) => void;
}

const ExportQuerySchema = Type.Object({
  format: Type.Optional(
    Type.Unsafe<ExportFormat>({
      type: 'string',
      enum: [...EXPORT_FORMATS],
      default: 'ndjson',
      description:
        '`ndjson`: one JSON object a line, each the GET /messages/{message_id} object without `statuses` (every key, `raw` included). `csv`: RFC 4180, a header row and one record a message.',
    }),
  ),
  ...messageFilterQuery,
});

export async function exportRoutes(
  app: FastifyInstance,
  { store, auth, metrics, recordEnded }: ExportRoutesOptions,
): Promise<void> {
  app.get(
    '/messages/export',
    {
      onRequest: auth,
      schema: {
        summary: 'Every matching message, oldest first, as NDJSON or CSV',
        description: `Streams every message matching the filters (those of GET /messages), oldest first by the instant of \`ts\`, then \`message_id\`: every message committed before the request began is in it, once. Read from the database in chunks of up to ${EXPORT_CHUNK_ROWS} messages (about a megabyte), each chunk only once the client has taken the one before, so a slow client slows the export and memory stays flat however many messages it holds. A bad parameter is a 422 before anything is sent. \`Content-Disposition\` names a file such as \`messages-20250115T100000Z.ndjson\`. If the database fails once the export has begun, the response is cut short (it never ends cleanly): a client should treat an export that does not end properly as incomplete.`,
        tags: ['messages'],
        security: READ_SECURITY,
        querystring: ExportQuerySchema,
        response: {
          200: {
            description: 'The export, streamed (chunked transfer encoding). The media type follows `format`.',
            content: {
              'application/x-ndjson': {
                schema: Type.String({
                  description: 'One JSON object a line, each ending with LF.',
                  examples: [
                    '{"message_id":"m1","from":"+919876543210","to":"+14155550100","ts":"2025-01-15T10:00:00Z","text":"Hello","type":null,"source":"spec","received_at":"2025-01-15T10:00:00.512Z","contact_name":null,"reply_to":null,"phone_number_id":null,"raw":{"message_id":"m1","from":"+919876543210","to":"+14155550100","ts":"2025-01-15T10:00:00Z","text":"Hello"}}\n',
                  ],
                }),
              },
              'text/csv': {
                schema: Type.String({
                  description: `RFC 4180: the header \`${CSV_COLUMNS.join(',')}\`, then one record a message; records end with CRLF; a field with a comma, a double quote, CR or LF is quoted and its quotes doubled; null is an empty field, an empty string \`""\`.`,
                  examples: [
                    `${CSV_HEADER}m1,+919876543210,+14155550100,2025-01-15T10:00:00Z,"Hello, ""world""",,spec,2025-01-15T10:00:00.512Z\r\n`,
                  ],
                }),
              },
            },
          },
          401: unauthorizedRead,
          422: validationError(),
          503: unavailable,
        },
      },
    },
    async (request, reply) => {
      const parsed = parseExportQuery(request.query as Query);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const query = parsed.value;
      const began = new Date();
      const headers = () =>
        reply
          .header('content-type', CONTENT_TYPES[query.format])
          .header('content-disposition', `attachment; filename="${exportFilename(query.format, began)}"`)
          .header('cache-control', 'no-store');
      // HEAD: Fastify would read a streamed body to the end and throw it away; there is none to send.
      if (request.method === 'HEAD') return headers().send(Readable.from([]));

      const progress: ExportProgress = { rows: 0, reads: 1, bytes: 0, complete: false };
      // Read before any header is set: a failure here is answered like any read's (503, JSON).
      const first = await store.exportMessages(query.filter, { limit: EXPORT_FIRST_CHUNK_ROWS });
      headers();
      const body = Readable.from(
        exportChunks(store, query, first, EXPORT_FIRST_CHUNK_ROWS, progress, (rows) =>
          metrics.exportedMessages.inc({ format: query.format }, rows),
        ),
        { objectMode: false },
      );
      let failure: unknown;
      body.once('error', (error) => {
        failure = error;
      });
      body.once('close', () => {
        const fields = { format: query.format, messages: progress.rows, reads: progress.reads, bytes: progress.bytes };
        if (progress.complete) request.log.info(fields, 'export finished');
        else if (failure !== undefined) {
          request.log.error({ ...fields, err: failure }, 'export failed after it began: the response was cut short');
        } else request.log.info(fields, 'export stopped: the client left before the end');
      });
      // A response the client leaves early (or that is cut short) never finishes, so no onResponse
      // hook logs or counts it: this does, once, as the 200 it began as.
      let finished = false;
      reply.raw.once('finish', () => {
        finished = true;
      });
      reply.raw.once('close', () => {
        if (!finished) recordEnded(request, 200, reply.elapsedTime);
      });
      return reply.send(body);
    },
  );
}
