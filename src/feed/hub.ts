// The live end of the feed, shared by every subscriber of GET /events in this process: one reader
// follows the store's feed (woken by this process's writes, by other replicas through the store's
// watchFeed, and by a poll every second; at most one read per `minIntervalMs`) and hands each new
// page to the subscribers that are caught up. A subscriber that is behind (it resumes from an old
// position, or missed a page while it was catching up) reads the store itself, page by page, at
// the pace its socket takes them, a few subscribers at a time. A subscriber whose socket falls
// further behind than `maxBacklog` events is disconnected, never buffered without bound; it
// resumes from its last id.
//
// The work per event is done once, not once per subscriber: each event is formatted once (by
// `format`), a page's frames are joined into one buffer once, and a subscriber that takes every
// event gets that same buffer, in one write per page. With a thousand subscribers this is what
// keeps the event loop free for webhooks.

import type { FeedEvent, FeedQuery, MessageStore } from '../store/store.js';

/** What a subscriber asked for: events after `after`, of these types, senders and recipients. */
export type SubscriberFilter = Pick<FeedQuery, 'types' | 'from' | 'to'>;

/**
 * Events that go to a subscriber in one write, oldest first, with their wire form: each event's
 * frame is formatted once for every subscriber (memoized by the hub), and the joined bytes once
 * per batch.
 */
export class Batch {
  #bytes: Buffer | undefined;
  constructor(
    readonly events: readonly FeedEvent[],
    readonly frameOf: (event: FeedEvent) => string,
  ) {}

  /** The frames of the events, joined, as the bytes to write. */
  bytes(): Buffer {
    this.#bytes ??= Buffer.from(this.events.map(this.frameOf).join(''));
    return this.#bytes;
  }

  /** A batch of the events that pass `keep` (this one when they all do). */
  filter(keep: (event: FeedEvent) => boolean): Batch {
    const kept = this.events.filter(keep);
    return kept.length === this.events.length ? this : new Batch(kept, this.frameOf);
  }
}

export interface Subscriber {
  /** Sends a batch of events in one write; resolves when the socket has taken it (back-pressure). */
  send(batch: Batch): Promise<void>;
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
  /**
   * The least time between two reads of the live reader: wake-ups in between are served by one
   * read when it is up. Fewer, larger pages mean fewer writes per subscriber.
   */
  readonly minIntervalMs?: number;
  /** Subscribers catching up from the store at once; the others wait their turn. */
  readonly catchUpReads?: number;
  /** An event's wire form (an SSE frame), made once per event whatever the number of subscribers. */
  readonly format?: (event: FeedEvent) => string;
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
  /** Batches waiting for the socket, and the events in them. */
  readonly #queue: Batch[] = [];
  #queued = 0;
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
    return this.#queued;
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
    this.#queued = 0;
    this.onClosed();
  }

  /** What of a page (events after `seen`, in order) this subscriber takes. */
  select(page: Batch): Batch {
    const seen = this.seen;
    const { filter } = this;
    const unfiltered = filter.types === undefined && filter.from === undefined && filter.to === undefined;
    if (unfiltered && (page.events[0]?.position ?? Number.POSITIVE_INFINITY) > seen) return page;
    return page.filter((event) => event.position > seen && matches(event, filter));
  }

  /** Takes a page of the live feed that starts right after `seen`. */
  offer(page: Batch, upTo: number): void {
    if (this.#closed) return;
    const batch = this.select(page);
    this.seen = Math.max(this.seen, upTo);
    if (batch.events.length === 0) return;
    this.#queue.push(batch);
    this.#queued += batch.events.length;
    if (this.#queued > this.maxBacklog) {
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
        // Everything queued goes in one write: a socket that was slow takes the pages it missed at once.
        const batches = this.#queue.splice(0);
        if (batches.length === 0) break;
        this.#queued = 0;
        const [only] = batches;
        const batch =
          batches.length === 1 && only !== undefined
            ? only
            : new Batch(
                batches.flatMap((b) => b.events),
                only?.frameOf ?? String,
              );
        await this.subscriber.send(batch);
      }
    } catch {
      this.close('closing');
    } finally {
      this.#pumping = false;
    }
  }

  /** Sends straight from a page of the store (catching up), at the socket's pace. */
  async sendNow(page: Batch): Promise<void> {
    const batch = this.select(page);
    const last = page.events.at(-1);
    if (batch.events.length > 0) await this.subscriber.send(batch);
    if (last !== undefined) this.seen = Math.max(this.seen, last.position);
  }
}

