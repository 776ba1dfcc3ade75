// GET /events: the feed as Server-Sent Events, live. @fastify/sse admits the request (Accept),
// sends the headers, keeps the stream open with heartbeats and tells when the client leaves; which
// events go to whom, from where, is the feed hub's (src/feed/hub.ts). The events themselves are
// framed here, once each, and written a page at a time: the plugin's send frames and writes one
// message per call, so a thousand subscribers would cost a thousand serialisations and a thousand
// writes of every event, which is more than the event loop can give beside the webhooks.

import type { ServerResponse } from 'node:http';
import { fastifySSE } from '@fastify/sse';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Batch, FeedHub } from '../feed/hub.js';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { feedItemJson } from '../store/feed-json.js';
import type { FeedEvent, FeedQuery } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { DetailError, ValidationFailed } from './errors.js';
import { FEED_FILTER_QUERY, feedFilters } from './feed.js';
import { READ_SECURITY } from './openapi.js';
import { type Query, single } from './query.js';
import { detail, unauthorizedRead, validationError } from './schemas.js';

/** A comment line at least this often, so that proxies keep an idle stream open. */
export const HEARTBEAT_MS = 10_000;

/** 503 with Retry-After: SSE_MAX_CLIENTS subscribers are connected already. */
export class TooManySubscribers extends DetailError {
  readonly statusCode = 503;
  readonly retryAfterSeconds = 5;
  constructor() {
    super('too many event stream subscribers; retry later');
  }
}

export interface EventsRequest extends Pick<FeedQuery, 'types' | 'from' | 'to'> {
  /** Where to resume; undefined: at the current end. */
  readonly after?: number;
}

/**
 * The 406 @fastify/sse answers, in its own shape, to a request whose Accept header refuses
 * text/event-stream (no Accept header, or one that admits it, gets the stream).
 */
const NOT_ACCEPTABLE = Type.Object(
  {
    statusCode: Type.Literal(406),
    error: Type.Literal('Not Acceptable'),
    message: Type.String(),
  },
  {
    additionalProperties: false,
    description:
      'The Accept header refuses text/event-stream (for example `Accept: application/json`). Sent in this shape, not as `{"detail": …}`.',
    examples: [{ statusCode: 406, error: 'Not Acceptable', message: "This endpoint only produces 'text/event-stream'." }],
  },
);

/**
 * An event as an SSE frame: `id`, `event`, and its feed item as one `data` line (its JSON text
 * holds no line break: JSON.stringify escapes them, in the stored texts too), then the blank line
 * that ends the event.
 */
export function sseFrame(event: FeedEvent): string {
  return `id: ${event.position}\nevent: ${event.type}\ndata: ${feedItemJson(event)}\n\n`;
}

/** Writes a batch's bytes; resolves once the socket has taken them (at once, or at 'drain'). */
function writeBatch(raw: ServerResponse, batch: Batch): Promise<void> {
  if (raw.destroyed || raw.writableEnded) return Promise.reject(new Error('the stream is closed'));
  if (raw.write(batch.bytes())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      raw.off('drain', onDrain);
      raw.off('close', onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = (): void => settle();
    const onClose = (): void => settle(new Error('the stream is closed'));
    raw.once('drain', onDrain);
    raw.once('close', onClose);
  });
}

const POSITION = /^[0-9]+$/;

/**
 * Validates a subscription: `Last-Event-ID` (the header a browser reconnects with) wins over
 * `?after=`; each must be a non-negative integer. Pure.
 */
