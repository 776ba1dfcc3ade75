// The MessageStore contract of export, import, erasure and retention: an erasure or a purge batch
// removes rows with their statuses and feed events and takes them out of every aggregate and
// search, exactly; a purge batch takes the oldest rows first and stays within its size; an export
// walks every matching message once, oldest first, and its chunks are those messages formatted; an
// import keeps what the export gave. Checked
// case by case, then against a plain reference recounted from what is left after random erasures
// and purges between writes. sqlite.test.ts and postgres.test.ts run it on each store.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryStatusName } from '../../src/ingest/whatsapp.js';
import { csvRecords, detailed, EXPORT_FORMATS, ndjsonLines } from '../../src/store/export-format.js';
import { IMPORT_REFUSED, ImportSequence } from '../../src/store/import-sequence.js';
import { removalCounts } from '../../src/store/retention.js';
import type {
  FeedEvent,
  ImportedMessage,
  IncomingMessage,
  MessageFilter,
  MessageStore,
  Position,
  Removal,
  Stats,
  StoredMessage,
} from '../../src/store/store.js';
import {
  ALL,
  bodyOriginOf,
  compareCodePoints,
  conversationOf,
  deadLetterOf,
  deliveryOf,
  FRACTIONS,
  ID_CHARS,
  incoming,
  keyOf,
  type OpenedStore,
  type OpenStore,
  pick,
  randomText,
  seededRandom,
  statusOf,
  whatsappOrigin,
} from './contract.js';
import { eventKey, readWholeFeed } from './feed-contract.js';

/** A purge's counts without the timing a store may add (PurgeBatch.writerMs); null stays null. */
const counts = <T extends Removal | null>(batch: T): T => (batch === null ? batch : (removalCounts(batch) as T));

import {
  type RefFilter,
  type Row,
  referenceConversationList,
  referenceMessages,
  referenceTimeseries,
  toMessageFilter,
} from './inbox-contract.js';

const NONE: Removal = { messages: 0, statuses: 0, deadLetters: 0 };

