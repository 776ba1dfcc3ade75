// Group commit: webhook rows that arrive together are written in one transaction, so one disk
// sync acknowledges many requests. Each caller is answered only when the transaction holding its
// row has committed; if it fails, every caller in it gets the error and nothing is acknowledged.

import type { IncomingMessage, InsertOutcome, MessageStore } from './store.js';

export interface GroupCommitOptions {
  /** The most rows handed to the store in one insertMany call. */
  readonly maxSize: number;
  /** How long the first queued row may wait for company, in ms; 0 flushes on the next turn of the event loop. */
  readonly maxWaitMs: number;
  /**
   * How many insertMany calls may run at once (default 1). With 1, rows that arrive during a
   * commit form the next batch. A store that merges or parallelises batches itself (the SQLite
   * writer thread, a PostgreSQL pool) takes more, so no batch waits on this side.
   */
  readonly maxInFlight?: number;
  /**
   * With maxWaitMs 0: once this many rows are queued, they go to the store at once, within the
   * event loop's turn, rather than at its end. For a store that merges batches itself (the SQLite
   * writer thread): it starts committing the first rows while the turn still parses the rest,
   * instead of waiting idle for the whole turn and leaving the event loop idle during its commit.
   */
  readonly handOffRows?: number;
}

interface Pending {
  readonly message: IncomingMessage;
  readonly resolve: (outcome: InsertOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommitter {
  readonly #store: MessageStore;
  readonly #maxSize: number;
  readonly #maxWaitMs: number;
  readonly #maxInFlight: number;
  readonly #handOffRows: number;
  #queue: Pending[] = [];
  #timeout: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #inFlight = 0;
  #whenIdle: (() => void)[] = [];

  constructor(store: MessageStore, options: GroupCommitOptions) {
    this.#store = store;
    this.#maxSize = options.maxSize;
    this.#maxWaitMs = options.maxWaitMs;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    this.#handOffRows = options.maxWaitMs === 0 && options.handOffRows !== undefined ? options.handOffRows : Infinity;
  }

  /** Queues one message; resolves with its outcome once its transaction has committed. */
  submit(message: IncomingMessage): Promise<InsertOutcome> {
    return new Promise<InsertOutcome>((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      if (this.#queue.length >= this.#handOffRows && this.#inFlight < this.#maxInFlight) this.#flush();
      else this.#schedule(this.#queue.length >= this.#maxSize);
    });
  }

  #schedule(now: boolean): void {
    // With every slot busy, the commit that finishes first schedules the next flush.
    if (this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    const waiting = this.#timeout !== null || this.#immediate !== null;
    if (now || (!waiting && this.#maxWaitMs === 0)) {
      this.#clearTimers();
      this.#immediate = setImmediate(() => this.#flush());
    } else if (!waiting) {
      this.#timeout = setTimeout(() => this.#flush(), this.#maxWaitMs);
    }
  }

  #clearTimers(): void {
    if (this.#timeout !== null) clearTimeout(this.#timeout);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timeout = null;
    this.#immediate = null;
  }

  #flush(): void {
    this.#clearTimers();
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
      this.#inFlight++;
      void this.#commit(this.#queue.splice(0, this.#maxSize));
    }
  }

  async #commit(batch: Pending[]): Promise<void> {
    try {
      const outcomes = await this.#store.insertMany(batch.map((p) => p.message));
      batch.forEach((p, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined) p.reject(new Error('store returned fewer outcomes than rows'));
        else p.resolve(outcome);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      // In the same synchronous step as answering the batch: a caller that submits as soon as
      // its row is answered runs after this, finds a free slot, and schedules its own flush.
      this.#inFlight--;
      // Rows that arrived during the commit go next, after one turn for latecomers to join them.
      this.#schedule(this.#queue.length >= this.#maxSize);
      if (this.#inFlight === 0 && this.#queue.length === 0) {
        for (const resolve of this.#whenIdle.splice(0)) resolve();
      }
    }
  }

  /** Commits everything queued so far and waits for every commit in flight; used at shutdown. */
  async drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    const idle = new Promise<void>((resolve) => this.#whenIdle.push(resolve));
    this.#flush();
    await idle;
  }
}
