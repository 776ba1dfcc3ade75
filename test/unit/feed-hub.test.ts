// FeedHub, the live end of GET /events, against an in-memory feed whose reads resolve when the test
// (or fast-check's scheduler) lets them: every subscriber gets every event after its start that
// its filter keeps, once, in order, however its catch-up, the live reader, the commits and the
// sockets interleave; a subscriber whose socket falls behind is closed, never buffered without
// bound, and resumes from its last id; what leaves or closes leaves no timer, listener or read.

import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Batch, FeedHub, type Subscriber, type SubscriberFilter } from '../../src/feed/hub.js';
import { FEED_EVENT_TYPES, type FeedEvent, type FeedEventType, type FeedHead, type FeedQuery } from '../../src/store/store.js';

const SENDERS = ['+911', '+912'] as const;
const RECIPIENTS = ['+141', '+142'] as const;

interface EventSpec {
  readonly type: FeedEventType;
  readonly from: string;
  readonly to: string;
}

function feedEvent(position: number, spec: EventSpec): FeedEvent {
  const receivedAt = new Date(Date.UTC(2025, 0, 15, 10, 0, 0, position)).toISOString();
  const base = { position, receivedAt };
  switch (spec.type) {
    case 'message.created':
      return {
        ...base,
        type: 'message.created',
        message: {
          messageId: `m${position}`,
          from: spec.from,
          to: spec.to,
          ts: '2025-01-15T10:00:00Z',
          tsKey: '2025-01-15T10:00:00.000000000',
          text: `text ${position}`,
          details: { source: 'spec', receivedAt, raw: null, contactName: null, replyTo: null, phoneNumberId: null },
        },
      };
    case 'status.created':
      return {
        ...base,
        type: 'status.created',
        messageId: `m${position}`,
        status: { status: 'delivered', ts: '1736935402', recipientId: spec.to, errors: null },
      };
    case 'dead_letter.created':
      return {
        ...base,
        type: 'dead_letter.created',
        deadLetter: { id: position, source: 'whatsapp', receivedAt, kind: 'message', reason: 'no id', item: '{}', itemId: null },
      };
  }
}

/** When a read's answer is taken and when it is handed back. */
type Gate = <T>(label: string, compute: () => T) => Promise<T>;

/** Answers at once (in a microtask), from the feed as it is when asked. */
const immediate: Gate = async (_label, compute) => compute();

/** The feed of one database, in memory: events in commit order, reads through a gate. */
class FakeFeed {
  readonly events: FeedEvent[] = [];
  readonly listeners = new Set<() => void>();
  /** readFeed calls so far, and those not answered yet. */
  reads = 0;
  inFlight = 0;

  constructor(private readonly gate: Gate = immediate) {}

  append(...specs: EventSpec[]): FeedEvent[] {
    const added = specs.map((spec, i) => feedEvent(this.events.length + 1 + i, spec));
    this.events.push(...added);
    return added;
  }

  /** Another replica committed: what PostgreSQL's LISTEN/NOTIFY does. */
  notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  readonly readFeed = async (query: FeedQuery): Promise<FeedEvent[]> => {
    this.reads++;
    this.inFlight++;
    try {
      return await this.gate('readFeed', () =>
        this.events.filter((e) => e.position > query.after && keeps(query, e)).slice(0, query.limit),
      );
    } finally {
      this.inFlight--;
    }
  };

  readonly feedHead = (): Promise<FeedHead> =>
    this.gate('feedHead', () => {
      const last = this.events.at(-1);
      return { position: last?.position ?? 0, receivedAt: last?.receivedAt ?? null };
    });

