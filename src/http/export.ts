// GET /messages/export: every message matching the /messages filters, oldest first, as NDJSON or
// CSV, streamed in keyset chunks that are read only as fast as the client takes them.

import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import type { Metrics } from '../observability/metrics.js';
import { CSV_COLUMNS, CSV_HEADER, EXPORT_FORMATS, type ExportChunk, type ExportFormat } from '../store/export-format.js';
import type { MessageFilter, MessageStore } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { ValidationFailed } from './errors.js';
import { messageFilterQuery, parseMessageFilter } from './messages.js';
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

const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson',
  csv: 'text/csv; charset=utf-8',
};

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

/** Buffers of sent chunks kept for the next chunks to be written into (see ChunkBuffers). */
export const SPARE_CHUNK_BUFFERS = 2;

/**
 * The buffers an export's chunks are written into, written again once the socket has taken them.
 * Each chunk arrives in a buffer of its own (from a reader thread, moved rather than copied),
 * outside V8's heap; a buffer merely dropped is freed only when V8 next collects this thread's
 * heap, which an export, allocating next to nothing here, leaves alone for a long time: tens of
 * megabytes of sent chunks piled up. A buffer goes back to the reads only once every byte of it
 * has left this process, since a send in progress still reads from it: the body counts what it
 * was given, and what it and the response still hold (`unsent`) has not left.
 */
export class ChunkBuffers {
  readonly #unsent: () => number;
  /** Our buffers given to the body, each with the count of bytes given up to its end. */
  readonly #given: { readonly buffer: ArrayBuffer; readonly end: number }[] = [];
  readonly #spare: ArrayBuffer[] = [];
  #givenBytes = 0;

  constructor(unsent: () => number) {
    this.#unsent = unsent;
  }

  /**
   * The bytes as a Buffer for the body, counted as given to it. `reusable`: the buffer they are in
   * is the export's own, to be written again once sent (never a slice of Node's shared pool).
   */
  give(bytes: Uint8Array, reusable: boolean): Buffer {
    this.#givenBytes += bytes.byteLength;
    const { buffer } = bytes;
    if (reusable && buffer instanceof ArrayBuffer) this.#given.push({ buffer, end: this.#givenBytes });
    return Buffer.from(buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** A buffer that has been sent, if there is one, to write the next chunk into. */
  take(): ArrayBuffer | undefined {
    const sent = this.#givenBytes - this.#unsent();
    for (let first = this.#given[0]; first !== undefined && first.end <= sent; first = this.#given[0]) {
      this.#given.shift();
      if (this.#spare.length < SPARE_CHUNK_BUFFERS) this.#spare.push(first.buffer);
    }
    return this.#spare.pop();
  }
}

/**
 * The body of an export, chunk by chunk. `first` is the first chunk, already read (so that a
 * database that cannot be read is a 503 before anything is sent). When the stream takes a chunk,
 * the next one is asked for: the store reads and formats it (on a reader thread) while the chunk
 * before goes out to the socket. The one after is asked for only when the stream takes that one,
 * that is once what was sent before has left for the socket: a slow client slows the reads (they
 * stay one chunk ahead of it), and a client that leaves stops them (the stream is destroyed, and
 * the generator returns at its next step; the read in flight, if any, is the last).
 */
async function* exportChunks(
  store: Pick<MessageStore, 'exportChunk'>,
  query: ExportQuery,
  first: ExportChunk,
  firstLimit: number,
  buffers: ChunkBuffers,
  progress: ExportProgress,
  onChunk: (rows: number) => void,
): AsyncGenerator<Buffer> {
  if (query.format === 'csv') {
    const header = buffers.give(Buffer.from(CSV_HEADER), false);
    progress.bytes += header.length;
    yield header;
  }
  let chunk = first;
  let limit = firstLimit;
  for (;;) {
    const { bytes, rows, last } = chunk;
    let next: Promise<ExportChunk> | null = null;
    if (last !== null && rows >= limit) {
      limit = nextChunkRows(rows, bytes.byteLength);
      progress.reads++;
      next = store.exportChunk(query.filter, { after: last, limit }, query.format, buffers.take());
      // Awaited below, once this chunk has been taken; a failure meanwhile is not unhandled.
      next.catch(() => {});
    }
    progress.rows += rows;
    progress.bytes += bytes.byteLength;
    onChunk(rows);
    if (bytes.byteLength > 0) yield buffers.give(bytes, true);
    if (next === null) {
      progress.complete = true;
      return;
    }
    chunk = await next;
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
      const first = await store.exportChunk(query.filter, { limit: EXPORT_FIRST_CHUNK_ROWS }, query.format);
      headers();
      // What the body holds and the response has not yet handed to the socket has not left.
      const buffers = new ChunkBuffers(() => body.readableLength + reply.raw.writableLength);
      const body: Readable = Readable.from(
        exportChunks(store, query, first, EXPORT_FIRST_CHUNK_ROWS, buffers, progress, (rows) =>
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