export function parseEventsRequest(query: Query, lastEventId: string | string[] | undefined): Parsed<EventsRequest> {
  const issues: ValidationIssue[] = [];
  const filters = feedFilters(query, issues);
  const position = (loc: (string | number)[], raw: string): number | undefined => {
    if (POSITION.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
    issues.push({ loc, type: 'int_parsing', msg: 'Input should be a non-negative integer: a position of the feed' });
    return undefined;
  };
  let after: number | undefined;
  if (Array.isArray(lastEventId)) {
    issues.push({ loc: ['header', 'last-event-id'], type: 'header_repeated', msg: 'Give this header at most once' });
  } else if (lastEventId !== undefined) {
    after = position(['header', 'last-event-id'], lastEventId.trim());
  }
  const afterParam = single(query, 'after', issues);
  if (afterParam !== undefined) {
    const fromQuery = position(['query', 'after'], afterParam);
    after ??= fromQuery;
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { ...filters, ...(after !== undefined ? { after } : {}) } };
}

export interface EventRoutesOptions extends ReadRoutesOptions {
  readonly hub: FeedHub;
  readonly maxClients: number;
  /** Writes a request's log line and metrics (see request-log.ts). */
  readonly recordEnded: (request: FastifyRequest, status: number, elapsedMs: number) => void;
}

export async function eventRoutes(
  app: FastifyInstance,
  { auth, hub, maxClients, recordEnded }: EventRoutesOptions,
): Promise<void> {
  await app.register(fastifySSE, { heartbeatInterval: HEARTBEAT_MS });
  /** Subscriptions admitted but still reading where they start: they count against maxClients too. */
  let starting = 0;
  app.get(
    '/events',
    {
      sse: 'only',
      onRequest: auth,
      schema: {
        summary: 'The feed, live, as Server-Sent Events',
        description: `Each event is \`id: <position>\`, \`event: <type>\`, \`data: <the GET /feed item as JSON>\`. It resumes after the \`Last-Event-ID\` header, else after \`?after=\` (the header wins: a browser reconnects with the original URL); with neither it starts at the current end. A comment line comes at least every ${HEARTBEAT_MS / 1000} s. Events committed by another replica arrive within a second. A subscriber whose socket falls too far behind is disconnected and resumes from its last id. A bad parameter or header is a 422 before the stream starts.`,
        tags: ['feed'],
        security: READ_SECURITY,
        querystring: Type.Object({
          after: Type.Optional(Type.Integer({ minimum: 0, description: 'Resume after this position (Last-Event-ID wins).' })),
          ...FEED_FILTER_QUERY,
        }),
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ description: 'The last position received: resume after it.' })),
        }),
        response: {
          200: {
            description: 'The stream (text/event-stream), open until the client leaves.',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          401: unauthorizedRead,
          406: NOT_ACCEPTABLE,
          422: validationError(),
          503: detail(
            'SSE_MAX_CLIENTS subscribers are connected already (with Retry-After), or the database is unavailable.',
            'too many event stream subscribers; retry later',
          ),
        },
      },
    },
    async (request, reply) => {
      const parsed = parseEventsRequest(request.query as Query, request.headers['last-event-id']);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      if (hub.subscribers + starting >= maxClients) {
        const refused = new TooManySubscribers();
        // Kept by the error handler, which sets Retry-After only for its own 503s.
        reply.header('retry-after', String(refused.retryAfterSeconds));
        throw refused;
      }
      const { after, ...filter } = parsed.value;
      let start: number;
      starting++;
      try {
        start = after ?? (await hub.head());
      } finally {
        starting--;
      }
      const sse = reply.sse;
      // The client left while the start was read: its close has come and gone already.
      if (!sse.isConnected) return;
      sse.keepAlive();
      // The stream starts now, events or not: the client knows it is subscribed. writeHead alone
      // keeps the head until the first write, which may be the first heartbeat.
      sse.sendHeaders();
      reply.raw.flushHeaders();
      const unsubscribe = hub.subscribe(
        {
          send: (batch) => writeBatch(reply.raw, batch),
          close: () => sse.close(),
        },
        start,
        filter,
      );
      sse.onClose(() => {
        unsubscribe();
        // A stream the client ends never finishes its response, so no onResponse hook logs or
        // counts it: this does, once, as a 200 lasting as long as the stream did.
        if (!reply.raw.writableFinished) recordEnded(request, 200, reply.elapsedTime);
      });
    },
  );
}