  readonly watchFeed = (onAdvance: () => void): (() => void) => {
    const listener = () => onAdvance();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

/** The contract's filters, written out independently of the hub's. */
function keeps(filter: SubscriberFilter, event: FeedEvent): boolean {
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  if (filter.from === undefined && filter.to === undefined) return true;
  return (
    event.type === 'message.created' &&
    (filter.from === undefined || event.message.from === filter.from) &&
    (filter.to === undefined || event.message.to === filter.to)
  );
}

interface Recorder extends Subscriber {
  readonly got: number[];
  readonly closes: string[];
}

/** A subscriber whose socket takes each batch at once, or when `send` says. */
function recorder(send: (batch: Batch) => Promise<void> = async () => {}): Recorder {
  const got: number[] = [];
  const closes: string[] = [];
  return {
    got,
    closes,
    send: (batch) => {
      got.push(...batch.events.map((event) => event.position));
      return send(batch);
    },
    close: (reason) => {
      closes.push(reason);
    },
  };
}

/** Lets every pending microtask run (the fake feed answers in microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function expected(feed: FakeFeed, after: number, filter: SubscriberFilter = {}): number[] {
  return feed.events.filter((e) => e.position > after && keeps(filter, e)).map((e) => e.position);
}

const message = (from: string = SENDERS[0], to: string = RECIPIENTS[0]): EventSpec => ({ type: 'message.created', from, to });
const status: EventSpec = { type: 'status.created', from: SENDERS[0], to: RECIPIENTS[0] };
const deadLetter: EventSpec = { type: 'dead_letter.created', from: SENDERS[0], to: RECIPIENTS[0] };

const hubs: FeedHub[] = [];
function makeHub(
  feed: FakeFeed,
  options: {
    maxBacklog?: number;
    pageSize?: number;
    pollMs?: number;
    minIntervalMs?: number;
    catchUpReads?: number;
    format?: (event: FeedEvent) => string;
    onError?: (e: unknown) => void;
  } = {},
) {
  const hub = new FeedHub({ store: feed, pollMs: 3_600_000, ...options });
  hubs.push(hub);
  return hub;
}

afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
  vi.useRealTimers();
});

describe('FeedHub: catching up, then live', () => {
  it('sends the stored events after the start, then each new one as it is committed', async () => {
    const feed = new FakeFeed();
    feed.append(message(), status, deadLetter, message());
    const hub = makeHub(feed, { pageSize: 2 });
    const s = recorder();
    hub.subscribe(s, 1, {});
    await settle();
    expect(s.got).toEqual([2, 3, 4]);
    feed.append(status);
    hub.wake();
    await settle();
    feed.append(message(), message());
    feed.notify();
    await settle();
    expect(s.got).toEqual([2, 3, 4, 5, 6, 7]);
    expect(s.closes).toEqual([]);
  });

  it('a subscriber at the current end gets only what comes next', async () => {
    const feed = new FakeFeed();
    feed.append(message(), message());
    const hub = makeHub(feed);
    const s = recorder();
    hub.subscribe(s, await hub.head(), {});
    await settle();
    expect(s.got).toEqual([]);
    feed.append(deadLetter);
    hub.wake();
    await settle();
    expect(s.got).toEqual([3]);
  });

  it('an event committed between a subscriber catching up and the first read of the head still arrives', async () => {
    // Reads are answered from the feed as it was when asked, and handed back when the test says.
    const held: { label: string; release: () => void }[] = [];
    const gate: Gate = (label, compute) => {
      const value = compute();
      return new Promise((resolve) => held.push({ label, release: () => resolve(value) }));
    };
    const release = async (label: string) => {
      const at = held.findIndex((h) => h.label === label);
      if (at < 0) throw new Error(`no ${label} pending`);
      const [entry] = held.splice(at, 1);
      entry?.release();
      await settle();
    };
    const feed = new FakeFeed(gate);
    feed.append(message(), message());
    const hub = makeHub(feed);
    const s = recorder();
    hub.subscribe(s, 2, {}); // its catch-up read sees events 1 and 2 only
    feed.append(message()); // committed, and this process wakes the hub
    hub.wake();
    await release('readFeed'); // the catch-up: nothing after 2
    await release('feedHead'); // the live reader learns the head: 3
    for (let i = 0; i < 5 && held.length > 0; i++) await release(held[0]?.label ?? '');
    expect(s.got).toEqual([3]);
    feed.append(status);
    hub.wake();
    for (let i = 0; i < 10 && held.length > 0; i++) await release(held[0]?.label ?? '');
    expect(s.got).toEqual([3, 4]);
  });

  it('never sends an event twice nor skips one, whatever the interleaving (property)', async () => {
    const spec = fc.record({
      type: fc.constantFrom(...FEED_EVENT_TYPES),
      from: fc.constantFrom(...SENDERS),
      to: fc.constantFrom(...RECIPIENTS),
    });
    const filter: fc.Arbitrary<SubscriberFilter> = fc.record(
      {
        types: fc.subarray([...FEED_EVENT_TYPES], { minLength: 1 }),
        from: fc.constantFrom(...SENDERS),
        to: fc.constantFrom(...RECIPIENTS),
      },
      { requiredKeys: [] },
    );
    const command = fc.oneof(
      fc.record({
        kind: fc.constant('commit' as const),
        events: fc.array(spec, { minLength: 1, maxLength: 4 }),
        // This process's own write, another replica's (a notification), or one only the poll finds.
        wake: fc.constantFrom('local', 'notify', 'none'),
      }),
      fc.record({
        kind: fc.constant('subscribe' as const),
        start: fc.oneof(fc.constant('end' as const), fc.nat({ max: 20 })),
        filter,
      }),
      fc.record({ kind: fc.constant('poll' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(spec, { maxLength: 6 }),
        fc.array(command, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom('asked', 'answered'),
        async (scheduler, initial, commands, pageSize, snapshot) => {
          // A read sees the feed as it was when it was asked, or when it is answered.
          const gate: Gate = (label, compute) =>
            snapshot === 'asked'
              ? scheduler.schedule(Promise.resolve(compute()), label)
              : scheduler.scheduleFunction(async () => compute())();
          const feed = new FakeFeed(gate);
          feed.append(...initial);
          const hub = new FeedHub({ store: feed, pageSize, pollMs: 3_600_000, maxBacklog: 100_000 });
          const subscribers: { start: number; filter: SubscriberFilter; s: Recorder }[] = [];
          const subscribe = (start: number, f: SubscriberFilter) => {
            // Each socket takes its events when the scheduler says.
            const s = recorder(() => scheduler.schedule(Promise.resolve(), 'socket'));
            subscribers.push({ start, filter: f, s });
            hub.subscribe(s, start, f);
          };
          try {
            scheduler.scheduleSequence(
              commands.map((c) => ({
                label: c.kind,
                builder: async () => {
                  if (c.kind === 'commit') {
                    feed.append(...c.events);
                    if (c.wake === 'local') hub.wake();
                    if (c.wake === 'notify') feed.notify();
                  } else if (c.kind === 'poll') {
                    hub.wake();
                  } else if (c.start === 'end') {
                    void hub.head().then((head) => subscribe(head, c.filter));
                  } else {
                    subscribe(c.start, c.filter);
                  }
                },
              })),
            );
            await scheduler.waitIdle();
            // The poll that follows (at most a second later).
            hub.wake();
            await scheduler.waitIdle();
            for (const { start, filter: f, s } of subscribers) {
              expect(s.got, `after ${start}, ${JSON.stringify(f)}`).toEqual(expected(feed, start, f));
              expect(s.closes).toEqual([]);
            }
            expect(hub.subscribers).toBe(subscribers.length);
          } finally {
            hub.close();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('FeedHub: filters', () => {
  const filters: [string, SubscriberFilter][] = [
    ['types message.created', { types: ['message.created'] }],
    ['types status.created and dead_letter.created', { types: ['status.created', 'dead_letter.created'] }],
    ['from', { from: SENDERS[1] }],
    ['to', { to: RECIPIENTS[1] }],
    ['from and to', { from: SENDERS[0], to: RECIPIENTS[1] }],
    ['from with types status.created (nothing)', { from: SENDERS[0], types: ['status.created'] }],
  ];

  it.each(filters)('%s: the same events caught up and live', async (_name, filter) => {
    const mix = [
      message(SENDERS[0], RECIPIENTS[0]),
      status,
      message(SENDERS[1], RECIPIENTS[1]),
      deadLetter,
      message(SENDERS[0], RECIPIENTS[1]),
      message(SENDERS[1], RECIPIENTS[0]),
    ];
    const feed = new FakeFeed();
    feed.append(...mix);
    const hub = makeHub(feed, { pageSize: 4 });
    const s = recorder();
    hub.subscribe(s, 0, filter);
    await settle();
    feed.append(...mix);
    hub.wake();
    await settle();
    expect(s.got).toEqual(expected(feed, 0, filter));
    expect(s.got.length).toBe(2 * expected(feed, 0, filter).filter((p) => p <= mix.length).length);
  });
});

describe('FeedHub: a subscriber that falls behind', () => {
  it('is closed with "behind" once more than maxBacklog events wait, and resumes from its last id missing nothing', async () => {
    const feed = new FakeFeed();
    const hub = makeHub(feed, { maxBacklog: 3 });
    // Its socket takes the first event and then nothing.
    const stuck = recorder(() => new Promise(() => {}));
    hub.subscribe(stuck, 0, {});
    await settle();
    feed.append(message());
    hub.wake();
    await settle();
    expect(stuck.got).toEqual([1]);
    // Two pages of two: 2 then 4 waiting.
    feed.append(message(), status);
    hub.wake();
    await settle();
    expect(stuck.closes).toEqual([]);
    expect(hub.subscribers).toBe(1);
    feed.append(deadLetter, message());
    hub.wake();
    await settle();
    expect(stuck.closes).toEqual(['behind']);
    expect(hub.subscribers).toBe(0);
    // Nothing more reaches it, whatever is committed.
    feed.append(message());
    hub.wake();
    await settle();
    expect(stuck.got).toEqual([1]);

    // The client reconnects with Last-Event-ID: its last id.
    const resumed = recorder();
    hub.subscribe(resumed, stuck.got.at(-1) ?? 0, {});
    await settle();
    feed.append(status);
    hub.wake();
    await settle();
    expect([...stuck.got, ...resumed.got]).toEqual(expected(feed, 0));
  });

  it('a subscriber still catching up reads the store at its socket’s pace: no read while its socket is full', async () => {
    const feed = new FakeFeed();
    feed.append(...Array.from({ length: 10 }, () => message()));
    const hub = makeHub(feed, { maxBacklog: 2, pageSize: 3 });
    let release: () => void = () => {};
    const slow = recorder(() => new Promise<void>((resolve) => (release = resolve)));
    hub.subscribe(slow, 0, {});
    await settle();
    // The first page of the store, in one write that its socket has not taken yet.
    expect(slow.got).toEqual([1, 2, 3]);
    const readsWhileFull = feed.reads;
    for (let i = 0; i < 5; i++) {
      feed.append(message(), message(), message());
      hub.wake();
      await settle();
    }
    // The live reader reads the new pages; the catch-up does not read ahead of the socket.
    expect(slow.got).toEqual([1, 2, 3]);
    expect(slow.closes).toEqual([]);
    expect(feed.reads - readsWhileFull).toBeLessThanOrEqual(5 * 2);
    // Once the socket drains, every event arrives, in order.
    for (let i = 0; i < 100 && slow.got.length < feed.events.length; i++) {
      release();
      await settle();
    }
    expect(slow.got).toEqual(expected(feed, 0));
  });
});

describe('FeedHub: leaving and closing', () => {
  it('unsubscribing leaves no timer, no listener and no read, and sends nothing more', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const timersBefore = vi.getTimerCount();
    const feed = new FakeFeed();
    feed.append(message(), message());
    const hub = makeHub(feed, { pollMs: 1000 });
    const timers = vi.getTimerCount();
    expect(timers - timersBefore).toBe(1); // the hub's poll
    expect(feed.listeners.size).toBe(1); // the hub's watch

    for (let round = 0; round < 20; round++) {
      const s = recorder();
      const unsubscribe = hub.subscribe(s, round % 3, {});
      if (round % 2 === 0) await settle(); // caught up and live; else it leaves mid catch-up
      unsubscribe();
      const sent = s.got.length;
      feed.append(status);
      hub.wake();
      feed.notify();
      await settle();
      expect(s.got.length).toBe(sent);
      expect(s.closes).toEqual([]);
    }
    expect(hub.subscribers).toBe(0);
    expect(vi.getTimerCount()).toBe(timers);
    expect(feed.listeners.size).toBe(1);
    expect(feed.inFlight).toBe(0);
    // With nobody listening, a wake or a poll reads nothing.
    const reads = feed.reads;
    hub.wake();
    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(feed.reads).toBe(reads);
  });

  it('close() ends every stream with "closing", stops the poll and the watch, and reads no more', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const timersBefore = vi.getTimerCount();
    const feed = new FakeFeed();
    feed.append(message());
    const hub = makeHub(feed);
    const subscribers = [recorder(), recorder(), recorder(() => new Promise(() => {}))];
    for (const s of subscribers) hub.subscribe(s, 0, {});
    await settle();
    hub.close();
    expect(subscribers.map((s) => s.closes)).toEqual([['closing'], ['closing'], ['closing']]);
    expect(hub.subscribers).toBe(0);
    expect(vi.getTimerCount()).toBe(timersBefore);
    expect(feed.listeners.size).toBe(0);
    const reads = feed.reads;
    feed.append(message());
    hub.wake();
    await settle();
    expect(feed.reads).toBe(reads);
    expect(subscribers.map((s) => s.got)).toEqual([[1], [1], [1]]);
  });

  it('a socket that fails closes its subscriber, which the hub lets go of', async () => {
    const feed = new FakeFeed();
    const hub = makeHub(feed);
    const broken = recorder(async () => {
      throw new Error('socket closed');
    });
    const fine = recorder();
    hub.subscribe(broken, 0, {});
    hub.subscribe(fine, 0, {});
    await settle();
    feed.append(message(), message());
    hub.wake();
    await settle();
    // The page came in one write, which failed.
    expect(broken.got).toEqual([1, 2]);
    expect(broken.closes).toEqual(['closing']);
    expect(fine.got).toEqual([1, 2]);
    expect(hub.subscribers).toBe(1);
  });

  it('a failed read of the live end is reported and retried at the next wake-up; a failed catch-up closes its subscriber', async () => {
    const errors: unknown[] = [];
    let failNext = 0;
    const gate: Gate = async (_label, compute) => {
      if (failNext > 0) {
        failNext--;
        throw new Error('database unavailable');
      }
      return compute();
    };
    const feed = new FakeFeed(gate);
    const hub = makeHub(feed, { onError: (error) => errors.push(error) });
    const live = recorder();
    hub.subscribe(live, 0, {});
    await settle();
    feed.append(message());
    failNext = 1;
    hub.wake();
    await settle();
    expect(errors).toHaveLength(1);
    expect(live.got).toEqual([]);
    hub.wake();
    await settle();
    expect(live.got).toEqual([1]);

    const catchingUp = recorder();
    failNext = 1;
    hub.subscribe(catchingUp, 0, {});
    await settle();
    expect(catchingUp.closes).toEqual(['closing']);
    expect(hub.subscribers).toBe(1);
    expect(errors).toHaveLength(2);
  });
});

describe('FeedHub: the work of an event is done once, whatever the number of subscribers', () => {
  it('formats each event once, and gives every subscriber that takes the whole page the same bytes', async () => {
    const feed = new FakeFeed();
    const formatted: number[] = [];
    const hub = makeHub(feed, {
      format: (event) => {
        formatted.push(event.position);
        return `${event.type} ${event.position};`;
      },
    });
    const written: Buffer[][] = [[], [], [], []];
    const subscribers = written.map((into) => ({
      ...recorder(),
      send: async (batch: Batch) => {
        into.push(batch.bytes());
      },
    }));
    for (const [i, s] of subscribers.entries()) hub.subscribe(s, 0, i === 3 ? { types: ['status.created'] } : {});
    await settle();
    feed.append(message(), status, message());
    hub.wake();
    await settle();
    expect(formatted).toEqual([1, 2, 3]);
    expect(written.map((w) => w.map(String))).toEqual([
      ['message.created 1;status.created 2;message.created 3;'],
      ['message.created 1;status.created 2;message.created 3;'],
      ['message.created 1;status.created 2;message.created 3;'],
      ['status.created 2;'],
    ]);
    // One buffer, written to each.
    expect(written[1]?.[0]).toBe(written[0]?.[0]);
    expect(written[2]?.[0]).toBe(written[0]?.[0]);
  });

  it('reads the live end at most once per minIntervalMs, however often it is woken, and misses nothing', async () => {
    const feed = new FakeFeed();
    const hub = makeHub(feed, { minIntervalMs: 50 });
    const s = recorder();
    hub.subscribe(s, 0, {});
    await settle();
    const before = feed.reads;
    for (let i = 0; i < 20; i++) {
      feed.append(message());
      hub.wake();
      await settle();
    }
    // The first wake-up reads at once (the subscriber's catch-up read came before); the rest wait
    // for the interval and are served together.
    expect(feed.reads - before).toBeLessThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await settle();
    expect(s.got).toEqual(expected(feed, 0));
    expect(feed.reads - before).toBeLessThanOrEqual(3);
  });

  it('lets only catchUpReads subscribers read the store at once; the others wait their turn and miss nothing', async () => {
    const held: (() => void)[] = [];
    const gate: Gate = (_label, compute) => {
      const value = compute();
      return new Promise((resolve) => held.push(() => resolve(value)));
    };
    const feed = new FakeFeed(gate);
    feed.append(...Array.from({ length: 7 }, () => message()));
    // Catch-up reads start before the end of the feed; the live reader's start at it.
    let catchingUp = 0;
    let most = 0;
    const store = {
      feedHead: feed.feedHead,
      watchFeed: feed.watchFeed,
      readFeed: async (query: FeedQuery) => {
        const behind = query.after < 7;
        if (behind) most = Math.max(most, ++catchingUp);
        try {
          return await feed.readFeed(query);
        } finally {
          if (behind) catchingUp--;
        }
      },
    };
    const hub = new FeedHub({ store, catchUpReads: 2, pageSize: 3, pollMs: 3_600_000 });
    hubs.push(hub);
    const subscribers = Array.from({ length: 5 }, () => recorder());
    for (const s of subscribers) hub.subscribe(s, 0, {});
    for (let i = 0; i < 200 && (held.length > 0 || feed.inFlight > 0); i++) {
      held.shift()?.();
      await settle();
    }
    expect(most).toBe(2);
    for (const s of subscribers) expect(s.got).toEqual(expected(feed, 0));
  });

  it('reads the head of the store once for every subscriber starting at the end at the same time', async () => {
    const feed = new FakeFeed();
    feed.append(message(), message());
    let heads = 0;
    const counting = {
      readFeed: feed.readFeed,
      watchFeed: feed.watchFeed,
      feedHead: () => {
        heads++;
        return feed.feedHead();
      },
    };
    const hub = new FeedHub({ store: counting, pollMs: 3_600_000 });
    hubs.push(hub);
    expect(await Promise.all([hub.head(), hub.head(), hub.head()])).toEqual([2, 2, 2]);
    expect(heads).toBe(1);
  });
});
