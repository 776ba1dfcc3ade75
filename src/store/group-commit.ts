// Group commit: webhook rows that arrive together are written in one transaction, so one disk
// sync acknowledges many requests. Each caller is answered only when the transaction holding its
// row has committed; if it fails, every caller in it gets the error and nothing is acknowledged.

import type { IncomingMessage, InsertOutcome, MessageStore } from './store.js';

export interface GroupCommitOptions {
  /** The most rows in one transaction. */
  readonly maxSize: number;
  /** How long the first queued row may wait for company, in ms; 0 flushes on the next turn of the event loop. */
  readonly maxWaitMs: number;
}

interface Pending {
  readonly message: IncomingMessage;
  readonly resolve: (outcome: InsertOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommitter {
  readonly #store: MessageStore;
  readonly #options: GroupCommitOptions;
  #queue: Pending[] = [];
  #timeout: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #inFlight: Promise<void> = Promise.resolve();
  #flushing = false;

  constructor(store: MessageStore, options: GroupCommitOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Queues one message; resolves with its outcome once its transaction has committed. */
  submit(message: IncomingMessage): Promise<InsertOutcome> {
    return new Promise<InsertOutcome>((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      if (this.#queue.length >= this.#options.maxSize) this.#schedule(true);
      else this.#schedule(false);
    });
  }

  #schedule(now: boolean): void {
    if (this.#flushing) return; // the running flush drains the queue when it finishes
    const waiting = this.#timeout !== null || this.#immediate !== null;
    if (now || (!waiting && this.#options.maxWaitMs === 0)) {
      this.#clearTimers();
      this.#immediate = setImmediate(() => this.#flush());
    } else if (!waiting) {
      this.#timeout = setTimeout(() => this.#flush(), this.#options.maxWaitMs);
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
    if (this.#flushing || this.#queue.length === 0) return;
    this.#flushing = true;
    this.#inFlight = this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#options.maxSize);
        try {
          const outcomes = await this.#store.insertMany(batch.map((p) => p.message));
          batch.forEach((p, i) => {
            const outcome = outcomes[i];
            if (outcome === undefined) p.reject(new Error('store returned fewer outcomes than rows'));
            else p.resolve(outcome);
          });
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
        // Let requests that arrived during the commit join the next batch.
        if (this.#queue.length > 0 && this.#queue.length < this.#options.maxSize) {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      // Cleared in the same synchronous step as the last empty-queue check: a caller that
      // submits as soon as its own row is answered runs after this and schedules a new flush.
      this.#flushing = false;
    }
  }

  /** Commits everything queued so far; used at shutdown. */
  async drain(): Promise<void> {
    this.#flush();
    await this.#inFlight;
    if (this.#queue.length > 0) await this.drain();
  }
}
