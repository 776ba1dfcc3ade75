// Noticing events that other replicas commit: a connection of its own LISTENs on the feed's
// channel (every writing transaction notifies it at COMMIT), reconnecting with backoff after it
// breaks, and a read of feed_head every second covers what a broken or silently dead listener
// misses. Each watch owns one connection and one timer at most, and stop() ends both.

import type pg from 'pg';
import type { Logger } from '../../observability/logger.js';

export interface FeedWatchOptions {
  /** The channel the writes notify, with their newest position as the payload. */
  readonly channel: string;
  /** A new, unconnected client for the listener. */
  readonly listener: () => pg.Client;
  /** The last position handed out, read through the store's pool. */
  readonly headPosition: () => Promise<number>;
  readonly onAdvance: () => void;
  readonly logger?: Pick<Logger, 'warn' | 'info'> | undefined;
  /** How often feed_head is read, whatever the listener does. */
  readonly pollMs?: number;
  /** The wait before the first reconnection; it doubles after each failure, up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

export const FEED_POLL_MS = 1_000;
const BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

/**
 * Calls onAdvance when the feed moves: on a notification or a poll that shows a position above
 * the newest seen. It may also call it when nothing new was committed: at the start and after each
 * reconnection of the listener (notifications sent meanwhile are lost), which costs the caller
 * one read of the feed.
 */
export class FeedWatch {
  readonly #options: FeedWatchOptions;
  readonly #pollMs: number;
  readonly #firstBackoffMs: number;
  readonly #maxBackoffMs: number;
  #stopped = false;
  #client: pg.Client | null = null;
  /** The listener connections still closing, so stop() can wait for them. */
  readonly #closing = new Set<Promise<void>>();
  #reconnect: NodeJS.Timeout | null = null;
  #poll: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #backoffMs: number;
  /** Whether the listener is down since its last connection (logged once per outage). */
  #down = false;
  /** The newest position seen; null until the first is. */
  #seen: number | null = null;

  constructor(options: FeedWatchOptions) {
    this.#options = options;
    this.#pollMs = options.pollMs ?? FEED_POLL_MS;
    this.#firstBackoffMs = options.backoffMs ?? BACKOFF_MS;
    this.#maxBackoffMs = options.maxBackoffMs ?? MAX_BACKOFF_MS;
    this.#backoffMs = this.#firstBackoffMs;
    void this.#listen();
    this.#schedulePoll();
  }

  /** Ends the listener and the poll; resolves once the listener's connection is closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reconnect !== null) clearTimeout(this.#reconnect);
    this.#reconnect = null;
    if (this.#poll !== null) clearTimeout(this.#poll);
    this.#poll = null;
    const client = this.#client;
    this.#client = null;
    if (client !== null) this.#end(client);
    await Promise.all([...this.#closing, this.#polling]);
  }

  async #listen(): Promise<void> {
    if (this.#stopped) return;
    const client = this.#options.listener();
    this.#client = client;
    client.on('notification', (message) => {
      if (message.channel === this.#options.channel) this.#advance(Number(message.payload));
    });
    client.on('error', (error) => this.#broken(client, error));
    client.on('end', () => this.#broken(client, new Error('the connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#options.channel}`);
    } catch (error) {
      this.#broken(client, error);
      return;
    }
    // Stopped, or broken and replaced, meanwhile.
    if (this.#client !== client) return;
    this.#backoffMs = this.#firstBackoffMs;
    if (this.#down) this.#options.logger?.info({}, 'PostgreSQL: the feed listener is connected again');
    this.#down = false;
    // What was committed before it listened is read by the caller now.
    this.#signal();
  }

  /** The listener failed (once per connection, whichever of error and end comes first): close it, and reconnect later. */
  #broken(client: pg.Client, error: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#end(client);
    if (this.#stopped) return;
    if (!this.#down) {
      this.#down = true;
      this.#options.logger?.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'PostgreSQL: the feed listener failed; reconnecting, and reading feed_head every second meanwhile',
      );
    }
    this.#reconnect = setTimeout(() => {
      this.#reconnect = null;
      void this.#listen();
    }, this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#maxBackoffMs);
  }

  #end(client: pg.Client): void {
    const closing = client.end().catch(() => {});
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  #schedulePoll(): void {
    if (this.#stopped) return;
    this.#poll = setTimeout(() => {
      this.#poll = null;
      this.#polling = this.#readHead().finally(() => {
        this.#polling = null;
        this.#schedulePoll();
      });
    }, this.#pollMs);
  }

  async #readHead(): Promise<void> {
    try {
      const position = await this.#options.headPosition();
      if (!this.#stopped) this.#advance(position);
    } catch {
      // The database is unavailable: the next poll tries again, and requests report it.
    }
  }

  #advance(position: number): void {
    if (!Number.isSafeInteger(position)) {
      this.#signal();
      return;
    }
    if (this.#seen !== null && position <= this.#seen) return;
    this.#seen = position;
    this.#signal();
  }

  #signal(): void {
    if (this.#stopped) return;
    try {
      this.#options.onAdvance();
    } catch (error) {
      this.#options.logger?.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'the feed watcher callback failed',
      );
    }
  }
}