/** The store's clock: every write takes its receivedAt from it; tests move it on. */
class Clock {
  #at = Date.parse('2030-01-01T00:00:00.000Z');
  readonly now = (): Date => new Date(this.#at);
  /** Moves on by `ms` and answers the new time as receivedAt gives it. */
  tick(ms = 1000): string {
    this.#at += ms;
    return new Date(this.#at).toISOString();
  }
  get iso(): string {
    return new Date(this.#at).toISOString();
  }
}

/** Reads a whole export, `chunk` messages at a time, each chunk starting after the last one read. */
export async function exportAll(store: MessageStore, filter: MessageFilter, chunk: number): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  for (let chunks = 0; ; chunks++) {
    const last = all.at(-1);
    const page = await store.exportMessages(filter, {
      limit: chunk,
      ...(last ? { after: { tsKey: last.tsKey, messageId: last.messageId } } : {}),
    });
    expect(page.length).toBeLessThanOrEqual(chunk);
    all.push(...page);
    if (page.length < chunk) return all;
    if (chunks > 100_000) throw new Error('test bug: the export does not end');
  }
}

/**
 * What an export line gives back to import: the message with the origin its details say, or none
 * for a row kept without one (no raw), which then reads back the same way.
 */
export function imported(m: StoredMessage): ImportedMessage {
  const details = m.details;
  if (details === undefined) throw new Error('test bug: an export without details');
  const { details: _, ...message } = m;
  const origin =
    details.raw === null
      ? {}
      : {
          origin: {
            source: details.source,
            raw: details.raw,
            contactName: details.contactName,
            replyTo: details.replyTo,
            phoneNumberId: details.phoneNumberId,
          },
        };
  return { ...message, ...origin, receivedAt: details.receivedAt };
}

// ---------------------------------------------------------------------------------------------
// The reference: every row kept, as plain data, and the feed as positions of row keys.

interface RefStatus {
  readonly messageId: string;
  readonly status: DeliveryStatusName;
  readonly createdAt: string;
}

interface RefDeadLetter {
  readonly id: number;
  readonly receivedAt: string;
}

function statusKey(messageId: string, status: string): string {
  return `status ${messageId} ${status}`;
}

class Reference {
  readonly rows = new Map<string, Row>();
  readonly statuses = new Map<string, RefStatus>();
  readonly deadLetters = new Map<number, RefDeadLetter>();
  /** position → eventKey of every event kept. */
  readonly events = new Map<number, string>();
  lastPosition = 0;

  get messages(): Row[] {
    return [...this.rows.values()];
  }

  /** Takes in the events a write created, read from the feed, with the dead letters' ids. */
  learn(events: readonly FeedEvent[]): void {
    for (const event of events) {
      this.events.set(event.position, eventKey(event));
      this.lastPosition = Math.max(this.lastPosition, event.position);
      if (event.type === 'dead_letter.created') {
        this.deadLetters.set(event.deadLetter.id, { id: event.deadLetter.id, receivedAt: event.deadLetter.receivedAt });
      }
    }
  }

  /** Removes messages (each with every status of its id), statuses and dead letters, with their events; answers the counts. */
  remove(messageIds: readonly string[], statusesOf: readonly string[], pairs: readonly string[], deadLetters: readonly number[]) {
    const gone = new Set<string>();
    let messages = 0;
    for (const id of messageIds) {
      if (!this.rows.delete(id)) continue;
      messages++;
      gone.add(`message ${id}`);
    }
    let statuses = 0;
    const ids = new Set([...messageIds, ...statusesOf]);
    for (const [key, s] of this.statuses) {
      if (ids.has(s.messageId) || pairs.includes(key)) {
        this.statuses.delete(key);
        statuses++;
        gone.add(key);
      }
    }
    let removedLetters = 0;
    for (const id of deadLetters) {
      if (!this.deadLetters.delete(id)) continue;
      removedLetters++;
      gone.add(`dead letter ${id}`);
    }
    for (const [position, key] of this.events) if (gone.has(key)) this.events.delete(position);
    return { messages, statuses, deadLetters: removedLetters };
  }

  /** What one purge batch removes: the oldest candidates by kind, merged, within the limit (a message with its statuses). */
  purge(before: string, limit: number): Removal {
    const byTime = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const messages = this.messages
      .filter((r) => r.receivedAt < before)
      .sort((a, b) => byTime(a.receivedAt, b.receivedAt) || compareCodePoints(a.m.messageId, b.m.messageId))
      .slice(0, limit);
    const statuses = [...this.statuses.entries()]
      .filter(([, s]) => s.createdAt < before)
      .sort(
        ([, a], [, b]) =>
          byTime(a.createdAt, b.createdAt) ||
          compareCodePoints(a.messageId, b.messageId) ||
          compareCodePoints(a.status, b.status),
      )
      .slice(0, limit);
    const letters = [...this.deadLetters.values()]
      .filter((d) => d.receivedAt < before)
      .sort((a, b) => byTime(a.receivedAt, b.receivedAt) || a.id - b.id)
      .slice(0, limit);
    const candidates = [
      ...messages.map((r) => ({ at: r.receivedAt, kind: 0, key: r.m.messageId, n: 0, status: '' })),
      ...statuses.map(([, s]) => ({ at: s.createdAt, kind: 1, key: s.messageId, n: 0, status: s.status })),
      ...letters.map((d) => ({ at: d.receivedAt, kind: 2, key: '', n: d.id, status: '' })),
    ]
      .sort(
        (a, b) =>
          byTime(a.at, b.at) ||
          a.kind - b.kind ||
          a.n - b.n ||
          compareCodePoints(a.key, b.key) ||
          compareCodePoints(a.status, b.status),
      )
      .slice(0, limit);
    const takenMessages: string[] = [];
    const takenPairs: string[] = [];
    const takenLetters: number[] = [];
    const taken = new Set<string>();
    let used = 0;
    for (const c of candidates) {
      let rows: string[];
      if (c.kind === 0) {
        rows = [
          `message ${c.key}`,
          ...[...this.statuses.values()].filter((s) => s.messageId === c.key).map((s) => statusKey(s.messageId, s.status)),
        ];
      } else if (c.kind === 1) rows = [statusKey(c.key, c.status)];
      else rows = [`dead letter ${c.n}`];
      const cost = rows.filter((r) => !taken.has(r)).length;
      if (cost === 0) continue;
      if (used > 0 && used + cost > limit) break;
      used += cost;
      for (const r of rows) taken.add(r);
      if (c.kind === 0) takenMessages.push(c.key);
      else if (c.kind === 1) takenPairs.push(statusKey(c.key, c.status));
      else takenLetters.push(c.n);
    }
    return this.remove(takenMessages, [], takenPairs, takenLetters);
  }

  /** What every purge batch for `before` removes together. */
  purgeCount(before: string): Removal {
    const old = this.messages.filter((r) => r.receivedAt < before);
    const oldIds = new Set(old.map((r) => r.m.messageId));
    const statuses = [...this.statuses.values()].filter((s) => s.createdAt < before || oldIds.has(s.messageId)).length;
    const deadLetters = [...this.deadLetters.values()].filter((d) => d.receivedAt < before).length;
    return { messages: old.length, statuses, deadLetters };
  }

  oldest(): string | null {
    const all = [
      ...this.messages.map((r) => r.receivedAt),
      ...[...this.statuses.values()].map((s) => s.createdAt),
      ...[...this.deadLetters.values()].map((d) => d.receivedAt),
    ].sort();
    return all[0] ?? null;
  }

  stats(top: number): Stats {
    const counts = new Map<string, number>();
    for (const { m } of this.rows.values()) counts.set(m.from, (counts.get(m.from) ?? 0) + 1);
    const ordered = referenceMessages(this.messages, {}, { limit: this.rows.size, offset: 0 }).data;
    return {
      totalMessages: this.rows.size,
      sendersCount: counts.size,
      messagesPerSender: [...counts]
        .map(([from, count]) => ({ from, count }))
        .sort((a, b) => b.count - a.count || compareCodePoints(a.from, b.from))
        .slice(0, top),
      firstMessageTs: ordered[0]?.ts ?? null,
      lastMessageTs: ordered.at(-1)?.ts ?? null,
    };
  }
}

// Random material: few parties and instants, so conversations are long and first, last and
// contact messages tie; texts with a word of their own, so a search finds one message.
const PARTIES = ['+1', '+10', '+2', '+919876543210', '+14155550100'];
const DAYS = ['2024-12-31', '2025-01-15'];
const HOURS = ['00', '10', '23'];
const TYPES = ['text', 'image'];
const CONTACTS = [null, 'Asha', 'Ravi'];
const STATUS_NAMES: DeliveryStatusName[] = ['sent', 'delivered', 'read', 'failed'];

function randomTs(random: () => number): string {
  return `${pick(random, DAYS)}T${pick(random, HOURS)}:${pick(random, ['00:00', '30:00', '59:59'])}${pick(random, FRACTIONS)}Z`;
}

function randomMessage(random: () => number, n: number): IncomingMessage {
  const type = random() < 0.3 ? undefined : pick(random, TYPES);
  const text = random() < 0.15 ? null : `${randomText(random) ?? ''} w${n}q`;
  const m = incoming(`${pick(random, ID_CHARS)}${n}`, {
    from: PARTIES[Math.floor(random() * random() * PARTIES.length)] ?? '+1',
    to: pick(random, PARTIES),
    ts: randomTs(random),
    text,
    ...(type === undefined ? {} : { type }),
  });
  const r = random();
  if (r < 0.3) return m;
  if (r < 0.5) return { ...m, origin: bodyOriginOf(m) };
  return { ...m, origin: whatsappOrigin(m, { contactName: pick(random, CONTACTS) }) };
}

function randomFilter(random: () => number, ref: Reference): RefFilter {
  const f: RefFilter = {};
  if (random() < 0.35) f.from = pick(random, PARTIES);
  if (random() < 0.35) f.to = pick(random, PARTIES);
  if (random() < 0.25) f.type = pick(random, [...TYPES, 'absent']);
  if (random() < 0.3) f.since = randomTs(random);
  if (random() < 0.3) f.until = randomTs(random);
  if (random() < 0.25) {
    const texts = ref.messages.flatMap((r) => (r.m.text === null ? [] : [r.m.text]));
    f.q = texts.length > 0 && random() < 0.7 ? Array.from(pick(random, texts)).slice(-5).join('') : pick(random, ['a', 'q', 'é']);
  }
  return f;
}

/** Every answer of the store that the rows left make: stats, totals, listings, conversations, series, feed. */
async function expectLikeReference(store: MessageStore, ref: Reference, random: () => number, label: string): Promise<void> {
  const rows = ref.messages;
  expect(await store.stats(10), `${label}: stats`).toEqual(ref.stats(10));
  expect(await store.stats(100), `${label}: stats of every sender`).toEqual(ref.stats(100));
  // The totals each aggregate answers: every sender, recipient, type and pair.
  for (const from of [...PARTIES, '+3']) {
    for (const filter of [{ from }, { to: from }, ...PARTIES.map((to) => ({ from, to }))]) {
      expect(
        (await store.listMessages(toMessageFilter(filter), { limit: 1, offset: 0 })).total,
        `${label}: ${JSON.stringify(filter)}`,
      ).toBe(referenceMessages(rows, filter, { limit: 1, offset: 0 }).total);
    }
  }
  for (const type of [...TYPES, 'absent']) {
    expect((await store.listMessages({ type }, { limit: 1, offset: 0 })).total, `${label}: type ${type}`).toBe(
      rows.filter((r) => r.m.type === type).length,
    );
  }
  // Listings with a mix of filters (some counted from the aggregates, some by scanning).
  for (let i = 0; i < 25; i++) {
    const f = randomFilter(random, ref);
    const page = { limit: 50, offset: 0, ...(random() < 0.5 ? { order: 'desc' as const } : {}) };
    expect(await store.listMessages(toMessageFilter(f), page), `${label}: ${JSON.stringify(f)}`).toEqual(
      referenceMessages(rows, f, page),
    );
  }
  const conversations = referenceConversationList(rows, {});
  expect(await store.listConversations({}, { limit: 100 }), `${label}: conversations`).toEqual({
    data: conversations,
    total: conversations.length,
    hasMore: false,
  });
  for (const from of PARTIES) {
    expect((await store.listConversations({ from }, { limit: 100 })).data, `${label}: conversations from ${from}`).toEqual(
      referenceConversationList(rows, { from }),
    );
  }
  for (const [since, until] of [
    ['2024-12-31T00:00:00Z', '2025-01-16T00:00:00Z'],
    ['2024-12-31T10:30:00Z', '2025-01-15T10:59:59.9Z'],
  ] as const) {
    for (const bucket of ['hour', 'day'] as const) {
      expect(await store.timeseries({ bucket, sinceKey: keyOf(since), untilKey: keyOf(until) }), `${label}: ${bucket}s`).toEqual(
        referenceTimeseries(rows, bucket, since, until),
      );
    }
  }
  // The feed: exactly the events of the rows kept, each at the position it was given.
  const feed = await readWholeFeed(store, {}, 200);
  expect(
    feed.map((e) => [e.position, eventKey(e)]),
    `${label}: the feed`,
  ).toEqual([...ref.events].sort(([a], [b]) => a - b));
  const letters = await store.listDeadLetters({ limit: 1000, offset: 0 });
  expect(
    letters.data.map((d) => d.id),
    `${label}: dead letters`,
  ).toEqual([...ref.deadLetters.keys()].sort((a, b) => a - b));
  expect(await store.oldestReceivedAt(), `${label}: oldest`).toBe(ref.oldest());
}

export function describeRemovalContract(name: string, open: OpenStore): void {
  describe(`MessageStore export, import, erasure and retention contract: ${name}`, () => {
    let store: MessageStore;
    let clock: Clock;
    let opened: OpenedStore[] = [];

    /** A fresh store on the test's clock (a test may open a second one, to import into). */
    const openStore = async (): Promise<MessageStore> => {
      const fresh = await open({ now: clock.now });
      opened.push(fresh);
      return fresh.store;
    };

    beforeEach(async () => {
      clock = new Clock();
      store = await openStore();
    });
    afterEach(async () => {
      for (const o of opened.splice(0).reverse()) await o.cleanup();
      opened = [];
    });

    const total = async (filter: MessageFilter = {}) => (await store.listMessages(filter, { limit: 1, offset: 0 })).total;
    const feedKeys = async () => (await readWholeFeed(store)).map((e) => [e.position, eventKey(e)] as const);

    describe('eraseMessage', () => {
      it('removes the message, its statuses and their events, and answers what it removed; the other events keep their positions', async () => {
        const a = incoming('a', { from: '+1', to: '+2', text: 'first needle' });
        const b = incoming('b', { from: '+1', to: '+2', ts: '2025-01-15T11:00:00Z', text: 'second' });
        clock.tick();
        await store.storeDelivery(deliveryOf({ messages: [a, b], statuses: [statusOf('a', 'sent'), statusOf('b', 'sent')] }));
        clock.tick();
        await store.storeDelivery(deliveryOf({ statuses: [statusOf('a', 'read')], deadLetters: [deadLetterOf('x')] }));
        const before = await feedKeys();
        expect(before.map(([, key]) => key)).toEqual([
          'message a',
          'message b',
          'status a sent',
          'status b sent',
          'status a read',
          'dead letter 1',
        ]);

        expect(await store.eraseMessage('a')).toEqual({ messages: 1, statuses: 2, deadLetters: 0 });
        expect(await store.getMessage('a')).toBeNull();
        expect(await feedKeys()).toEqual(before.filter(([, key]) => !key.includes(' a ') && key !== 'message a'));
        expect(await total()).toBe(1);
        expect(await total({ q: 'needle' })).toBe(0);
        expect((await store.getMessage('b'))?.statuses.map((s) => s.status)).toEqual(['sent']);
        // Again: nothing left to erase.
        expect(await store.eraseMessage('a')).toEqual(NONE);
      });

      it('erases the statuses of an id whose message was never stored, and answers zeros for an id with neither', async () => {
        await store.storeDelivery(deliveryOf({ statuses: [statusOf('out', 'sent'), statusOf('out', 'delivered')] }));
        expect(await store.getMessage('out')).not.toBeNull();
        expect(await store.eraseMessage('out')).toEqual({ messages: 0, statuses: 2, deadLetters: 0 });
        expect(await store.getMessage('out')).toBeNull();
        expect(await readWholeFeed(store)).toEqual([]);
        expect(await store.eraseMessage('nobody')).toEqual(NONE);
        expect(await store.eraseMessage('bad\0id')).toEqual(NONE);
        expect(await store.eraseConversation({ from: '+1\0' })).toEqual(NONE);
      });

      it('gives a conversation whose first, last or contact message is erased the next one, and removes one left empty', async () => {
        const at = (id: string, ts: string, contactName: string | null = null): IncomingMessage => {
          const m = incoming(id, { from: '+1', to: '+2', ts, text: `text ${id}`, type: 'text' });
          return { ...m, origin: whatsappOrigin(m, { contactName }) };
        };
        const first = at('m1', '2025-01-15T09:00:00Z', 'Old name');
        const middle = at('m2', '2025-01-15T10:00:00Z', 'Asha');
        const last = at('m3', '2025-01-15T11:00:00Z');
        const tie = at('m0', '2025-01-15T11:00:00.000Z');
        const other = incoming('o1', { from: '+3', to: '+2', ts: '2025-01-15T08:00:00Z' });
        await store.insertMany([first, middle, last, tie, other]);
        const list = async () => (await store.listConversations({}, { limit: 10 })).data;
        expect(await list()).toEqual([conversationOf(first, last, 4, 'Asha'), conversationOf(other, other, 1)]);

        await store.eraseMessage('m3');
        expect(await list()).toEqual([conversationOf(first, tie, 3, 'Asha'), conversationOf(other, other, 1)]);
        await store.eraseMessage('m2');
        expect(await list()).toEqual([conversationOf(first, tie, 2, 'Old name'), conversationOf(other, other, 1)]);
        await store.eraseMessage('m1');
        expect(await list()).toEqual([conversationOf(tie, tie, 1), conversationOf(other, other, 1)]);
        await store.eraseMessage('m0');
        expect(await store.listConversations({}, { limit: 10 })).toEqual({
          data: [conversationOf(other, other, 1)],
          total: 1,
          hasMore: false,
        });
        expect(await total({ from: '+1', to: '+2' })).toBe(0);
      });

      it('stops counting a sender, recipient, type and hour left without messages', async () => {
        const only = incoming('only', { from: '+7', to: '+8', ts: '2025-01-16T05:00:00Z', type: 'sticker' });
        const kept = incoming('kept', { from: '+1', to: '+2' });
        await store.insertMany([only, kept]);
        expect((await store.stats(10)).sendersCount).toBe(2);
        await store.eraseMessage('only');
        expect(await store.stats(10)).toEqual({
          totalMessages: 1,
          sendersCount: 1,
          messagesPerSender: [{ from: '+1', count: 1 }],
          firstMessageTs: kept.ts,
          lastMessageTs: kept.ts,
        });
        expect(await total({ to: '+8' })).toBe(0);
        expect(await total({ type: 'sticker' })).toBe(0);
        expect(await total({ sinceKey: '2025-01-16T00:00:00' })).toBe(0);
        expect(
          await store.timeseries({ bucket: 'hour', sinceKey: '2025-01-15T00:00:00', untilKey: '2025-01-17T00:00:00' }),
        ).toEqual([{ bucket: '2025-01-15T10', count: 1 }]);
        // The sender comes back as new with its next message.
        await store.insertMany([incoming('again', { from: '+7', to: '+8' })]);
        expect((await store.stats(10)).sendersCount).toBe(2);
        expect((await store.listConversations({}, { limit: 10 })).total).toBe(2);
      });
    });

    describe('eraseConversation', () => {
      it('erases every message from a sender, or from a sender to one recipient, with their statuses and events', async () => {
        const messages = [
          incoming('a1', { from: '+1', to: '+2', text: 'alpha one' }),
          incoming('a2', { from: '+1', to: '+2', ts: '2025-01-15T10:00:01Z', text: 'alpha two' }),
          incoming('b1', { from: '+1', to: '+3', text: 'beta one' }),
          incoming('c1', { from: '+4', to: '+2', text: 'gamma one' }),
        ];
        await store.storeDelivery(deliveryOf({ messages, statuses: [statusOf('a1', 'read'), statusOf('c1', 'sent')] }));
        expect(await store.eraseConversation({ from: '+1', to: '+2' })).toEqual({ messages: 2, statuses: 1, deadLetters: 0 });
        expect(await total()).toBe(2);
        expect(await total({ q: 'alpha' })).toBe(0);
        expect((await feedKeys()).map(([, key]) => key)).toEqual(['message b1', 'message c1', 'status c1 sent']);
        expect(await store.eraseConversation({ from: '+1', to: '+9' })).toEqual(NONE);
        expect(await store.eraseConversation({ from: '+1' })).toEqual({ messages: 1, statuses: 0, deadLetters: 0 });
        expect(await store.stats(10)).toMatchObject({ totalMessages: 1, sendersCount: 1 });
        expect((await store.listConversations({}, { limit: 10 })).data.map((c) => c.from)).toEqual(['+4']);
      });
    });

    describe('purge', () => {
      it('removes the oldest rows received before the cutoff, at most the limit per call, each message with its statuses', async () => {
        const times: string[] = [];
        for (let batch = 0; batch < 4; batch++) {
          times.push(clock.tick());
          await store.storeDelivery(
            deliveryOf({
              messages: [incoming(`m${batch}a`), incoming(`m${batch}b`, { from: '+2' })],
              statuses: [statusOf(`m${batch}a`, 'sent'), statusOf(`out${batch}`, 'sent')],
              deadLetters: [deadLetterOf(`x${batch}`)],
            }),
          );
        }
        // A later status of an old message goes with it.
        clock.tick();
        await store.storeDelivery(deliveryOf({ statuses: [statusOf('m0a', 'read')] }));
        const cutoff = times[2] ?? '';
        expect(await store.countPurge(cutoff)).toEqual({ messages: 4, statuses: 5, deadLetters: 2 });
        expect(await store.oldestReceivedAt()).toBe(times[0]);

        // Batch 0's rows: m0a with its two statuses (3), m0b (1), then the statuses: 4 + 1 > 4 stops.
        expect(counts(await store.purge(cutoff, 4))).toEqual({ messages: 2, statuses: 2, deadLetters: 0 });
        expect(counts(await store.purge(cutoff, 2))).toEqual({ messages: 0, statuses: 1, deadLetters: 1 });
        expect(await store.oldestReceivedAt()).toBe(times[1]);
        // A message with more statuses than the limit still goes, alone.
        expect(counts(await store.purge(cutoff, 1))).toEqual({ messages: 1, statuses: 1, deadLetters: 0 });
        expect(counts(await store.purge(cutoff, 100))).toEqual({ messages: 1, statuses: 1, deadLetters: 1 });
        expect(counts(await store.purge(cutoff, 100))).toEqual(NONE);
        expect(await store.countPurge(cutoff)).toEqual(NONE);

        // What is left: everything received at or after the cutoff.
        expect(await store.oldestReceivedAt()).toBe(cutoff);
        expect((await store.listMessages({}, ALL)).data.map((m) => m.messageId)).toEqual(['m2a', 'm2b', 'm3a', 'm3b']);
        expect((await feedKeys()).map(([, key]) => key)).toEqual([
          'message m2a',
          'message m2b',
          'status m2a sent',
          'status out2 sent',
          'dead letter 3',
          'message m3a',
          'message m3b',
          'status m3a sent',
          'status out3 sent',
          'dead letter 4',
        ]);
        expect(await store.stats(10)).toMatchObject({ totalMessages: 4, sendersCount: 2 });
        expect(counts(await store.purge(clock.tick(), 1000))).toEqual({ messages: 4, statuses: 4, deadLetters: 2 });
        expect(await store.oldestReceivedAt()).toBeNull();
        expect(await store.stats(10)).toEqual({
          totalMessages: 0,
          sendersCount: 0,
          messagesPerSender: [],
          firstMessageTs: null,
          lastMessageTs: null,
        });
        expect(await store.listConversations({}, { limit: 10 })).toEqual({ data: [], total: 0, hasMore: false });
      });

      it('compares instants, not their spelling, and refuses a cutoff that is not one or a limit below 1', async () => {
        clock.tick();
        await store.insertMany([incoming('m')]);
        const offset = new Date(Date.parse(clock.iso) + 1).toISOString().replace('Z', '+00:00');
        expect(await store.countPurge(offset)).toEqual({ messages: 1, statuses: 0, deadLetters: 0 });
        await expect(store.purge('yesterday', 10)).rejects.toThrow(RangeError);
        await expect(store.countPurge('yesterday')).rejects.toThrow(RangeError);
        await expect(store.purge(clock.iso, 0)).rejects.toThrow(RangeError);
        expect(counts(await store.purge(clock.iso, 10))).toEqual(NONE);
        expect(counts(await store.purge(offset, 10))).toEqual({ messages: 1, statuses: 0, deadLetters: 0 });
      });
    });

    describe('exportMessages', () => {
      it('walks every matching message once, oldest first, with its details, for every filter and chunk size', async () => {
        const random = seededRandom(99);
        const ref = new Reference();
        for (let n = 0; n < 120; ) {
          const receivedAt = clock.tick(7);
          const batch = Array.from({ length: 1 + Math.floor(random() * 10) }, () => randomMessage(random, n++));
          const outcomes = await store.insertMany(batch);
          batch.forEach((m, i) => {
            if (outcomes[i] === 'created') ref.rows.set(m.messageId, { m, receivedAt });
          });
        }
        const rows = ref.messages;
        const everything = { limit: rows.length, offset: 0, details: true };
        expect(await exportAll(store, {}, 7)).toEqual(referenceMessages(rows, {}, everything).data);
        let found = 0;
        for (let i = 0; i < 30; i++) {
          const f = randomFilter(random, ref);
          const chunk = pick(random, [1, 3, 50]);
          const expected = referenceMessages(rows, f, everything).data;
          expect(await exportAll(store, toMessageFilter(f), chunk), JSON.stringify({ f, chunk })).toEqual(expected);
          if (expected.length > 3) found++;
        }
        expect(found).toBeGreaterThan(5);
        expect(await store.exportMessages({ from: 'x\0' }, { limit: 10 })).toEqual([]);
      });

      it('exportChunk writes those messages as the export formats them, chunk after chunk, into the buffers handed back', async () => {
        const random = seededRandom(123);
        for (let n = 0; n < 60; ) {
          clock.tick(7);
          await store.insertMany(Array.from({ length: 1 + Math.floor(random() * 10) }, () => randomMessage(random, n++)));
        }
        const filters: MessageFilter[] = [{}, { from: PARTIES[0] ?? '' }, { q: 'w1' }];
        for (const format of EXPORT_FORMATS) {
          for (const filter of filters) {
            for (const chunk of [1, 7, 100]) {
              const messages = (await exportAll(store, filter, chunk)).map(detailed);
              let text = '';
              let after: Position | null = null;
              let reuse: ArrayBuffer | undefined;
              for (let reads = 0; ; reads++) {
                const read = await store.exportChunk(filter, { limit: chunk, ...(after ? { after } : {}) }, format, reuse);
                text += Buffer.from(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength).toString('utf8');
                expect(read.rows).toBeLessThanOrEqual(chunk);
                // Read, so handed back for the next chunk to be written into, as the export does once it is sent.
                reuse = read.bytes.buffer instanceof ArrayBuffer ? read.bytes.buffer : undefined;
                after = read.last;
                if (read.rows < chunk || after === null) break;
                if (reads > 1000) throw new Error('test bug: the export does not end');
              }
              const expected = format === 'ndjson' ? ndjsonLines(messages) : csvRecords(messages);
              expect(text, JSON.stringify({ format, filter, chunk })).toBe(expected);
            }
          }
        }
        const none = await store.exportChunk({ from: 'x\0' }, { limit: 10 }, 'csv');
        expect([none.rows, none.bytes.byteLength, none.last]).toEqual([0, 0, null]);
      });
    });

    describe('importMessages', () => {
      it('round trip: an export imported into an empty store exports the same, received_at kept, each a new feed event', async () => {
        const random = seededRandom(7);
        const messages = Array.from({ length: 40 }, (_, n) => randomMessage(random, n));
        for (let i = 0; i < messages.length; i += 9) {
          clock.tick(1234);
          await store.insertMany(messages.slice(i, i + 9));
        }
        const exported = await exportAll(store, {}, 16);
        expect(exported.length).toBe(40);
        const first = exported[0];
        if (first === undefined) throw new Error('test bug: nothing exported');

        // A fresh store in place of the first (PostgreSQL: the same database, emptied).
        await opened.pop()?.cleanup();
        const target = await openStore();
        clock.tick(60_000);
        await target.insertMany([incoming('already', { from: '+5' })]);
        const toImport = [...exported.map(imported), { ...imported(first), messageId: 'already' }];
        const outcomes = [];
        for (let i = 0; i < toImport.length; i += 15) outcomes.push(...(await target.importMessages(toImport.slice(i, i + 15))));
        expect(outcomes).toEqual([...exported.map(() => 'created'), 'duplicate']);
        expect(await target.importMessages(toImport.slice(0, 3))).toEqual(['duplicate', 'duplicate', 'duplicate']);
        expect(await target.importMessages([])).toEqual([]);

        const back = await exportAll(target, {}, 16);
        expect(back.filter((m) => m.messageId !== 'already')).toEqual(exported);
        // Every aggregate counts them as if they had been written there.
        const rows: Row[] = [
          ...exported.map((m) => ({ m: imported(m), receivedAt: m.details?.receivedAt ?? '' })),
          { m: incoming('already', { from: '+5' }), receivedAt: clock.iso },
        ];
        expect((await target.listConversations({}, { limit: 100 })).data).toEqual(referenceConversationList(rows, {}));
        for (const from of PARTIES)
          expect((await target.listMessages({ from }, ALL)).total).toBe(rows.filter((r) => r.m.from === from).length);
        // Each imported message is a new event, after those already there, at its own received_at.
        const feed = await readWholeFeed(target);
        expect(feed.map((e) => eventKey(e))).toEqual(['message already', ...exported.map((m) => `message ${m.messageId}`)]);
        for (const event of feed.slice(1)) {
          if (event.type !== 'message.created') throw new Error('test bug');
          expect(event.receivedAt).toBe(event.message.details.receivedAt);
          expect(event.message).toEqual(exported.find((m) => m.messageId === event.message.messageId));
        }
        // Retention sees them by when they were first received.
        expect(await target.oldestReceivedAt()).toBe(exported.map((m) => m.details?.receivedAt ?? '').sort()[0]);
        await expect(target.importMessages([{ ...imported(first), messageId: 'late', receivedAt: 'soon' }])).rejects.toThrow(
          RangeError,
        );
      });

      it('stores the imports of a sequence in order, and none after one that failed, even those handed over before it failed', async () => {
        const chunk = (name: string, size: number): ImportedMessage[] =>
          Array.from({ length: size }, (_, i) => ({
            ...incoming(`${name}-${i}`, { from: `+1${i % 7}` }),
            receivedAt: '2025-01-10T08:00:00.000Z',
          }));
        await opened[0]?.refuse('messages', 'second-2500');
        const sequence = new ImportSequence();
        // Each larger than a writer thread merges into one transaction (4,096 rows), and all three
        // handed over at once: the third before the second's failure can be known.
        const first = store.importMessages(chunk('first', 5000), sequence);
        const second = store.importMessages(chunk('second', 5000), sequence);
        const third = store.importMessages(chunk('third', 5000), sequence);
        expect(await first).toEqual(Array(5000).fill('created'));
        await expect(second).rejects.toThrow('refused by the test');
        await expect(third).rejects.toThrow(IMPORT_REFUSED);
        await expect(store.importMessages(chunk('fourth', 3), sequence)).rejects.toThrow(IMPORT_REFUSED);
        expect(await total()).toBe(5000);
        expect((await readWholeFeed(store)).length).toBe(5000);
        // Another sequence, or none, is not held back by it.
        expect(await store.importMessages(chunk('other', 2), new ImportSequence())).toEqual(['created', 'created']);
        expect(await store.importMessages(chunk('alone', 1))).toEqual(['created']);
        expect(await total()).toBe(5003);
      });
    });

    describe('randomized comparison with a plain reference', () => {
      for (const seed of [5, 20251202]) {
        it(`after random erasures and purges between writes, every read equals a recount of what is left (seed ${seed})`, async () => {
          const random = seededRandom(seed);
          const ref = new Reference();
          let n = 0;
          const write = async () => {
            const receivedAt = clock.tick(1 + Math.floor(random() * 3) * 500);
            const messages = Array.from({ length: Math.floor(random() * 12) }, () => randomMessage(random, n++));
            const known = [...ref.rows.keys()];
            const statuses = Array.from({ length: Math.floor(random() * 5) }, () =>
              statusOf(
                random() < 0.6 && known.length > 0 ? pick(random, known) : `out${Math.floor(random() * 20)}`,
                pick(random, STATUS_NAMES),
              ),
            );
            const deadLetters = random() < 0.3 ? [deadLetterOf(`bad${n}`)] : [];
            const outcome = await store.storeDelivery(deliveryOf({ messages, statuses, deadLetters }));
            messages.forEach((m, i) => {
              if (outcome.messages[i] === 'created') ref.rows.set(m.messageId, { m, receivedAt });
            });
            statuses.forEach((s, i) => {
              if (outcome.statuses[i] === 'created') {
                ref.statuses.set(statusKey(s.messageId, s.status), {
                  messageId: s.messageId,
                  status: s.status,
                  createdAt: receivedAt,
                });
              }
            });
            ref.learn(await readWholeFeed(store, {}, 1000, ref.lastPosition));
          };
          for (let i = 0; i < 25; i++) await write();

          const erased: IncomingMessage[] = [];
          for (let op = 0; op < 30; op++) {
            const r = random();
            const label = `seed ${seed}, operation ${op}`;
            if (r < 0.35 && ref.rows.size > 0) {
              const row = pick(random, ref.messages);
              erased.push(row.m);
              const expected = ref.remove([row.m.messageId], [row.m.messageId], [], []);
              expect(await store.eraseMessage(row.m.messageId), `${label}: erase ${row.m.messageId}`).toEqual(expected);
            } else if (r < 0.45) {
              const id = `out${Math.floor(random() * 20)}`;
              expect(await store.eraseMessage(id), `${label}: erase ${id}`).toEqual(ref.remove([], [id], [], []));
            } else if (r < 0.55) {
              const from = pick(random, PARTIES);
              const to = random() < 0.5 ? pick(random, PARTIES) : undefined;
              const ids = ref.messages
                .filter((row) => row.m.from === from && (to === undefined || row.m.to === to))
                .map((row) => row.m);
              erased.push(...ids);
              const expected = ref.remove(
                ids.map((m) => m.messageId),
                [],
                [],
                [],
              );
              expect(await store.eraseConversation({ from, ...(to ? { to } : {}) }), `${label}: erase ${from} ${to}`).toEqual(
                expected,
              );
            } else if (r < 0.8) {
              const times = [
                ...ref.messages.map((row) => row.receivedAt),
                ...[...ref.deadLetters.values()].map((d) => d.receivedAt),
              ];
              const before = times.length > 0 && random() < 0.8 ? pick(random, times) : clock.iso;
              const limit = 1 + Math.floor(random() * 15);
              expect(await store.countPurge(before), `${label}: count before ${before}`).toEqual(ref.purgeCount(before));
              const expected = ref.purge(before, limit);
              const removed = counts(await store.purge(before, limit));
              expect(removed, `${label}: purge before ${before}, ${limit}`).toEqual(expected);
            } else {
              await write();
            }
            if (op % 10 === 9) await expectLikeReference(store, ref, random, label);
          }
          await expectLikeReference(store, ref, random, `seed ${seed}, at the end`);
          // What was erased is found by no search, though its words were its own.
          for (const m of erased) {
            if (m.text === null || ref.rows.has(m.messageId)) continue;
            const word = m.text.split(' ').at(-1) ?? '';
            expect(await store.listMessages({ q: word }, ALL), `search ${word}`).toEqual({ data: [], total: 0, hasMore: false });
            expect(await store.getMessage(m.messageId)).toBeNull();
          }
          expect(erased.length).toBeGreaterThan(5);
        });
      }
    });
  });
}