export class FeedHub {
  readonly #store: FeedHubOptions['store'];
  readonly #maxBacklog: number;
  readonly #pageSize: number;
  readonly #minIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #subscriptions = new Set<Subscription>();
  /** Each event's frame, made once (events of a page are shared by every subscriber). */
  readonly #frames = new WeakMap<FeedEvent, string>();
  readonly #frameOf: (event: FeedEvent) => string;
  /** The last position the live reader has handed out; null until it first learns the head. */
  #head: number | null = null;
  /** A read of the store's head in progress, shared by whoever asks meanwhile. */
  #headRead: Promise<number> | null = null;
  #reading: Promise<void> | null = null;
  #again = false;
  #lastRead = Number.NEGATIVE_INFINITY;
  /** The next read, when a wake-up came sooner than minIntervalMs after the last one. */
  #deferred: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #timer: NodeJS.Timeout;
  readonly #stopWatching: (() => void) | undefined;
  /** Catch-up reads that may run now, and the subscribers waiting for one. */
  #catchUpSlots: number;
  readonly #catchUpQueue: (() => void)[] = [];

  constructor(options: FeedHubOptions) {
    this.#store = options.store;
    this.#maxBacklog = options.maxBacklog ?? 10_000;
    this.#pageSize = options.pageSize ?? 500;
    this.#minIntervalMs = options.minIntervalMs ?? 0;
    this.#catchUpSlots = options.catchUpReads ?? 4;
    this.#onError = options.onError ?? (() => {});
    const format = options.format ?? ((event: FeedEvent) => `${event.position}\n`);
    this.#frameOf = (event) => {
      let frame = this.#frames.get(event);
      if (frame === undefined) {
        frame = format(event);
        this.#frames.set(event, frame);
      }
      return frame;
    };
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
    if (this.#reading !== null || this.#deferred !== null) {
      this.#again = true;
      return;
    }
    const wait = this.#lastRead + this.#minIntervalMs - performance.now();
    if (wait > 0) {
      this.#deferred = setTimeout(() => {
        this.#deferred = null;
        this.wake();
      }, wait);
      return;
    }
    this.#lastRead = performance.now();
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
      if (this.#head === null) this.#head = await this.#readHead();
      for (;;) {
        const from = this.#head;
        const events = await this.#store.readFeed({ after: from, limit: this.#pageSize });
        const page = new Batch(events, this.#frameOf);
        const last = events.at(-1);
        if (last !== undefined) this.#head = last.position;
        for (const s of this.#subscriptions) {
          // A subscriber at `from` gets the page; one still behind reads the store itself. Behind
          // is checked on empty pages too: a subscriber that caught up before the head was first
          // learnt may be behind it with nothing new coming.
          if (s.catchingUp) continue;
          if (s.seen < from) void this.#catchUp(s);
          else if (last !== undefined) s.offer(page, last.position);
        }
        if (events.length < this.#pageSize) return;
      }
    } catch (error) {
      this.#onError(error);
    }
  }

  #readHead(): Promise<number> {
    this.#headRead ??= this.#store
      .feedHead()
      .then((head) => head.position)
      .finally(() => {
        this.#headRead = null;
      });
    return this.#headRead;
  }

  /**
   * The current end of the feed: where a subscriber that asked for nothing older starts. While
   * the live reader runs it is the last position it handed out (events committed since then reach
   * the new subscriber like every other); otherwise one read of the store serves every caller.
   */
  async head(): Promise<number> {
    if (this.#head !== null && this.#subscriptions.size > 0) return this.#head;
    return this.#readHead();
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

  /**
   * A catch-up slot: the function that gives it back, at once when one is free (so the read
   * starts in the same turn), or once one is.
   */
  #slot(): (() => void) | Promise<() => void> {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const next = this.#catchUpQueue.shift();
      if (next !== undefined) next();
      else this.#catchUpSlots++;
    };
    if (this.#catchUpSlots > 0) {
      this.#catchUpSlots--;
      return release;
    }
    return new Promise((resolve) => this.#catchUpQueue.push(() => resolve(release)));
  }

  async #catchUp(s: Subscription): Promise<void> {
    s.catchingUp = true;
    try {
      for (;;) {
        // Nothing to read: it has seen everything the live reader has handed out, and the live
        // pages bring what follows.
        if (this.#head !== null && s.seen >= this.#head) break;
        // A read sees every commit that a read which ended before it started saw: this one sees
        // every event up to the live reader's head as it is now.
        const head = this.#head;
        const slot = this.#slot();
        const release = typeof slot === 'function' ? slot : await slot;
        let events: FeedEvent[];
        try {
          if (s.closed) return;
          events = await this.#store.readFeed({ after: s.seen, limit: this.#pageSize });
        } finally {
          release();
        }
        if (s.closed) return;
        await s.sendNow(new Batch(events, this.#frameOf));
        if (s.closed) return;
        if (events.length < this.#pageSize) {
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
    if (this.#deferred !== null) clearTimeout(this.#deferred);
    this.#deferred = null;
    this.#stopWatching?.();
    for (const s of this.#subscriptions) s.close('closing');
    this.#subscriptions.clear();
  }
}
