// The error catalogue: every failure the API reports on purpose, with its status and the exact
// body the contract gives it, plus the one handler that turns errors into responses.

import type { FastifyError, FastifyInstance } from 'fastify';
import type { ValidationIssue } from '../ingest/issues.js';
import type { Metrics } from '../observability/metrics.js';
import { QueryTimeout, ReadersBusy, StoreUnavailable } from '../store/store.js';

export abstract class HttpError extends Error {
  abstract readonly statusCode: number;
  abstract body(): unknown;
}

/** An error whose body is `{"detail": <its message>}`, the shape of every non-422 error here. */
export abstract class DetailError extends HttpError {
  constructor(readonly detail: string) {
    super(detail);
  }
  body() {
    return { detail: this.detail };
  }
}

export class InvalidSignature extends DetailError {
  readonly statusCode = 401;
  constructor() {
    super('invalid signature');
  }
}

/** A Standard Webhooks delivery signed correctly but outside the timestamp tolerance: a replay. */
export class StaleTimestamp extends DetailError {
  readonly statusCode = 401;
  constructor() {
    super('stale timestamp');
  }
}

/** The read API without a valid bearer token (RFC 6750 challenge in WWW-Authenticate). */
export class Unauthorized extends DetailError {
  readonly statusCode = 401;
  constructor(
    detail: string,
    readonly tokenPresented: boolean,
  ) {
    super(detail);
  }
  get wwwAuthenticate(): string {
    return this.tokenPresented ? 'Bearer realm="webhook-inbox", error="invalid_token"' : 'Bearer realm="webhook-inbox"';
  }
}

export class Forbidden extends DetailError {
  readonly statusCode = 403;
}

export class NotFound extends DetailError {
  readonly statusCode = 404;
}

export class PayloadTooLarge extends DetailError {
  readonly statusCode = 413;
  constructor() {
    super('payload too large');
  }
}

/** The client did not send its whole request within REQUEST_TIMEOUT_MS. */
export class RequestTimeout extends DetailError {
  readonly statusCode = 408;
  constructor() {
    super('request timeout: the request did not arrive in time');
  }
}

/** 422 with a FastAPI/Pydantic-style body naming every failing field. */
export class ValidationFailed extends HttpError {
  readonly statusCode = 422;
  constructor(readonly issues: readonly ValidationIssue[]) {
    super('validation failed');
  }
  body() {
    return { detail: this.issues };
  }
}

/** Seconds an overloaded server asks clients to wait before retrying. */
const RETRY_AFTER_SECONDS = 10;

/** 503 with Retry-After: the event loop is saturated, so new work is refused before it piles up. */
export class Overloaded extends DetailError {
  readonly statusCode = 503;
  readonly retryAfterSeconds = RETRY_AFTER_SECONDS;
  constructor() {
    super('server overloaded; retry later');
  }
}

/** 503 with Retry-After: the bodies being received already hold MAX_INFLIGHT_BODY_BYTES. */
export class BodiesInFlightFull extends DetailError {
  readonly statusCode = 503;
  readonly retryAfterSeconds = RETRY_AFTER_SECONDS;
  constructor() {
    super('too many request bodies in flight; retry later');
  }
}

/** 503: the request was fine but cannot be served now; a sender retries later. */
export class ServiceUnavailable extends DetailError {
  readonly statusCode = 503;
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as Partial<FastifyError>).code === 'string';
}

/** Maps anything thrown to a response; a stack trace never reaches the client. */
export function registerErrorHandling(app: FastifyInstance, metrics: Pick<Metrics, 'readsRefused'>): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof HttpError) {
      if (error instanceof Unauthorized) reply.header('www-authenticate', error.wwwAuthenticate);
      if (error instanceof Overloaded || error instanceof BodiesInFlightFull) {
        reply.header('retry-after', String(error.retryAfterSeconds));
      }
      // Refused while its body was still arriving (too large, too slow, no room): the rest of the
      // body is never read, so the connection cannot carry another request.
      if (error instanceof PayloadTooLarge || error instanceof RequestTimeout || error instanceof BodiesInFlightFull) {
        reply.header('connection', 'close');
      }
      return reply.code(error.statusCode).send(error.body());
    }
    // A read stopped at READ_TIMEOUT_MS: that query costs too much, the database itself is fine.
    if (error instanceof QueryTimeout) {
      metrics.readsRefused.inc({ reason: 'timeout' });
      request.log.warn({ err: error }, 'read stopped at its time limit');
      const tooLong = new ServiceUnavailable('query took too long');
      return reply.code(tooLong.statusCode).send(tooLong.body());
    }
    // Every reader is busy: reads are shed, never webhooks.
    if (error instanceof ReadersBusy) {
      metrics.readsRefused.inc({ reason: 'busy' });
      reply.header('retry-after', '1');
      const busy = new ServiceUnavailable('too many reads in progress; retry later');
      return reply.code(busy.statusCode).send(busy.body());
    }
    // The database is down or overloaded (a read during an outage): retryable, not a bug.
    if (error instanceof StoreUnavailable) {
      request.log.error({ err: error }, 'database unavailable');
      const unavailable = new ServiceUnavailable('database unavailable; retry later');
      return reply.code(unavailable.statusCode).send(unavailable.body());
    }
    // Fastify's own client errors (a malformed Content-Length, a bad URL): keep their 4xx status.
    if (isFastifyError(error) && typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ detail: error.message });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ detail: 'internal server error' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: 'Not Found' }));
}
