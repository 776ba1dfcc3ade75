// How the PostgreSQL store reads what pg throws: the database is unavailable now (StoreUnavailable,
// 503), a read ran past its time limit (QueryTimeout), a pooled connection was already dead (take
// another), or anything else, a bug, which passes through.

import { QueryTimeout, StoreUnavailable } from '../store.js';

// SQLSTATE classes that mean "not now" rather than "wrong": connection exceptions (08), transaction
// rollbacks such as deadlocks and serialization failures (40), insufficient resources (53),
// operator intervention: shutdown, statement timeout (57), system I/O errors (58); a lock not
// granted in time (55P03); and a server that became a read-only standby after a failover (25006).
const UNAVAILABLE_SQLSTATE = /^(08|40|53|57|58)|^55P03$|^25006$/;
// What pg itself says when a connection fails, ends or times out, without a SQLSTATE.
const UNAVAILABLE_MESSAGE = /connect|connection|terminated|timeout|timed out|not queryable|socket|ended/i;

/** Whether an error from pg means the database is unreachable or unable to serve now. */
function isUnavailable(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isUnavailable) || UNAVAILABLE_MESSAGE.test(error.message);
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // A system error of the socket: ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, EAI_AGAIN…
  // Tested first, since EPIPE and EBUSY have five letters like a SQLSTATE; no SQLSTATE class
  // begins with E.
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return true;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATE.test(code);
  return UNAVAILABLE_MESSAGE.test(error.message);
}

// A connection the server ended while it sat in the pool: the server shut down or restarted
// (57P01, 57P02), or the link broke (class 08, a reset socket).
const STALE_SQLSTATE = new Set(['57P01', '57P02', '08000', '08003', '08006']);

/** Whether an error says the connection was already dead (rather than the database being down now). */
export function isStaleConnection(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (STALE_SQLSTATE.has(code) || code === 'ECONNRESET' || code === 'EPIPE')) return true;
  return /connection terminated unexpectedly|not queryable/i.test(error.message);
}

/** SQLSTATE query_canceled: statement_timeout ran out (or an operator cancelled the statement). */
const QUERY_CANCELED = '57014';

/**
 * Unavailability becomes StoreUnavailable (the API answers 503); anything else, a bug, passes
 * through. A read cancelled at its time limit becomes QueryTimeout: the query, not the database,
 * was the problem. A write cancelled so is the database's trouble (it cannot keep up).
 */
export function classify(error: unknown, during: 'read' | 'write'): unknown {
  if (during === 'read' && error instanceof Error && (error as { code?: unknown }).code === QUERY_CANCELED) {
    return new QueryTimeout('query took too long', { cause: error });
  }
  if (error instanceof StoreUnavailable || !isUnavailable(error)) return error;
  const reason = error instanceof Error && error.message !== '' ? error.message : 'connection failed';
  return new StoreUnavailable(`database unavailable: ${reason}`, { cause: error });
}
