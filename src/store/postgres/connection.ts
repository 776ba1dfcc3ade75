// Connections to PostgreSQL: the settings and time limits every connection shares, the one the
// store migrates on at start, and the store's bounded pool, which runs reads and transactions and
// takes another connection when a pooled one turns out to have been ended by the server.

import pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { classify, isStaleConnection } from './errors.js';

export interface PostgresTimeouts {
  /** Opening a connection, or waiting for a free one in a full pool. */
  readonly connectMs: number;
  /**
   * Server side: a statement of a write running longer is cancelled by PostgreSQL itself. Reads
   * have their own limit, readTimeoutMs.
   */
  readonly statementMs: number;
  /**
   * Client side: no answer at all (a hung server or network) fails the query; a little over
   * statementMs. A read waits as much longer than its own limit.
   */
  readonly queryMs: number;
  /** Server side: a session left inside a transaction (a client that froze mid-batch) is ended. */
  readonly idleInTransactionMs: number;
  /** How long an unused pooled connection stays open. */
  readonly idleMs: number;
  /** The readiness query, kept short so /health/ready answers before a probe gives up. */
  readonly healthMs: number;
  /** Migrations at start (an index build on a large table may take minutes). */
  readonly migrationMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = {
  connectMs: 5_000,
  statementMs: 10_000,
  queryMs: 15_000,
  idleInTransactionMs: 10_000,
  idleMs: 30_000,
  healthMs: 3_000,
  migrationMs: 15 * 60_000,
};

/** What every connection of the store shares: where, how long to wait for it, and its encoding. */
function connectionConfig(url: string, timeouts: PostgresTimeouts): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: timeouts.connectMs,
    // A peer that vanished without closing the socket is noticed by TCP keepalives.
    keepAlive: true,
    application_name: 'webhook-inbox',
    client_encoding: 'UTF8',
  };
}

/**
 * A connection of its own for the checks and migrations at start, with their long time limits;
 * not connected yet.
 */
export function migrationClient(url: string, timeouts: PostgresTimeouts): pg.Client {
  const client = new pg.Client({
    ...connectionConfig(url, timeouts),
    statement_timeout: timeouts.migrationMs,
    query_timeout: timeouts.migrationMs,
  });
  // An error event on a connection nobody is querying must never crash the process.
  client.on('error', () => {});
  return client;
}

/** The application_name of a feed listener's connection, so an operator (or a test) can tell it apart. */
export const LISTENER_APPLICATION_NAME = 'webhook-inbox feed';

/**
 * A connection of its own for LISTEN (see feed-watch.ts); not connected yet. It idles between
 * notifications, so TCP keepalives start early: a peer that vanished is noticed in under a
 * minute rather than the system's default two hours.
 */
export function listenerClient(url: string, timeouts: PostgresTimeouts): pg.Client {
  return new pg.Client({
    ...connectionConfig(url, timeouts),
    application_name: LISTENER_APPLICATION_NAME,
    keepAliveInitialDelayMillis: 10_000,
    query_timeout: timeouts.queryMs,
  });
}

export interface PoolOptions {
  readonly url: string;
  /** The most connections this process opens. */
  readonly poolMax: number;
  readonly timeouts: PostgresTimeouts;
  /** Server side: a read running longer is cancelled. */
  readonly readTimeoutMs: number;
  /** Whether every transaction must turn synchronous_commit back on (the database has it off). */
  readonly forceSync: boolean;
  /** Where a pooled connection that fails while idle is reported. */
  readonly logger?: Pick<Logger, 'warn'> | undefined;
}

/** The store's pool: each read one statement outside any transaction, each write one transaction. */
export class PostgresPool {
  readonly #pool: pg.Pool;
  readonly #poolMax: number;
  /**
   * BEGIN with the writes' statement_timeout, plus SET LOCAL synchronous_commit when the
   * database would otherwise acknowledge before the disk has it.
   */
  readonly #begin: string;
  /** Client side: how long a read waits for any answer (its server-side limit, plus the margin queryMs gives writes). */
  readonly #readQueryMs: number;

  constructor(options: PoolOptions) {
    const { timeouts } = options;
    this.#poolMax = options.poolMax;
    // The session's statement_timeout is the reads' limit: each read is one statement outside any
    // transaction, so it needs no round trip of its own to set it. Writes, always in a transaction,
    // put their own limit back with SET LOCAL in the same message as their BEGIN.
    const readTimeoutMs = Math.trunc(options.readTimeoutMs);
    this.#readQueryMs = readTimeoutMs + Math.max(0, timeouts.queryMs - timeouts.statementMs);
    this.#begin = [
      'BEGIN',
      `SET LOCAL statement_timeout = ${Math.trunc(timeouts.statementMs)}`,
      ...(options.forceSync ? ['SET LOCAL synchronous_commit = on'] : []),
    ].join('; ');
    this.#pool = new pg.Pool({
      ...connectionConfig(options.url, timeouts),
      max: options.poolMax,
      idleTimeoutMillis: timeouts.idleMs,
      statement_timeout: readTimeoutMs,
      query_timeout: timeouts.queryMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    });
    const logger = options.logger;
    // An idle connection that breaks (the server restarted, a network blip) is dropped by the
    // pool and replaced on the next checkout; without these listeners the 'error' event would
    // crash the process. A connection checked out by this store gets one too, for the moments
    // between two queries of a transaction.
    this.#pool.on('error', (error) => {
      logger?.warn({ error: error.message }, 'PostgreSQL: an idle connection failed and was dropped');
    });
    this.#pool.on('connect', (client) => {
      client.on('error', () => {});
    });
  }

  /** Runs one read statement; `timeoutMs` replaces the client-side wait of reads. */
  async read<R extends pg.QueryResultRow>(text: string, values: unknown[], timeoutMs?: number): Promise<pg.QueryResult<R>> {
    const query = { text, values, query_timeout: timeoutMs ?? this.#readQueryMs };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#pool.query<R>(query);
      } catch (error) {
        // Reads change nothing: one that met a connection the server had already ended is
        // simply run again on another (each stale one is dropped as it fails).
        if (isStaleConnection(error) && attempt <= this.#poolMax) continue;
        throw classify(error, 'read');
      }
    }
  }

  /**
   * Runs `work` in one transaction on a pooled connection and resolves once it has committed;
   * rejects, with nothing committed, when any statement fails.
   */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect().catch((error: unknown) => {
        throw classify(error, 'write');
      });
      let begun = false;
      let broken = false;
      try {
        await client.query(this.#begin);
        begun = true;
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // Never ROLLBACK on a connection in an unknown state: dropping it makes the server roll the
        // transaction back, and the pool opens a fresh one.
        broken = true;
        // A pooled connection the server had already ended (a restart, a failover) fails on its
        // first statement, before anything began: take another. Once begun, a failure is final
        // for this batch (503, the senders retry); it is never replayed blind.
        if (!begun && isStaleConnection(error) && attempt <= this.#poolMax) continue;
        throw classify(error, 'write');
      } finally {
        client.release(broken);
      }
    }
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}
