// GroupCommitter (the contract step 4, B.1): how submitted rows are grouped into insertMany batches
// and how each caller gets its own outcome or its batch's error. The store is an in-memory fake
// that records every batch: this tier tests the batching logic, not a database.

import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from '../../src/ingest/message.js';
import type { ExportChunk } from '../../src/store/export-format.js';
import { type GroupCommitOptions, GroupCommitter } from '../../src/store/group-commit.js';
import type {
  BucketCount,
  ConversationPage,
  DeadLetterPage,
  DeliveryOutcome,
  FeedEvent,
  FeedHead,
  FeedJson,
  InsertOutcome,
  MessageDetail,
  MessagePage,
  MessageStore,
  Removal,
  Stats,
  StoredMessage,
} from '../../src/store/store.js';

function message(id: string): IncomingMessage {
  return { messageId: id, from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z', tsKey: '2025-01-15T10:00:00', text: null };
}

class StoreFailure extends Error {}

/** MessageStore.insertMany as the contract describes it, in memory; other methods are not used here. */
class FakeStore implements MessageStore {
  /** message_ids of every insertMany call, in call order, failed calls included. */
  readonly batches: string[][] = [];
  readonly committed = new Map<string, IncomingMessage>();
  /** A batch holding one of these message_ids fails as a whole and commits nothing. */
  readonly poison = new Set<string>();
  /** When set, insertMany waits for it before committing. */
  gate: Promise<void> | null = null;

  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    this.batches.push(messages.map((m) => m.messageId));
    if (this.gate !== null) await this.gate;
    await Promise.resolve();
    if (messages.some((m) => this.poison.has(m.messageId))) throw new StoreFailure('disk full');
    const outcomes: InsertOutcome[] = [];
    const staged = new Map(this.committed);
    for (const m of messages) {
      if (staged.has(m.messageId)) outcomes.push('duplicate');
      else {
        staged.set(m.messageId, m);
        outcomes.push('created');
      }
    }
    for (const [id, m] of staged) this.committed.set(id, m);
    return outcomes;
  }

  storeDelivery(): Promise<DeliveryOutcome> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  listMessages(): Promise<MessagePage> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  getMessage(): Promise<MessageDetail | null> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  listConversations(): Promise<ConversationPage> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  timeseries(): Promise<BucketCount[]> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  readFeed(): Promise<FeedEvent[]> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  readFeedJson(): Promise<FeedJson> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  exportMessages(): Promise<StoredMessage[]> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  exportChunk(): Promise<ExportChunk> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  importMessages(): Promise<InsertOutcome[]> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  eraseMessage(): Promise<Removal> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  eraseConversation(): Promise<Removal> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  countPurge(): Promise<Removal> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  purge(): Promise<Removal | null> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  oldestReceivedAt(): Promise<string | null> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  feedHead(): Promise<FeedHead> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  listDeadLetters(): Promise<DeadLetterPage> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  stats(): Promise<Stats> {
    return Promise.reject(new Error('not used by GroupCommitter'));
  }
  checkHealth(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A store that answers with too few outcomes, to see that the committer does not hang a caller. */
class ShortStore extends FakeStore {
  override async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    const outcomes = await super.insertMany(messages);
    return outcomes.slice(0, -1);
  }
}

function deferred(): { promise: Promise<void>; release: () => void } {
  let release = () => {};
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `promise`, or a clear failure when it has not settled within a second (a row left in the queue). */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was not committed within 1 s: left waiting in the queue`)), 1000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let committers: GroupCommitter[] = [];

function setup(options: GroupCommitOptions, store: FakeStore = new FakeStore()): { store: FakeStore; committer: GroupCommitter } {
  const committer = new GroupCommitter(store, options);
  committers.push(committer);
  return { store, committer };
}

afterEach(async () => {
  // Leave no timer or batch running into the next test.
  for (const c of committers) await c.drain();
  committers = [];
});

describe('GroupCommitter batching', () => {
  it.each([0, 5])('requests submitted in the same tick land in one batch (maxWaitMs %d)', async (maxWaitMs) => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs });
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const outcomes = await Promise.all(ids.map((id) => committer.submit(message(id))));
    expect(outcomes).toEqual(['created', 'created', 'created', 'created', 'created']);
    expect(store.batches).toEqual([ids]);
  });

  it('with maxWaitMs 0, requests in separate turns get separate batches', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 0 });
    await committer.submit(message('a'));
    await nextTurn();
    await within(committer.submit(message('b')), 'b');
    expect(store.batches).toEqual([['a'], ['b']]);
  });

  it.each([0, 5])(
    'a request submitted as soon as an earlier one resolves is still committed (maxWaitMs %d)',
    async (maxWaitMs) => {
      // As a handler does that stores the messages of one delivery one after another
      // (`for (const m of messages) await committer.submit(m)`): the next submit runs in the
      // microtask right after the previous caller was answered.
      const { store, committer } = setup({ maxSize: 100, maxWaitMs });
      const chain = committer
        .submit(message('a'))
        .then(() => committer.submit(message('b')))
        .then(() => committer.submit(message('c')));
      expect(await within(chain, 'a row submitted right after the previous one resolved')).toBe('created');
      expect(store.batches).toEqual([['a'], ['b'], ['c']]);
    },
  );

  it('with maxWaitMs > 0, a request from a later turn inside the window joins the batch', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 50 });
    const first = committer.submit(message('a'));
    await nextTurn();
    const second = committer.submit(message('b'));
    expect(await Promise.all([first, second])).toEqual(['created', 'created']);
    expect(store.batches).toEqual([['a', 'b']]);
  });

  it.each([
    [1, 3, [['m0'], ['m1'], ['m2']]],
    [2, 5, [['m0', 'm1'], ['m2', 'm3'], ['m4']]],
    [
      3,
      6,
      [
        ['m0', 'm1', 'm2'],
        ['m3', 'm4', 'm5'],
      ],
    ],
    [4, 3, [['m0', 'm1', 'm2']]],
  ])('maxSize %d splits %d same-tick requests into %j', async (maxSize, count, expected) => {
    const { store, committer } = setup({ maxSize, maxWaitMs: 0 });
    const ids = Array.from({ length: count }, (_, i) => `m${i}`);
    const outcomes = await Promise.all(ids.map((id) => committer.submit(message(id))));
    expect(outcomes).toEqual(ids.map(() => 'created'));
    expect(store.batches).toEqual(expected);
  });

  it('with handOffRows, the queue goes to the store within the turn as soon as it holds that many', () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 0, maxInFlight: 64, handOffRows: 3 });
    const pending = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => committer.submit(message(id)));
    // Still in the same synchronous step: two batches of three were handed over, 'g' waits for the turn's end.
    expect(store.batches).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
    return Promise.all(pending).then((outcomes) => {
      expect(outcomes).toEqual(pending.map(() => 'created'));
      expect(store.batches).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
    });
  });

  it('handOffRows waits for a free slot, and does not apply with maxWaitMs > 0', async () => {
    const one = setup({ maxSize: 100, maxWaitMs: 0, maxInFlight: 1, handOffRows: 2 });
    const gate = deferred();
    one.store.gate = gate.promise;
    const first = ['a', 'b'].map((id) => one.committer.submit(message(id)));
    const queued = ['c', 'd', 'e'].map((id) => one.committer.submit(message(id)));
    try {
      expect(one.store.batches).toEqual([['a', 'b']]); // the only slot is taken: c, d, e wait for it
    } finally {
      one.store.gate = null;
      gate.release();
    }
    expect(await Promise.all([...first, ...queued])).toEqual(['created', 'created', 'created', 'created', 'created']);
    expect(one.store.batches).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);

    const waiting = setup({ maxSize: 100, maxWaitMs: 5, maxInFlight: 64, handOffRows: 2 });
    const all = ['a', 'b', 'c'].map((id) => waiting.committer.submit(message(id)));
    expect(waiting.store.batches).toEqual([]);
    await Promise.all(all);
    expect(waiting.store.batches).toEqual([['a', 'b', 'c']]);
  });

  it('a full batch does not wait for maxWaitMs', async () => {
    const { store, committer } = setup({ maxSize: 2, maxWaitMs: 10_000 });
    const started = Date.now();
    expect(await Promise.all([committer.submit(message('a')), committer.submit(message('b'))])).toEqual(['created', 'created']);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(store.batches).toEqual([['a', 'b']]);
  });

  it('requests arriving while a batch commits join the next batch together', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 0 });
    const gate = deferred();
    store.gate = gate.promise;
    const first = committer.submit(message('a'));
    await nextTurn();
    expect(store.batches).toEqual([['a']]);
    const later = ['b', 'c', 'd'].map((id) => committer.submit(message(id)));
    await nextTurn();
    expect(store.batches).toEqual([['a']]); // nothing starts while a commit is in flight
    store.gate = null;
    gate.release();
    expect(await Promise.all([first, ...later])).toEqual(['created', 'created', 'created', 'created']);
    expect(store.batches).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('never puts more than maxSize rows in a batch, and keeps submission order', async () => {
    const { store, committer } = setup({ maxSize: 7, maxWaitMs: 0 });
    const ids: string[] = [];
    const pending: Promise<InsertOutcome>[] = [];
    for (let wave = 0; wave < 5; wave++) {
      for (let i = 0; i < 10; i++) {
        const id = `w${wave}-${i}`;
        ids.push(id);
        pending.push(committer.submit(message(id)));
      }
      await nextTurn();
    }
    await Promise.all(pending);
    for (const batch of store.batches) expect(batch.length).toBeLessThanOrEqual(7);
    expect(store.batches.flat()).toEqual(ids);
  });
});

describe('GroupCommitter outcomes', () => {
  it('a message_id repeated inside one batch gives created, then duplicate', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 0 });
    const outcomes = await Promise.all([
      committer.submit(message('dup')),
      committer.submit(message('other')),
      committer.submit(message('dup')),
      committer.submit(message('dup')),
    ]);
    expect(outcomes).toEqual(['created', 'created', 'duplicate', 'duplicate']);
    expect(store.batches).toEqual([['dup', 'other', 'dup', 'dup']]);
  });

  it('a message_id repeated in a later batch is a duplicate', async () => {
    const { committer } = setup({ maxSize: 100, maxWaitMs: 0 });
    expect(await committer.submit(message('m1'))).toBe('created');
    await nextTurn();
    expect(await within(committer.submit(message('m1')), 'the second m1')).toBe('duplicate');
  });

  it('each caller gets the outcome of its own row', async () => {
    const { committer, store } = setup({ maxSize: 100, maxWaitMs: 0 });
    await committer.submit(message('old'));
    await nextTurn();
    const outcomes = await within(
      Promise.all(['new1', 'old', 'new2', 'new1'].map((id) => committer.submit(message(id)))),
      'batch 2',
    );
    expect(outcomes).toEqual(['created', 'duplicate', 'created', 'duplicate']);
    expect([...store.committed.keys()].sort()).toEqual(['new1', 'new2', 'old']);
  });
});

describe('GroupCommitter failures', () => {
  it('a failing insertMany rejects every caller in that batch and no caller of other batches', async () => {
    const { store, committer } = setup({ maxSize: 2, maxWaitMs: 0 });
    store.poison.add('bad');
    const results = await Promise.allSettled(['a', 'bad', 'c', 'd', 'e'].map((id) => committer.submit(message(id))));
    expect(store.batches).toEqual([['a', 'bad'], ['c', 'd'], ['e']]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    for (const r of results.slice(0, 2)) expect(r.status === 'rejected' && r.reason).toBeInstanceOf(StoreFailure);
    expect(results.slice(2).map((r) => r.status === 'fulfilled' && r.value)).toEqual(['created', 'created', 'created']);
    expect([...store.committed.keys()].sort()).toEqual(['c', 'd', 'e']);
  });

  it('a failed batch does not stop later submissions', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 0 });
    store.poison.add('bad');
    const failed = await Promise.allSettled([committer.submit(message('x')), committer.submit(message('bad'))]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    // x was never committed, so a retry of it creates it.
    await nextTurn();
    expect(await within(committer.submit(message('x')), 'the retry of x')).toBe('created');
    expect(store.batches).toEqual([['x', 'bad'], ['x']]);
  });

  it('a store answering with too few outcomes rejects the caller left without one', async () => {
    const store = new ShortStore();
    const { committer } = setup({ maxSize: 100, maxWaitMs: 0 }, store);
    const results = await Promise.allSettled([committer.submit(message('a')), committer.submit(message('b'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });
});

describe('GroupCommitter.drain', () => {
  it('commits everything queued without waiting for maxWaitMs', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 60_000 });
    const settled: string[] = [];
    const pending = ['a', 'b', 'c'].map((id) => committer.submit(message(id)).then((o) => settled.push(`${id}:${o}`)));
    expect(store.batches).toEqual([]);
    const started = Date.now();
    await committer.drain();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(store.batches).toEqual([['a', 'b', 'c']]);
    expect([...store.committed.keys()]).toEqual(['a', 'b', 'c']);
    await Promise.all(pending);
    expect(settled).toEqual(['a:created', 'b:created', 'c:created']);
  });

  it('commits rows queued behind an in-flight batch, over several batches', async () => {
    const { store, committer } = setup({ maxSize: 2, maxWaitMs: 0 });
    const gate = deferred();
    store.gate = gate.promise;
    const first = committer.submit(message('a'));
    await nextTurn();
    const rest = ['b', 'c', 'd', 'e', 'f'].map((id) => committer.submit(message(id)));
    store.gate = null;
    const drained = committer.drain();
    gate.release();
    await drained;
    expect([...store.committed.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(store.batches.flat()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const batch of store.batches) expect(batch.length).toBeLessThanOrEqual(2);
    expect(await Promise.all([first, ...rest])).toEqual(['created', 'created', 'created', 'created', 'created', 'created']);
  });

  it('resolves at once when nothing is queued', async () => {
    const { store, committer } = setup({ maxSize: 100, maxWaitMs: 0 });
    await committer.drain();
    expect(store.batches).toEqual([]);
  });
});
