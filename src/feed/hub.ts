// The live end of the feed, shared by every subscriber of GET /events in this process: one reader
// follows the store's feed (woken by this process's writes, by other replicas through the store's
// watchFeed, and by a poll every second) and hands each new page to the subscribers that are
// caught up. A subscriber that is behind (it resumes from an old position, or missed a page while
// it was catching up) reads the store itself, page by page, at the pace its socket takes them. A
// subscriber whose socket falls further behind than `maxBacklog` events is disconnected, never
// buffered without bound; it resumes from its last id.

import type { FeedEvent, FeedQuery, MessageStore } from '../store/store.js';

/** What a subscriber asked for: events after `after`, of these types, senders and recipients. */
export type SubscriberFilter = Pick<FeedQuery, 'types' | 'from' | 'to'>;

export interface Subscriber {
  /** Sends one event; resolves when the socket has taken it (back-pressure). */
  send(event: FeedEvent): Promise<void>;
  /** Ends the stream (the subscriber fell too far behind, or the hub is closing). */
  close(reason: 'behind' | 'closing'): void;
}

export interface FeedHubOptions {
  readonly store: Pick<MessageStore, 'readFeed' | 'feedHead' | 'watchFeed'>;
  /** Events a live subscriber may have waiting for its socket before it is disconnected. */
  readonly maxBacklog?: number;
  /** Events read per page, live or catching up. */
  readonly pageSize?: number;
  /** How often the head is checked when nothing woke the reader. */
  readonly pollMs?: number;
  /** Reading the store failed; the hub tries again at the next wake-up. */
  readonly onError?: (error: unknown) => void;
}

export function matches(event: FeedEvent, filter: SubscriberFilter): boolean {
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  if (filter.from === undefined && filter.to === undefined) return true;
  if (event.type !== 'message.created') return false;
  return (
    (filter.from === undefined || event.message.from === filter.from) &&
    (filter.to === undefined || event.message.to === filter.to)
  );
}

class Subscription {
  /** Every event up to here has been sent, filtered out, or queued. */
  seen: number;
  readonly #queue: FeedEvent[] = [];
  #pumping = false;
  #closed = false;
  /** True while it reads the store itself; false once the hub's pages reach it. */
  catchingUp = true;

  constructor(
    readonly subscriber: Subscriber,
    readonly filter: SubscriberFilter,
    after: number,
    readonly maxBacklog: number,
    /** The hub lets go of it: a closed subscription takes no more pages and is no longer counted. */
    readonly onClosed: () => void,
  ) {
    this.seen = after;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get backlog(): number {
    return this.#queue.length;
  }

  close(reason: 'behind' | 'closing'): void {
    if (this.#closed) return;
    this.detach();
    this.subscriber.close(reason);
  }

  /** Detached by the client: nothing more is sent. */
  detach(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.onClosed();
  }

  /** Takes a page of the live feed that starts right after `seen`. */
  offer(events: readonly FeedEvent[], upTo: number): void {
    if (this.#closed) return;
    for (const event of events) if (event.position > this.seen && matches(event, this.filter)) this.#queue.push(event);
    this.seen = Math.max(this.seen, upTo);
    if (this.#queue.length > this.maxBacklog) {
      this.close('behind');
      return;
    }
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed) {
        const event = this.#queue.shift();
        if (event === undefined) break;
        await this.subscriber.send(event);
      }
    } catch {
      this.close('closing');
    } finally {
      this.#pumping = false;
    }
  }

  /** Sends straight from the store's pages (catching up): one page at a time, at the socket's pace. */
  async sendNow(event: FeedEvent): Promise<void> {
    if (matches(event, this.filter)) await this.subscriber.send(event);
    this.seen = event.position;
  }
}

export class FeedHub {
  readonly #store: FeedHubOptions['store'];
  readonly #maxBacklog: number;
  readonly #pageSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #subscriptions = new Set<Subscription>();
  /** The last position the live reader has handed out; null until it first learns the head. */
  #head: number | null = null;
  #reading: Promise<void> | null = null;
  #again = false;
  #closed = false;
  readonly #timer: NodeJS.Timeout;
  readonly #stopWatching: (() => void) | undefined;

  constructor(options: FeedHubOptions) {
    this.#store = options.store;
    this.#maxBacklog = options.maxBacklog ?? 10_000;
    this.#pageSize = options.pageSize ?? 500;
    this.#onError = options.onError ?? (() => {});
    this.#timer = setInterval(() => this.wake(), options.pollMs ?? 1000);
    this.#timer.unref();
    this.#stopWatching = this.#store.watchFeed?.(() => this.wake());
  }

  get subscribers(): number {
    return this.#subscriptions.size;
  }

  /** Something was committed (here or elsewhere): read what is new, if anyone listens. */
  wake(): void {
    if (this.#closed || this.#subscriptions.size === 0) return;
    if (this.#reading !== null) {
      this.#again = true;
      return;
    }
    this.#reading = this.#readNew().finally(() => {
      this.#reading = null;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async #readNew(): Promise<void> {
    try {
      if (this.#head === null) this.#head = (await this.#store.feedHead()).position;
      for (;;) {
        const from = this.#head;
        const page = await this.#store.readFeed({ after: from, limit: this.#pageSize });
        const last = page.at(-1);
        if (last !== undefined) this.#head = last.position;
        for (const s of this.#subscriptions) {
          // A subscriber at `from` gets the page; one still behind reads the store itself. Behind
          // is checked on empty pages too: a subscriber that caught up before the head was first
          // learnt may be behind it with nothing new coming.
          if (s.catchingUp) continue;
          if (s.seen < from) void this.#catchUp(s);
          else if (last !== undefined) s.offer(page, last.position);
        }
        if (page.length < this.#pageSize) return;
      }
    } catch (error) {
      this.#onError(error);
    }
  }

  /** The current end of the feed: where a subscriber that asked for nothing older starts. */
  async head(): Promise<number> {
    return (await this.#store.feedHead()).position;
  }

  /**
   * Adds a subscriber that has seen everything up to `after`; it catches up from the store, then
   * follows the live pages. Returns the function that removes it (the client went away).
   */
  subscribe(subscriber: Subscriber, after: number, filter: SubscriberFilter): () => void {
    const subscription: Subscription = new Subscription(subscriber, filter, after, this.#maxBacklog, () =>
      this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    void this.#catchUp(subscription);
    return () => subscription.detach();
  }

  async #catchUp(s: Subscription): Promise<void> {
    s.catchingUp = true;
    try {
      for (;;) {
        // A read sees every commit that a read which ended before it started saw: this one sees
        // every event up to the live reader's head as it is now.
        const head = this.#head;
        const page = await this.#store.readFeed({ after: s.seen, limit: this.#pageSize });
        for (const event of page) {
          if (s.closed) return;
          await s.sendNow(event);
        }
        if (s.closed) return;
        if (page.length < this.#pageSize) {
          // Caught up with the store as of this read, so nothing unseen is left at or below
          // `head` (even where events were removed). The live pages take over from here, unless
          // one went by meanwhile (then read again).
          if (head !== null) s.seen = Math.max(s.seen, head);
          if (this.#head === null || s.seen >= this.#head) break;
        }
      }
      s.catchingUp = false;
      this.wake();
    } catch (error) {
      if (!s.closed) {
        this.#onError(error);
        s.close('closing');
      }
    }
  }

  /** Ends every stream and stops reading. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#stopWatching?.();
    for (const s of this.#subscriptions) s.close('closing');
    this.#subscriptions.clear();
  }
}
