// The MessageStore contract of inbox-shaped reads: newest first, `until`, `to` and `type` in every
// combination with the other filters, offset and keyset positions; each message's details (where
// it came from, when the store took it in, what the provider sent); conversations; counts over
// time. sqlite.test.ts and postgres.test.ts run it on each store, beside describeStoreContract.
// Each test opens its own fresh store on a clock the test sets.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  Bucket,
  BucketCount,
  Conversation,
  ConversationFilter,
  ConversationPage,
  ConversationPosition,
  IncomingMessage,
  MessageFilter,
  MessageOrigin,
  MessagePage,
  MessageStore,
  Page,
  Position,
  SortOrder,
} from '../../src/store/store.js';
import {
  ALL,
  bodyOriginOf,
  compareCodePoints,
  compareInstants,
  conversationOf,
  deliveryOf,
  detailed,
  expectedDetails,
  expectedOutcomes,
  FRACTIONS,
  ID_CHARS,
  ids,
  incoming,
  keyOf,
  type MessageFields,
  type OpenStore,
  PHONE_NUMBER_ID,
  pick,
  position,
  randomQ,
  randomText,
  referenceOrder,
  seededRandom,
  stored,
  whatsappOrigin,
} from './contract.js';

/** The store's clock, set by each test: every write takes its receivedAt from it. */
class TestClock {
  #at = Date.parse('2030-01-02T03:04:05.678Z');

  readonly now = (): Date => new Date(this.#at);

  set(iso: string): string {
    this.#at = Date.parse(iso);
    return new Date(this.#at).toISOString();
  }

  /** The time the store reads now, as receivedAt gives it. */
  get iso(): string {
    return new Date(this.#at).toISOString();
  }
}

const NONE: MessagePage = { data: [], total: 0, hasMore: false };
const NO_CONVERSATIONS: ConversationPage = { data: [], total: 0, hasMore: false };

function desc(page: Partial<Page> = {}): Page {
  return { ...ALL, ...page, order: 'desc' };
}

function placeAt(tsKey: string, messageId: string): Position {
  return { tsKey, messageId };
}

function at(ts: string, m: Omit<MessageFields, 'ts'> = {}): MessageFields {
  return { ...m, ts };
}

/** A conversation's place, as a page's last item gives it. */
function conversationPosition(c: Conversation): ConversationPosition {
  return { lastTsKey: c.lastTsKey, from: c.from, to: c.to };
}

// ---------------------------------------------------------------------------------------------
// The plain reference the randomized comparison (and the combination test) checks the store
// against: JS arrays, instants compared as in contract.ts, text in code point order.

/** A stored message with the time its write was taken in. */
export interface Row {
  readonly m: IncomingMessage;
  readonly receivedAt: string;
}

export interface RefFilter {
  from?: string;
  to?: string;
  type?: string;
  since?: string;
  until?: string;
  q?: string;
}

export function toMessageFilter(f: RefFilter): MessageFilter {
  return {
    ...(f.from !== undefined ? { from: f.from } : {}),
    ...(f.to !== undefined ? { to: f.to } : {}),
    ...(f.type !== undefined ? { type: f.type } : {}),
    ...(f.since !== undefined ? { sinceKey: keyOf(f.since) } : {}),
    ...(f.until !== undefined ? { untilKey: keyOf(f.until) } : {}),
    ...(f.q !== undefined ? { q: f.q } : {}),
  };
}

export interface RefPage {
  limit: number;
  offset: number;
  order?: SortOrder;
  /** A place as the reference sees it: a timestamp and a message_id. */
  after?: { ts: string; messageId: string };
  details?: boolean;
}

function toPage(p: RefPage): Page {
  return {
    limit: p.limit,
    offset: p.offset,
    ...(p.order !== undefined ? { order: p.order } : {}),
    ...(p.after !== undefined ? { after: { tsKey: keyOf(p.after.ts), messageId: p.after.messageId } } : {}),
    ...(p.details !== undefined ? { details: p.details } : {}),
  };
}

function matches(m: IncomingMessage, f: RefFilter): boolean {
  // The random alphabet holds only letters whose lower case is unambiguous, so toLowerCase is the fold.
  const q = f.q?.toLowerCase();
  return (
    (f.from === undefined || m.from === f.from) &&
    (f.to === undefined || m.to === f.to) &&
    (f.type === undefined || m.type === f.type) &&
    (f.since === undefined || compareInstants(m.ts, f.since) >= 0) &&
    (f.until === undefined || compareInstants(m.ts, f.until) < 0) &&
    (q === undefined || m.text?.toLowerCase().includes(q) === true)
  );
}

export function referenceMessages(rows: readonly Row[], f: RefFilter, p: RefPage): MessagePage {
  const sign = p.order === 'desc' ? -1 : 1;
  const matching = rows.filter((r) => matches(r.m, f)).sort((a, b) => sign * referenceOrder(a.m, b.m));
  const place = p.after;
  const following = place === undefined ? matching : matching.filter((r) => sign * referenceOrder(r.m, place) > 0);
  return {
    data: following
      .slice(p.offset, p.offset + p.limit)
      .map((r) => (p.details === true ? detailed(r.m, r.receivedAt) : stored(r.m))),
    total: matching.length,
    hasMore: following.length > p.offset + p.limit,
  };
}

/** Conversations of the rows, most recent first. */
export function referenceConversationList(rows: readonly Row[], f: ConversationFilter): Conversation[] {
  const groups = new Map<string, IncomingMessage[]>();
  for (const { m } of rows) {
    if ((f.from !== undefined && m.from !== f.from) || (f.to !== undefined && m.to !== f.to)) continue;
    const key = JSON.stringify([m.from, m.to]);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()]
    .map((group) => {
      const ordered = [...group].sort(referenceOrder);
      const first = ordered[0];
      const last = ordered[ordered.length - 1];
      if (first === undefined || last === undefined) throw new Error('test bug: empty conversation');
      const named = ordered.filter((m) => m.origin !== undefined && m.origin.contactName !== null);
      return conversationOf(first, last, group.length, named[named.length - 1]?.origin?.contactName ?? null);
    })
    .sort((a, b) => compareInstants(b.lastTs, a.lastTs) || compareCodePoints(a.from, b.from) || compareCodePoints(a.to, b.to));
}

/** A conversation place as the reference sees it. */
interface RefConversationPlace {
  ts: string;
  from: string;
  to: string;
}

function isAfter(c: Conversation, p: RefConversationPlace): boolean {
  return (compareInstants(p.ts, c.lastTs) || compareCodePoints(c.from, p.from) || compareCodePoints(c.to, p.to)) > 0;
}

function referenceConversations(
  rows: readonly Row[],
  f: ConversationFilter,
  p: { limit: number; after?: RefConversationPlace },
): ConversationPage {
  const all = referenceConversationList(rows, f);
  const place = p.after;
  const following = place === undefined ? all : all.filter((c) => isAfter(c, place));
  return { data: following.slice(0, p.limit), total: all.length, hasMore: following.length > p.limit };
}

export function referenceTimeseries(rows: readonly Row[], bucket: Bucket, since: string, until: string): BucketCount[] {
  const counts = new Map<string, number>();
  for (const { m } of rows) {
    if (compareInstants(m.ts, since) < 0 || compareInstants(m.ts, until) >= 0) continue;
    // Every test timestamp is 'YYYY-MM-DDTHH:MM:SS[.f]Z': its UTC hour and day are its first characters.
    const name = m.ts.slice(0, bucket === 'hour' ? 13 : 10);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => compareCodePoints(a, b)).map(([name, count]) => ({ bucket: name, count }));
}

// Random material: few parties and instants (ties on every key), fractions that spell one instant
// several ways, hours and days to bucket, every origin a message can have.
const PARTIES = ['+1', '+10', '+2', '+919876543210', '+14155550100'];
const DAYS = ['2024-12-31', '2025-01-15', '2025-01-16'];
const HOURS = ['00', '09', '10', '23'];
const MINUTES = ['00:00', '00:01', '30:00', '59:59'];
const TYPES = ['text', 'image', 'Text'];
const CONTACTS = [null, 'Asha', 'Ravi', 'é😀'];

function randomTs(random: () => number): string {
  return `${pick(random, DAYS)}T${pick(random, HOURS)}:${pick(random, MINUTES)}${pick(random, FRACTIONS)}Z`;
}

function randomOrigin(random: () => number, m: IncomingMessage): MessageOrigin | undefined {
  const r = random();
  if (r < 0.3) return undefined;
  if (r < 0.55) return bodyOriginOf(m);
  if (r < 0.65) return bodyOriginOf(m, 'spec', { extra: pick(random, FRACTIONS) });
  if (r < 0.75) return bodyOriginOf(m, 'standard');
  return whatsappOrigin(m, {
    contactName: pick(random, CONTACTS),
    replyTo: random() < 0.3 ? `wamid.${Math.floor(random() * 100)}` : null,
  });
}

function randomMessage(random: () => number, n: number): IncomingMessage {
  let suffix = '';
  for (let i = 0; i < 1 + Math.floor(random() * 3); i++) suffix += pick(random, ID_CHARS);
  // Most provider messages have a type; core-form ones have none.
  const type = random() < 0.4 ? undefined : pick(random, TYPES);
  const m = incoming(`${suffix}${n % 5 === 0 ? '' : String(n)}`, {
    // Skewed, so that some conversations are long and some have one message.
    from: PARTIES[Math.floor(random() * random() * PARTIES.length)] ?? '+1',
    to: pick(random, PARTIES),
    ts: randomTs(random),
    text: randomText(random),
    ...(type === undefined ? {} : { type }),
  });
  const origin = randomOrigin(random, m);
  return origin === undefined ? m : { ...m, origin };
}

function randomFilter(random: () => number, rows: readonly Row[]): RefFilter {
  const f: RefFilter = {};
  if (random() < 0.35) f.from = random() < 0.9 ? pick(random, PARTIES) : '+10000';
  if (random() < 0.35) f.to = random() < 0.9 ? pick(random, PARTIES) : '+10000';
  if (random() < 0.3) f.type = pick(random, ['text', 'image', 'Text', 'absent']);
  if (random() < 0.35) f.since = randomTs(random);
  if (random() < 0.35) f.until = randomTs(random);
  if (random() < 0.25)
    f.q = randomQ(
      random,
      rows.map((r) => r.m),
    );
  return f;
}

/** Stores `count` random messages in batches of varied size, through both write paths, each batch at its own clock time. */
async function fillRandomly(store: MessageStore, clock: TestClock, random: () => number, count: number): Promise<Row[]> {
  const rows = new Map<string, Row>();
  let n = 0;
  let second = 0;
  while (n < count) {
    const size = 1 + Math.floor(random() * 30);
    const batch: IncomingMessage[] = [];
    for (let i = 0; i < size; i++) {
      const fresh = randomMessage(random, n++);
      // Some ids repeat, with other content: the first write wins.
      const repeat = rows.size > 0 && random() < 0.1;
      batch.push(repeat ? { ...fresh, messageId: pick(random, [...rows.keys()]) } : fresh);
    }
    const receivedAt = clock.set(new Date(Date.UTC(2030, 0, 1) + 1000 * second++ + Math.floor(random() * 1000)).toISOString());
    const expected = expectedOutcomes(batch, (m) => m.messageId, new Set(rows.keys()));
    batch.forEach((m, i) => {
      if (expected[i] === 'created') rows.set(m.messageId, { m, receivedAt });
    });
    const outcomes =
      random() < 0.5 ? (await store.storeDelivery(deliveryOf({ messages: batch }))).messages : await store.insertMany(batch);
    expect(outcomes, `outcomes of the batch ending at #${n}`).toEqual(expected);
  }
  return [...rows.values()];
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs the inbox contract on a store. `open` must make the store take its clock from the `now`
 * option it is given (both stores take a `now` option), so that receivedAt can be checked exactly.
 */
export function describeInboxContract(name: string, open: OpenStore): void {
  describe(`MessageStore inbox contract: ${name}`, () => {
    let store: MessageStore;
    let clock: TestClock;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      clock = new TestClock();
      const opened = await open({ now: clock.now });
      store = opened.store;
      cleanup = opened.cleanup;
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    const list = (filter: MessageFilter, page: Page = ALL) => store.listMessages(filter, page);

    describe('order', () => {
      // asc: f a b c d e. a and b are one instant, c and d another, half a second later.
      const rows = [
        incoming('c', at('2025-01-15T10:00:00.5Z', { from: '+1', to: '+3', text: 'HELLO', type: 'text' })),
        incoming('a', at('2025-01-15T10:00:00Z', { from: '+1', to: '+2', text: 'hello', type: 'text' })),
        incoming('e', at('2025-01-15T10:00:01Z', { from: '+1', to: '+2', text: 'hello there', type: 'text' })),
        incoming('d', at('2025-01-15T10:00:00.50Z', { from: '+2', to: '+3', text: null })),
        incoming('b', at('2025-01-15T10:00:00.000Z', { from: '+2', to: '+2', text: 'bye', type: 'image' })),
        incoming('f', at('2025-01-15T09:59:59.999Z', { from: '+1', to: '+2', text: 'hello' })),
      ];
      const byId = (id: string): IncomingMessage => {
        const m = rows.find((r) => r.messageId === id);
        if (m === undefined) throw new Error(`test bug: no row ${id}`);
        return m;
      };

      it('lists newest first with desc: instant descending, ties by message_id descending, however the instant is spelled', async () => {
        await store.insertMany(rows.slice(0, 3));
        await store.storeDelivery(deliveryOf({ messages: rows.slice(3) }));
        expect(await ids(store, {}, desc())).toEqual(['e', 'd', 'c', 'b', 'a', 'f']);
        expect(await ids(store, {}, { ...ALL, order: 'asc' })).toEqual(['f', 'a', 'b', 'c', 'd', 'e']);
        expect(await ids(store, {}, ALL)).toEqual(['f', 'a', 'b', 'c', 'd', 'e']);
        expect(await list({}, desc({ limit: 1 }))).toEqual({ data: [stored(byId('e'))], total: 6, hasMore: true });
      });

      it('pages desc with limit and offset, total ignoring both', async () => {
        await store.insertMany(rows);
        expect(await list({}, desc({ limit: 2 }))).toEqual({ data: ['e', 'd'].map(byId).map(stored), total: 6, hasMore: true });
        expect(await list({}, desc({ limit: 2, offset: 3 }))).toEqual({
          data: ['b', 'a'].map(byId).map(stored),
          total: 6,
          hasMore: true,
        });
        expect(await list({}, desc({ limit: 2, offset: 4 }))).toEqual({
          data: ['a', 'f'].map(byId).map(stored),
          total: 6,
          hasMore: false,
        });
        expect(await list({}, desc({ limit: 5, offset: 5 }))).toEqual({ data: [stored(byId('f'))], total: 6, hasMore: false });
        expect(await list({}, desc({ limit: 5, offset: 6 }))).toEqual({ data: [], total: 6, hasMore: false });
        expect(await ids(store, { from: '+1' }, desc({ limit: 2, offset: 1 }))).toEqual(['c', 'a']);
        expect(await list({ to: '+2' }, desc({ limit: 1, offset: 2 }))).toEqual({
          data: [stored(byId('a'))],
          total: 4,
          hasMore: true,
        });
      });

      it('starts strictly after the position in desc order, offset counted from there', async () => {
        await store.insertMany(rows);
        const from = (id: string, page: Partial<Page> = {}) => ids(store, {}, desc({ ...page, after: position(byId(id)) }));
        expect(await from('c')).toEqual(['b', 'a', 'f']);
        expect(await from('d')).toEqual(['c', 'b', 'a', 'f']);
        expect(await from('b')).toEqual(['a', 'f']);
        expect(await from('e', { limit: 2, offset: 1 })).toEqual(['c', 'b']);
        expect(await list({}, desc({ limit: 1, after: position(byId('e')) }))).toEqual({
          data: [stored(byId('d'))],
          total: 6,
          hasMore: true,
        });
        expect(await list({}, desc({ after: position(byId('f')) }))).toEqual({ data: [], total: 6, hasMore: false });
        // Asc from the same places, for contrast.
        expect(await ids(store, {}, { ...ALL, after: position(byId('c')) })).toEqual(['d', 'e']);
        expect(await ids(store, {}, { ...ALL, order: 'asc', after: position(byId('b')) })).toEqual(['c', 'd', 'e']);
      });

      it('accepts a desc position that names no stored row', async () => {
        await store.insertMany(rows);
        const between = (tsKey: string, messageId: string) => ids(store, {}, desc({ after: placeAt(tsKey, messageId) }));
        expect(await between('2025-01-15T10:00:00.5', 'c5')).toEqual(['c', 'b', 'a', 'f']);
        expect(await between('2025-01-15T10:00:00.7', '')).toEqual(['d', 'c', 'b', 'a', 'f']);
        expect(await between('2025-01-15T10:00:00.3', 'zzz')).toEqual(['b', 'a', 'f']);
        expect(await between('2025-01-15T10:00:00', 'a0')).toEqual(['a', 'f']);
        expect(await between('2099-01-01T00:00:00', '')).toEqual(['e', 'd', 'c', 'b', 'a', 'f']);
        expect(await between('2001-01-01T00:00:00', 'zzz')).toEqual([]);
      });

      it('places a desc position whose message_id holds U+0000 just after the id cut before it', async () => {
        await store.insertMany(rows);
        const atTen = (messageId: string) => ids(store, {}, desc({ after: placeAt('2025-01-15T10:00:00', messageId) }));
        // 'a' < 'a\u0000' < 'a0' in code point order: 'a' comes after the position when walking down.
        expect(await atTen('a\u0000')).toEqual(['a', 'f']);
        expect(await atTen('b\u0000zzz')).toEqual(['b', 'a', 'f']);
        expect(await atTen('\u0000')).toEqual(['f']);
      });

      it('applies every filter in desc order too, total counting every matching row', async () => {
        await store.insertMany(rows);
        expect(await list({ from: '+1', q: 'hello' }, desc({ limit: 2 }))).toEqual({
          data: ['e', 'c'].map(byId).map(stored),
          total: 4,
          hasMore: true,
        });
        expect(await ids(store, { to: '+3' }, desc())).toEqual(['d', 'c']);
        expect(await ids(store, { type: 'text' }, desc())).toEqual(['e', 'c', 'a']);
        expect(await ids(store, { sinceKey: keyOf('2025-01-15T10:00:00.5Z') }, desc())).toEqual(['e', 'd', 'c']);
        expect(await ids(store, { untilKey: keyOf('2025-01-15T10:00:00.5Z') }, desc())).toEqual(['b', 'a', 'f']);
        expect(
          await list(
            { from: '+1', to: '+2', untilKey: keyOf('2025-01-15T10:00:01Z') },
            desc({ limit: 1, after: position(byId('a')) }),
          ),
        ).toEqual({ data: [stored(byId('f'))], total: 2, hasMore: false });
      });

      it('walks every row exactly once newest first, page after page, even while newer rows arrive', async () => {
        const many = Array.from({ length: 23 }, (_, i) =>
          incoming(`w${String(i).padStart(2, '0')}`, { ts: `2025-01-15T10:00:0${i % 5}${i % 2 === 0 ? '' : '.000'}Z` }),
        );
        await store.insertMany(many);
        const seen: string[] = [];
        let place: Position | undefined;
        for (let pageNo = 0; pageNo < 20; pageNo++) {
          const page = await list({}, desc({ limit: 4, ...(place ? { after: place } : {}) }));
          seen.push(...page.data.map((m) => m.messageId));
          // Newer rows arrive meanwhile: they are before the position, so they neither shift nor repeat what follows.
          await store.insertMany([incoming(`late${pageNo}`, { ts: '2030-01-01T00:00:00Z' })]);
          const last = page.data.at(-1);
          if (!page.hasMore || last === undefined) break;
          place = position(last);
        }
        const expected = [...many].sort((x, y) => referenceOrder(y, x)).map((m) => m.messageId);
        expect(seen).toEqual(expected);
      });
    });

    describe('until', () => {
      const rows = [
        incoming('before', at('2025-01-15T10:00:00.4999Z')),
        incoming('same-instant', at('2025-01-15T10:00:00.500Z')),
        incoming('after', at('2025-01-15T10:00:00.6Z')),
        incoming('next-day', at('2025-01-16T00:00:00Z')),
      ];

      it('keeps instants strictly before until, comparing instants', async () => {
        await store.insertMany(rows);
        const upTo = async (until: string) => ids(store, { untilKey: keyOf(until) });
        expect(await upTo('2025-01-15T10:00:00.5Z')).toEqual(['before']);
        expect(await upTo('2025-01-15T10:00:00.50000001Z')).toEqual(['before', 'same-instant']);
        expect(await upTo('2025-01-16T00:00:00Z')).toEqual(['before', 'same-instant', 'after']);
        expect(await upTo('2025-01-16T00:00:00.000001Z')).toEqual(['before', 'same-instant', 'after', 'next-day']);
        expect(await list({ untilKey: keyOf('2025-01-15T10:00:00.4999Z') })).toEqual(NONE);
        expect((await list({ untilKey: keyOf('2025-01-15T10:00:00.6Z') })).total).toBe(2);
      });

      it('tiles with since: adjacent windows share no row and miss none', async () => {
        await store.insertMany(rows);
        const bounds = [
          '2025-01-15T00:00:00Z',
          '2025-01-15T10:00:00.5Z',
          '2025-01-15T10:00:00.6Z',
          '2025-01-16T00:00:00Z',
          '2026-01-01T00:00:00Z',
        ];
        const tiles: string[][] = [];
        for (let i = 0; i + 1 < bounds.length; i++) {
          tiles.push(await ids(store, { sinceKey: keyOf(bounds[i] ?? ''), untilKey: keyOf(bounds[i + 1] ?? '') }));
        }
        expect(tiles).toEqual([['before'], ['same-instant'], ['after'], ['next-day']]);
      });

      it('gives nothing when since is at or after until', async () => {
        await store.insertMany(rows);
        for (const [since, until] of [
          ['2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.500Z'],
          ['2025-01-16T00:00:00Z', '2025-01-15T00:00:00Z'],
          ['2025-01-15T10:00:00.6Z', '2025-01-15T10:00:00.5Z'],
        ] as const) {
          const filter = { sinceKey: keyOf(since), untilKey: keyOf(until) };
          expect(await list(filter), `${since} .. ${until}`).toEqual(NONE);
          expect(await list({ ...filter, from: '+919876543210' }, desc())).toEqual(NONE);
        }
      });

      it('keeps totals exact for windows cut inside hours and on hour boundaries', async () => {
        const times = [
          '2025-01-15T08:59:59.999999Z',
          '2025-01-15T09:00:00Z',
          '2025-01-15T09:00:00.000001Z',
          '2025-01-15T09:30:00Z',
          '2025-01-15T09:59:59.9999Z',
          '2025-01-15T10:00:00.000Z',
          '2025-01-15T10:00:00.5Z',
          '2025-01-15T11:15:00Z',
          '2025-01-15T12:00:00Z',
          '2025-01-15T23:59:59Z',
          '2025-01-16T00:00:00Z',
        ];
        const batch = times.map((ts, i) => incoming(`t${String(i).padStart(2, '0')}`, { ts }));
        await store.insertMany(batch.filter((_, i) => i % 2 === 0));
        await store.insertMany(batch.filter((_, i) => i % 2 === 1));
        const bounds = [
          undefined,
          '2025-01-15T08:00:00Z',
          '2025-01-15T09:00:00Z',
          '2025-01-15T09:00:00.000001Z',
          '2025-01-15T09:45:00Z',
          '2025-01-15T10:00:00.5Z',
          '2025-01-15T12:00:00Z',
          '2025-01-16T00:00:00Z',
          '2025-01-17T00:00:00Z',
        ];
        for (const since of bounds) {
          for (const until of bounds) {
            const expected = batch.filter(
              (m) =>
                (since === undefined || compareInstants(m.ts, since) >= 0) &&
                (until === undefined || compareInstants(m.ts, until) < 0),
            );
            const filter = { ...(since ? { sinceKey: keyOf(since) } : {}), ...(until ? { untilKey: keyOf(until) } : {}) };
            const page = await list(filter, { limit: 3, offset: 0 });
            expect(page.total, `since ${since} until ${until}`).toBe(expected.length);
            expect(page.data.map((m) => m.messageId)).toEqual(expected.slice(0, 3).map((m) => m.messageId));
          }
        }
      });
    });

    describe('to and type', () => {
      it('filters by exact recipient: no prefix, suffix or space matching', async () => {
        await store.insertMany([
          incoming('a', { to: '+2' }),
          incoming('b', { to: '+20' }),
          incoming('c', { to: '+2', from: '+5' }),
          incoming('d', { to: '+919876543210' }),
        ]);
        expect(await list({ to: '+2' })).toEqual({
          data: [stored(incoming('a', { to: '+2' })), stored(incoming('c', { to: '+2', from: '+5' }))],
          total: 2,
          hasMore: false,
        });
        expect(await ids(store, { to: '+20' })).toEqual(['b']);
        expect(await ids(store, { to: '2' })).toEqual([]);
        expect(await ids(store, { to: ' +2' })).toEqual([]);
        expect(await list({ to: '+3' })).toEqual(NONE);
        expect(await list({ to: '+2' }, desc({ limit: 1 }))).toMatchObject({ total: 2, hasMore: true });
      });

      it('filters by exact type, case and all, and never matches a message without one', async () => {
        await store.insertMany([incoming('core', { text: 'text' })]);
        await store.storeDelivery(
          deliveryOf({
            messages: [
              incoming('t1', { type: 'text' }),
              incoming('T', { type: 'Text' }),
              incoming('img', { type: 'image', text: null }),
              incoming('t2', { type: 'text', ts: '2025-01-14T00:00:00Z' }),
            ],
          }),
        );
        expect(await list({ type: 'text' })).toMatchObject({ total: 2, hasMore: false });
        expect(await ids(store, { type: 'text' })).toEqual(['t2', 't1']);
        expect(await ids(store, { type: 'Text' })).toEqual(['T']);
        expect(await ids(store, { type: 'image' })).toEqual(['img']);
        for (const type of ['', 'null', 'absent', 'tex', 'text ']) {
          expect(await list({ type }), `type ${JSON.stringify(type)}`).toEqual(NONE);
        }
      });

      it('counts recipients and types once per message: duplicates add nothing', async () => {
        await store.storeDelivery(deliveryOf({ messages: [incoming('m1', { to: '+2', type: 'text' })] }));
        await store.storeDelivery(
          deliveryOf({
            messages: [
              incoming('m1', { to: '+2', type: 'text' }),
              incoming('m1', { to: '+3', type: 'image' }),
              incoming('m2', { to: '+2', type: 'text' }),
              incoming('m2', { to: '+3', type: 'image' }),
            ],
          }),
        );
        await store.insertMany([incoming('m2', { to: '+3', type: 'image' })]);
        expect((await list({ to: '+2' })).total).toBe(2);
        expect(await list({ to: '+3' })).toEqual(NONE);
        expect((await list({ type: 'text' })).total).toBe(2);
        expect(await list({ type: 'image' })).toEqual(NONE);
        expect((await list({ from: '+919876543210', to: '+2' })).total).toBe(2);
      });

      it('matches nothing for a filter value holding U+0000, which no stored message can hold', async () => {
        await store.storeDelivery(deliveryOf({ messages: [incoming('a', { from: '+1', to: '+2', type: 'text', text: 'abc' })] }));
        for (const filter of [
          { to: '+2\u0000' },
          { to: '\u0000' },
          { type: 'text\u0000' },
          { type: '\u0000' },
          { from: '+1\u0000', to: '+2' },
          { from: '+1', to: '+2\u0000' },
          { to: '+2\u0000', type: 'text' },
          { to: '+2', q: 'ab\u0000', untilKey: '2030-01-01T00:00:00' },
        ]) {
          expect(await list(filter), JSON.stringify(filter)).toEqual(NONE);
          expect(await list(filter, desc()), JSON.stringify(filter)).toEqual(NONE);
        }
        expect(await store.listConversations({ from: '+1\u0000' }, { limit: 10 })).toEqual(NO_CONVERSATIONS);
        expect(await store.listConversations({ to: '+2\u0000' }, { limit: 10 })).toEqual(NO_CONVERSATIONS);
        expect(await store.listConversations({ from: '+1', to: '\u0000' }, { limit: 10 })).toEqual(NO_CONVERSATIONS);
      });

      it('keeps total exact for every combination of filters, in both orders, with offset and after', async () => {
        const random = seededRandom(20250117);
        const batch = Array.from({ length: 80 }, (_, n) => randomMessage(random, n));
        const rows: Row[] = [];
        const seen = new Set<string>();
        for (let i = 0; i < batch.length; i += 20) {
          const receivedAt = clock.set(`2030-01-01T00:00:0${i / 20}.250Z`);
          const part = batch.slice(i, i + 20);
          const outcomes = expectedOutcomes(part, (m) => m.messageId, seen);
          part.forEach((m, j) => {
            if (outcomes[j] === 'created') rows.push({ m, receivedAt });
          });
          expect(
            i % 40 === 0 ? await store.insertMany(part) : (await store.storeDelivery(deliveryOf({ messages: part }))).messages,
          ).toEqual(outcomes);
        }
        const values: Required<RefFilter> = {
          from: '+1',
          to: '+2',
          type: 'text',
          since: '2025-01-15T09:30:00.5Z',
          until: '2025-01-16T09:59:59Z',
          q: 'a',
        };
        const names = Object.keys(values) as (keyof RefFilter)[];
        for (let mask = 0; mask < 1 << names.length; mask++) {
          const f: RefFilter = {};
          for (const [bit, key] of names.entries()) if (mask & (1 << bit)) f[key] = values[key];
          for (const order of ['asc', 'desc'] as const) {
            const all = referenceMessages(rows, f, { limit: 100, offset: 0, order });
            const third = all.data[2];
            const pages: RefPage[] = [
              { limit: 100, offset: 0, order },
              { limit: 2, offset: 1, order, details: true },
              ...(third === undefined
                ? []
                : [{ limit: 3, offset: 1, order, after: { ts: third.ts, messageId: third.messageId } }]),
            ];
            for (const p of pages) {
              expect(await list(toMessageFilter(f), toPage(p)), JSON.stringify({ f, p })).toEqual(referenceMessages(rows, f, p));
            }
          }
        }
      });
    });

    describe('details', () => {
      const core = incoming('core', { from: '+919876543210', to: '+14155550100', text: 'héllo "😀" \\ \u2028' });

      it('gives a WhatsApp message its source, receivedAt from the store clock, raw item, contact, reply and business number', async () => {
        const image = incoming('wamid.img', { type: 'image', text: 'a caption', ts: '2025-01-15T10:00:00Z' });
        const item = {
          context: { from: '15550783881', id: 'wamid.prev' },
          from: '919876543210',
          id: 'wamid.img',
          timestamp: '1736935200',
          type: 'image',
          image: { caption: 'a caption', mime_type: 'image/jpeg', sha256: 'abc=', id: '1234567890' },
        };
        const origin = whatsappOrigin(image, { contactName: 'Asha', replyTo: 'wamid.prev', item });
        const receivedAt = clock.set('2031-05-06T07:08:09.012Z');
        await store.storeDelivery(deliveryOf({ messages: [{ ...image, origin }] }));
        clock.set('2032-01-01T00:00:00.000Z');
        const detail = await store.getMessage('wamid.img');
        expect(detail, 'receivedAt must come from the clock the store was opened with (its now option)').toStrictEqual({
          messageId: 'wamid.img',
          message: {
            ...stored(image),
            details: {
              source: 'whatsapp',
              receivedAt,
              raw: JSON.stringify(item),
              contactName: 'Asha',
              replyTo: 'wamid.prev',
              phoneNumberId: PHONE_NUMBER_ID,
            },
          },
          statuses: [],
        });
        expect(JSON.parse(detail?.message?.details?.raw ?? 'null')).toEqual(item);
      });

      it('takes receivedAt from the clock when each write is taken in, and keeps the first write of an id whole', async () => {
        const first = { ...core, origin: bodyOriginOf(core) };
        const t1 = clock.set('2031-01-01T00:00:00Z');
        await store.insertMany([first]);
        const t2 = clock.set('2031-01-01T00:00:01.5Z');
        const other = incoming('other', { type: 'text' });
        const again = { ...core, type: 'text', origin: whatsappOrigin(core, { contactName: 'Not kept' }) };
        expect(await store.storeDelivery(deliveryOf({ messages: [again, { ...other, origin: whatsappOrigin(other) }] }))).toEqual(
          {
            messages: ['duplicate', 'created'],
            statuses: [],
            deadLetters: [],
          },
        );
        expect(t1).toBe('2031-01-01T00:00:00.000Z');
        expect((await store.getMessage('core'))?.message).toStrictEqual(detailed(first, t1));
        expect((await store.getMessage('other'))?.message).toStrictEqual(
          detailed({ ...other, origin: whatsappOrigin(other) }, t2),
        );
        expect((await list({}, { ...ALL, details: true })).data).toStrictEqual([
          detailed(first, t1),
          detailed({ ...other, origin: whatsappOrigin(other) }, t2),
        ]);
      });

      it('gives back the raw of a core-form or Standard Webhooks body exactly as it was given', async () => {
        const base = (id: string, fields: Partial<MessageFields> = {}) =>
          incoming(id, { from: core.from, to: core.to, ts: core.ts, text: core.text, ...fields });
        const cases: [string, IncomingMessage, (m: IncomingMessage) => MessageOrigin][] = [
          ['core body', base('r0'), (m) => bodyOriginOf(m)],
          ['core body, standard', base('r1'), (m) => bodyOriginOf(m, 'standard')],
          ['null text', base('r2', { text: null }), (m) => bodyOriginOf(m)],
          [
            'no text key',
            base('r3', { text: null }),
            (m) => ({ ...bodyOriginOf(m), raw: JSON.stringify({ message_id: m.messageId, from: m.from, to: m.to, ts: m.ts }) }),
          ],
          [
            'fields in another order',
            base('r4'),
            (m) => ({
              ...bodyOriginOf(m),
              raw: JSON.stringify({ from: m.from, message_id: m.messageId, to: m.to, ts: m.ts, text: m.text }),
            }),
          ],
          [
            'extra fields',
            base('r5'),
            (m) => bodyOriginOf(m, 'spec', { extra: { nested: [1, 'é', null, { deep: true }] }, priority: 2.5 }),
          ],
          [
            'extra fields, standard',
            base('r6'),
            (m) => bodyOriginOf(m, 'standard', { webhook_id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W' }),
          ],
          [
            'spaced JSON',
            base('r7', { text: 't' }),
            (m) => ({
              ...bodyOriginOf(m),
              raw: `{ "message_id": "r7", "from": "${m.from}", "to": "${m.to}", "ts": "${m.ts}", "text": "t" }`,
            }),
          ],
          [
            'escaped characters',
            base('r8', { text: 'héllo' }),
            (m) => ({
              ...bodyOriginOf(m),
              raw: `{"message_id":"r8","from":"${m.from}","to":"${m.to}","ts":"${m.ts}","text":"h\\u00e9llo"}`,
            }),
          ],
        ];
        const messages = cases.map(([, m, originOf]) => ({ ...m, origin: originOf(m) }));
        expect(JSON.parse(messages[8]?.origin.raw ?? '{}').text).toBe('héllo');
        const receivedAt = clock.iso;
        await store.insertMany(messages.slice(0, 4));
        await store.storeDelivery(deliveryOf({ messages: messages.slice(4) }));
        for (const [i, m] of messages.entries()) {
          expect((await store.getMessage(m.messageId))?.message?.details, cases[i]?.[0]).toStrictEqual(
            expectedDetails(m, receivedAt),
          );
        }
        expect((await list({}, { ...ALL, details: true })).data).toStrictEqual(messages.map((m) => detailed(m, receivedAt)));
      });

      it('keeps a WhatsApp item verbatim, whatever it holds', async () => {
        const items: Record<string, unknown>[] = [
          {
            from: '1',
            id: 'w0',
            timestamp: '1',
            type: 'location',
            location: { latitude: 12.9715987, longitude: -77.5945627, name: 'Café', address: 'x' },
          },
          {
            context: { from: '1', id: 'wamid.q' },
            from: '1',
            id: 'w1',
            timestamp: '1',
            type: 'interactive',
            interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes ✅' } },
          },
          { from: '1', id: 'w2', timestamp: '1', type: 'reaction', reaction: { message_id: 'wamid.r', emoji: '👍🏽' } },
          { from: '1', id: 'w3', timestamp: '1', type: 'text', text: { body: 'nul \u0000 and "quotes" and \\ and \u2028' } },
          {
            type: 'unsupported',
            id: 'w4',
            from: '1',
            errors: [{ code: 131051, title: 'Message type unknown', error_data: { details: 'x' } }],
          },
          { from: '1', id: 'w5', timestamp: '1', type: 'text', text: { body: 'long '.repeat(4000) } },
          {
            from: '1',
            id: 'w6',
            timestamp: '1',
            type: 'order',
            order: {
              catalog_id: '1',
              product_items: [{ product_retailer_id: 'a', quantity: 2, item_price: 10.5, currency: 'USD' }],
            },
          },
        ];
        const messages = items.map((item, i) => {
          const m = incoming(`w${i}`, { type: String(item.type), text: null });
          return { ...m, origin: whatsappOrigin(m, { item, contactName: i % 2 === 0 ? 'Ravi' : null }) };
        });
        // A WhatsApp item that happens to be the core form's body of its message is still its raw.
        const lookalike = incoming('w7', { type: 'text' });
        messages.push({ ...lookalike, origin: { ...bodyOriginOf(lookalike), source: 'whatsapp' } });
        await store.storeDelivery(deliveryOf({ messages }));
        const receivedAt = clock.iso;
        for (const m of messages) {
          expect((await store.getMessage(m.messageId))?.message, m.messageId).toStrictEqual(detailed(m, receivedAt));
        }
        expect((await list({}, { ...ALL, details: true })).data).toStrictEqual(messages.map((m) => detailed(m, receivedAt)));
      });

      it('lists details only when asked for them', async () => {
        const typed = incoming('typed', { type: 'text', ts: '2025-01-15T11:00:00Z' });
        const messages = [
          { ...core, origin: bodyOriginOf(core) },
          { ...typed, origin: whatsappOrigin(typed, { contactName: 'Asha' }) },
        ];
        await store.storeDelivery(deliveryOf({ messages }));
        const receivedAt = clock.iso;
        for (const page of [ALL, { ...ALL, details: false }, desc()]) {
          for (const m of (await list({}, page)).data) expect(Object.keys(m)).not.toContain('details');
        }
        expect((await list({}, { ...ALL, details: true })).data).toStrictEqual(messages.map((m) => detailed(m, receivedAt)));
        expect((await list({ to: core.to }, desc({ details: true, limit: 1 }))).data).toStrictEqual([
          detailed(messages[1] ?? core, receivedAt),
        ]);
      });

      it('reads a message given without an origin as a row from before: no raw, source by its type', async () => {
        const receivedAt = clock.iso;
        await store.insertMany([incoming('plain')]);
        await store.storeDelivery(deliveryOf({ messages: [incoming('typed', { type: 'sticker', text: null })] }));
        expect((await store.getMessage('plain'))?.message?.details).toStrictEqual({
          source: 'spec',
          receivedAt,
          raw: null,
          contactName: null,
          replyTo: null,
          phoneNumberId: null,
        });
        expect((await store.getMessage('typed'))?.message?.details).toStrictEqual({
          source: 'whatsapp',
          receivedAt,
          raw: null,
          contactName: null,
          replyTo: null,
          phoneNumberId: null,
        });
      });
    });

    describe('listConversations', () => {
      const conversations = (
        filter: ConversationFilter = {},
        page: { limit: number; after?: ConversationPosition } = { limit: 100 },
      ) => store.listConversations(filter, page);

      it('answers an empty store with no conversations', async () => {
        expect(await conversations()).toEqual(NO_CONVERSATIONS);
        expect(await conversations({ from: '+1', to: '+2' }, { limit: 1 })).toEqual(NO_CONVERSATIONS);
      });

      it('keeps count, first, last and contact name right when messages arrive out of order across writes, duplicates not counted', async () => {
        const named = (m: IncomingMessage, contactName: string | null) => ({ ...m, origin: whatsappOrigin(m, { contactName }) });
        const m1 = incoming('m1', { ts: '2025-01-15T10:00:00Z', text: 'one', type: 'text' });
        const m2 = named(incoming('m2', { ts: '2025-01-15T10:00:00.5Z', text: 'two', type: 'text' }), 'Asha');
        await store.storeDelivery(deliveryOf({ messages: [m2, m1] }));
        expect(await conversations()).toEqual({ data: [conversationOf(m1, m2, 2, 'Asha')], total: 1, hasMore: false });

        // Earlier messages, one with an older name, and one at m2's instant with a greater id.
        const m0 = named(incoming('m0', { ts: '2025-01-15T09:00:00Z', text: 'zero', type: 'text' }), 'Old name');
        const m3 = incoming('m3', { ts: '2025-01-15T10:00:00.50Z', text: null, type: 'image' });
        await store.storeDelivery(deliveryOf({ messages: [m3, m0] }));
        expect(await conversations()).toEqual({ data: [conversationOf(m0, m3, 4, 'Asha')], total: 1, hasMore: false });

        // Duplicates, with other parties, times and names, change nothing.
        await store.insertMany([
          incoming('m1', { from: '+5', ts: '2026-01-01T00:00:00Z' }),
          named(incoming('m2', { ts: '2026-01-01T00:00:00Z' }), 'Not kept'),
          named(incoming('m0', { ts: '2020-01-01T00:00:00Z' }), 'Not kept either'),
        ]);
        expect(await conversations()).toEqual({ data: [conversationOf(m0, m3, 4, 'Asha')], total: 1, hasMore: false });

        // An older message with a name leaves the newer name; a newer one with a name takes over.
        const early = named(incoming('early', { ts: '2025-01-15T08:00:00Z' }), 'Oldest name');
        await store.insertMany([early]);
        expect(await conversations()).toEqual({ data: [conversationOf(early, m3, 5, 'Asha')], total: 1, hasMore: false });
        const late = named(incoming('late', { ts: '2025-01-15T11:00:00Z', text: 'latest' }), 'Asha K');
        await store.storeDelivery(deliveryOf({ messages: [late] }));
        expect(await conversations()).toEqual({ data: [conversationOf(early, late, 6, 'Asha K')], total: 1, hasMore: false });
        // The latest message without a name keeps the latest name.
        const unnamed = incoming('unnamed', { ts: '2025-01-15T12:00:00Z', text: null });
        await store.insertMany([unnamed]);
        expect(await conversations()).toEqual({ data: [conversationOf(early, unnamed, 7, 'Asha K')], total: 1, hasMore: false });
        expect((await list({ from: '+919876543210', to: '+14155550100' })).total).toBe(7);
      });

      it('takes the name of the latest named message by instant, ties by the greatest message_id, whatever the write order', async () => {
        const named = (id: string, ts: string, contactName: string) => {
          const m = incoming(id, { ts });
          return { ...m, origin: whatsappOrigin(m, { contactName }) };
        };
        await store.insertMany([named('b', '2025-01-15T10:00:00.5Z', 'Bee')]);
        await store.insertMany([named('a', '2025-01-15T10:00:00.500Z', 'Ay')]);
        expect((await conversations()).data[0]?.contactName).toBe('Bee');
        await store.insertMany([named('c', '2025-01-15T10:00:00.50Z', 'Cee')]);
        expect((await conversations()).data[0]?.contactName).toBe('Cee');
        await store.insertMany([named('0', '2025-01-15T10:00:00.6Z', 'Zero'), named('d', '2025-01-15T10:00:00.5Z', 'Dee')]);
        expect((await conversations()).data[0]?.contactName).toBe('Zero');
        const [first] = (await conversations()).data;
        expect(first?.lastMessage.messageId).toBe('0');
        expect(first?.firstTs).toBe('2025-01-15T10:00:00.500Z');
      });

      it.each([
        ['in one write', [[0, 1, 2]]],
        ['in separate writes', [[0], [1], [2]]],
        ['in separate writes, newest first', [[1], [0], [2]]],
      ])('breaks ties of one instant by message_id in code point order, as listMessages does (%s)', async (_, writes) => {
        // UTF-16 order (JavaScript's <) puts '😀' (U+1F600) before 'ｍ' (U+FF4D); code point order, after.
        const messages = ['ｍ', '😀', 'm'].map((id) => {
          const m = incoming(id, { type: 'text', text: `text ${id}` });
          return { ...m, origin: whatsappOrigin(m, { contactName: `name ${id}` }) };
        });
        for (const write of writes) await store.insertMany(write.map((i) => messages[i] ?? incoming('x')));
        expect(await ids(store, {}, desc())).toEqual(['😀', 'ｍ', 'm']);
        const [m, , emoji] = [messages[2], messages[0], messages[1]];
        if (m === undefined || emoji === undefined) throw new Error('test bug');
        expect(await conversations()).toEqual({ data: [conversationOf(m, emoji, 3, 'name 😀')], total: 1, hasMore: false });
      });

      it('orders by last instant descending, then from, then to, and pages with after across the whole list', async () => {
        const spec: [string, string, string][] = [
          ['+1', '+2', '2025-01-15T10:00:00Z'],
          ['+10', '+2', '2025-01-15T10:00:00.000Z'],
          ['+2', '+1', '2025-01-15T10:00:00Z'],
          ['+1', '+10', '2025-01-15T10:00:00Z'],
          ['+1', '+1', '2025-01-15T10:00:00.5Z'],
          ['+3', '+1', '2025-01-15T10:00:00.50Z'],
          ['+3', '+2', '2025-01-15T09:59:59.999Z'],
          ['+4', '+4', '2025-01-16T00:00:00Z'],
          ['+919876543210', '+14155550100', '2024-12-31T23:59:59Z'],
          ['+14155550100', '+919876543210', '2025-01-15T10:00:00.05Z'],
        ];
        // Each conversation has an earlier message too, written after its last one.
        const lasts = spec.map(([from, to, ts], i) => incoming(`last${i}`, { from, to, ts, type: 'text' }));
        const firsts = spec.map(([from, to], i) => incoming(`first${i}`, { from, to, ts: '2024-01-01T00:00:00Z' }));
        await store.insertMany(lasts.slice(0, 5));
        await store.storeDelivery(deliveryOf({ messages: lasts.slice(5) }));
        await store.insertMany(firsts);
        const expected = spec
          .map((_, i) => conversationOf(firsts[i] ?? incoming('x'), lasts[i] ?? incoming('x'), 2))
          .sort(
            (a, b) => compareInstants(b.lastTs, a.lastTs) || compareCodePoints(a.from, b.from) || compareCodePoints(a.to, b.to),
          );
        expect(expected.map((c) => `${c.from}>${c.to}`)).toEqual([
          '+4>+4',
          '+1>+1',
          '+3>+1',
          '+14155550100>+919876543210',
          '+1>+10',
          '+1>+2',
          '+10>+2',
          '+2>+1',
          '+3>+2',
          '+919876543210>+14155550100',
        ]);
        expect(await conversations()).toEqual({ data: expected, total: spec.length, hasMore: false });
        for (const limit of [1, 3, 4, 10, 11]) {
          const walked: Conversation[] = [];
          let place: ConversationPosition | undefined;
          for (let pageNo = 0; pageNo <= spec.length; pageNo++) {
            const page = await conversations({}, { limit, ...(place ? { after: place } : {}) });
            const start = walked.length;
            expect(page, `limit ${limit}, page ${pageNo}`).toEqual({
              data: expected.slice(start, start + limit),
              total: spec.length,
              hasMore: start + limit < spec.length,
            });
            walked.push(...page.data);
            const last = page.data.at(-1);
            if (!page.hasMore || last === undefined) break;
            place = conversationPosition(last);
          }
          expect(walked).toEqual(expected);
        }
      });

      it('accepts a position that names no conversation, and places U+0000 just after the text cut before it', async () => {
        const rows = [
          incoming('a', { from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z' }),
          incoming('b', { from: '+1', to: '+3', ts: '2025-01-15T10:00:00Z' }),
          incoming('c', { from: '+2', to: '+2', ts: '2025-01-15T10:00:00Z' }),
          incoming('d', { from: '+1', to: '+2', ts: '2025-01-15T09:00:00Z', text: 'x' }),
          incoming('e', { from: '+5', to: '+5', ts: '2025-01-15T11:00:00Z' }),
        ];
        await store.insertMany(rows);
        const pairs = async (p: ConversationPosition) =>
          (await conversations({}, { limit: 10, after: p })).data.map((c) => `${c.from}>${c.to}`);
        expect(await pairs({ lastTsKey: '2025-01-15T10:30:00', from: '', to: '' })).toEqual(['+1>+2', '+1>+3', '+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T10:00:00', from: '+1', to: '+2' })).toEqual(['+1>+3', '+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T10:00:00', from: '+1', to: '+25' })).toEqual(['+1>+3', '+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T10:00:00', from: '+15', to: '' })).toEqual(['+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T10:00:00', from: '+1\u0000', to: '' })).toEqual(['+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T10:00:00', from: '+1', to: '+2\u0000' })).toEqual(['+1>+3', '+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T10:00:00', from: '\u0000', to: '' })).toEqual(['+1>+2', '+1>+3', '+2>+2']);
        expect(await pairs({ lastTsKey: '2099-01-01T00:00:00', from: '', to: '' })).toEqual(['+5>+5', '+1>+2', '+1>+3', '+2>+2']);
        expect(await pairs({ lastTsKey: '2025-01-15T09:00:00', from: '', to: '' })).toEqual([]);
      });

      it('filters by from, to or both, total counting only matching conversations, and pages under a filter', async () => {
        const rows = [
          incoming('a', { from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z' }),
          incoming('b', { from: '+1', to: '+3', ts: '2025-01-15T11:00:00Z' }),
          incoming('c', { from: '+2', to: '+3', ts: '2025-01-15T12:00:00Z' }),
          incoming('d', { from: '+1', to: '+2', ts: '2025-01-15T13:00:00Z' }),
          incoming('e', { from: '+10', to: '+2', ts: '2025-01-15T09:00:00Z' }),
        ];
        await store.insertMany(rows);
        const [a, b, c, d, e] = rows;
        if (!a || !b || !c || !d || !e) throw new Error('test bug');
        expect(await conversations({ from: '+1' })).toEqual({
          data: [conversationOf(a, d, 2), conversationOf(b, b, 1)],
          total: 2,
          hasMore: false,
        });
        expect(await conversations({ to: '+3' })).toEqual({
          data: [conversationOf(c, c, 1), conversationOf(b, b, 1)],
          total: 2,
          hasMore: false,
        });
        expect(await conversations({ from: '+1', to: '+2' })).toEqual({
          data: [conversationOf(a, d, 2)],
          total: 1,
          hasMore: false,
        });
        expect(await conversations({ from: '+10' })).toEqual({ data: [conversationOf(e, e, 1)], total: 1, hasMore: false });
        expect(await conversations({ from: '+2', to: '+2' })).toEqual(NO_CONVERSATIONS);
        expect(await conversations({ from: '+3' })).toEqual(NO_CONVERSATIONS);
        expect(await conversations({ to: '+2' }, { limit: 1 })).toEqual({
          data: [conversationOf(a, d, 2)],
          total: 2,
          hasMore: true,
        });
        expect(await conversations({ to: '+2' }, { limit: 1, after: conversationPosition(conversationOf(a, d, 2)) })).toEqual({
          data: [conversationOf(e, e, 1)],
          total: 2,
          hasMore: false,
        });
        expect(await conversations({}, { limit: 2 })).toMatchObject({ total: 4, hasMore: true });
      });

      it('counts every conversation and message once under concurrent writes of overlapping ids', async () => {
        const calls = Array.from({ length: 16 }, (_, c) =>
          Array.from({ length: 1 + (c % 4) }, (_, i) =>
            incoming(`k${(c * 3 + i) % 20}`, {
              from: `+${c % 3}`,
              to: `+${(c + i) % 2}`,
              ts: `2025-01-15T10:00:0${(c + i) % 6}${c % 2 === 0 ? '' : '.000'}Z`,
            }),
          ),
        );
        const answers = await Promise.all(
          calls.map(async (messages, c) =>
            c % 2 === 0 ? store.insertMany(messages) : (await store.storeDelivery(deliveryOf({ messages }))).messages,
          ),
        );
        const created = calls.flatMap((messages, c) => messages.filter((_, i) => answers[c]?.[i] === 'created'));
        const distinct = [...new Set(calls.flat().map((m) => m.messageId))];
        expect(created.map((m) => m.messageId).sort()).toEqual(distinct.sort());
        const rows = created.map((m) => ({ m, receivedAt: '' }));
        expect(await conversations()).toEqual(referenceConversations(rows, {}, { limit: 100 }));
        expect(
          await store.timeseries({ bucket: 'hour', sinceKey: '2025-01-15T00:00:00', untilKey: '2025-01-16T00:00:00' }),
        ).toEqual([{ bucket: '2025-01-15T10', count: distinct.length }]);
      });
    });

    describe('timeseries', () => {
      const times = [
        '2025-01-15T09:59:59.999Z',
        '2025-01-15T10:00:00Z',
        '2025-01-15T10:00:00.5Z',
        '2025-01-15T10:30:00Z',
        '2025-01-15T10:59:59.9999Z',
        '2025-01-15T11:00:00.000Z',
        '2025-01-15T12:15:00Z',
        '2025-01-15T23:59:59.999999Z',
        '2025-01-16T00:00:00Z',
        '2025-01-17T05:00:00Z',
      ];
      const fill = async () => {
        const batch = times.map((ts, i) => incoming(`t${i}`, { ts, type: i % 2 === 0 ? 'text' : 'image' }));
        await store.insertMany(batch.slice(0, 5));
        await store.storeDelivery(deliveryOf({ messages: [...batch.slice(5), batch[0] ?? incoming('x')] }));
        // Duplicates count nowhere.
        await store.insertMany(batch.map((m) => ({ ...m, ts: '2025-01-15T10:00:00Z', tsKey: '2025-01-15T10:00:00' })));
      };
      const series = (bucket: Bucket, since: string, until: string) =>
        store.timeseries({ bucket, sinceKey: keyOf(since), untilKey: keyOf(until) });

      it('counts messages per UTC hour, only hours that have some, oldest first', async () => {
        await fill();
        expect(await series('hour', '2025-01-15T00:00:00Z', '2025-01-18T00:00:00Z')).toEqual([
          { bucket: '2025-01-15T09', count: 1 },
          { bucket: '2025-01-15T10', count: 4 },
          { bucket: '2025-01-15T11', count: 1 },
          { bucket: '2025-01-15T12', count: 1 },
          { bucket: '2025-01-15T23', count: 1 },
          { bucket: '2025-01-16T00', count: 1 },
          { bucket: '2025-01-17T05', count: 1 },
        ]);
        expect(await series('hour', '2025-01-15T10:00:00Z', '2025-01-15T12:00:00Z')).toEqual([
          { bucket: '2025-01-15T10', count: 4 },
          { bucket: '2025-01-15T11', count: 1 },
        ]);
      });

      it('counts only the part of an edge hour inside the window: since included, until excluded', async () => {
        await fill();
        expect(await series('hour', '2025-01-15T10:30:00Z', '2025-01-15T12:15:00Z')).toEqual([
          { bucket: '2025-01-15T10', count: 2 },
          { bucket: '2025-01-15T11', count: 1 },
        ]);
        expect(await series('hour', '2025-01-15T10:30:00.000001Z', '2025-01-15T12:15:00.000001Z')).toEqual([
          { bucket: '2025-01-15T10', count: 1 },
          { bucket: '2025-01-15T11', count: 1 },
          { bucket: '2025-01-15T12', count: 1 },
        ]);
        // A window inside one hour.
        expect(await series('hour', '2025-01-15T10:00:00.5Z', '2025-01-15T10:30:00Z')).toEqual([
          { bucket: '2025-01-15T10', count: 1 },
        ]);
        expect(await series('hour', '2025-01-15T09:59:59.999Z', '2025-01-15T10:00:00.000001Z')).toEqual([
          { bucket: '2025-01-15T09', count: 1 },
          { bucket: '2025-01-15T10', count: 1 },
        ]);
      });

      it('counts messages per UTC day, a day cut by the window counting only its part inside', async () => {
        await fill();
        expect(await series('day', '2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z')).toEqual([
          { bucket: '2025-01-15', count: 8 },
          { bucket: '2025-01-16', count: 1 },
          { bucket: '2025-01-17', count: 1 },
        ]);
        expect(await series('day', '2025-01-15T10:00:00.5Z', '2025-01-17T05:00:00Z')).toEqual([
          { bucket: '2025-01-15', count: 6 },
          { bucket: '2025-01-16', count: 1 },
        ]);
        expect(await series('day', '2025-01-15T23:59:59.999999Z', '2025-01-16T00:00:00.000001Z')).toEqual([
          { bucket: '2025-01-15', count: 1 },
          { bucket: '2025-01-16', count: 1 },
        ]);
      });

      it('gives nothing for a window without messages, for an empty store, and when since is at or after until', async () => {
        expect(await series('hour', '2025-01-15T00:00:00Z', '2025-01-16T00:00:00Z')).toEqual([]);
        await fill();
        expect(await series('hour', '2025-01-15T13:00:00Z', '2025-01-15T23:00:00Z')).toEqual([]);
        expect(await series('day', '2024-01-01T00:00:00Z', '2025-01-15T09:59:59.999Z')).toEqual([]);
        expect(await series('hour', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00.000Z')).toEqual([]);
        expect(await series('day', '2025-01-16T00:00:00Z', '2025-01-15T00:00:00Z')).toEqual([]);
        expect(await series('hour', '2025-01-15T10:30:00Z', '2025-01-15T10:00:00Z')).toEqual([]);
      });

      it('follows later writes', async () => {
        await fill();
        await store.insertMany([incoming('late', { ts: '2025-01-15T10:45:00Z' })]);
        expect(await series('hour', '2025-01-15T10:30:00Z', '2025-01-15T11:00:00Z')).toEqual([
          { bucket: '2025-01-15T10', count: 3 },
        ]);
        expect(await series('day', '2025-01-15T00:00:00Z', '2025-01-16T00:00:00Z')).toEqual([{ bucket: '2025-01-15', count: 9 }]);
      });
    });

    describe('randomized comparison with a plain reference', () => {
      for (const seed of [3, 20250116, 4242]) {
        it(`answers like the reference: messages, conversations and timeseries (seed ${seed})`, async () => {
          const random = seededRandom(seed);
          const rows = await fillRandomly(store, clock, random, 250);
          const ms = rows.map((r) => r.m);

          // How many answers held something: the comparison must not pass on empty answers alone.
          let listed = 0;
          for (let i = 0; i < 150; i++) {
            const f = randomFilter(random, rows);
            const p: RefPage = {
              limit: 1 + Math.floor(random() * (random() < 0.3 ? 100 : 10)),
              offset: random() < 0.5 ? 0 : Math.floor(random() * random() * (rows.length + 20)),
              ...(random() < 0.5 ? { order: random() < 0.8 ? ('desc' as const) : ('asc' as const) } : {}),
              ...(random() < 0.2 ? { details: true } : {}),
            };
            if (random() < 0.3) {
              // A stored row's place (as a cursor gives it), or a made-up place between rows.
              const row = pick(random, ms);
              p.after =
                random() < 0.7
                  ? { ts: row.ts, messageId: row.messageId }
                  : { ts: randomTs(random), messageId: pick(random, ID_CHARS) };
            }
            const actual = await list(toMessageFilter(f), toPage(p));
            expect(actual, `seed ${seed}, query #${i}: ${JSON.stringify({ f, p })}`).toEqual(referenceMessages(rows, f, p));
            if (actual.data.length > 0) listed++;
          }
          expect(listed).toBeGreaterThan(40);

          let walked = 0;
          for (let i = 0; i < 12; i++) {
            const f: ConversationFilter = {
              ...(random() < 0.3 ? { from: pick(random, PARTIES) } : {}),
              ...(random() < 0.3 ? { to: pick(random, PARTIES) } : {}),
            };
            const limit = 1 + Math.floor(random() * 8);
            const total = referenceConversationList(rows, f).length;
            let place: RefConversationPlace | undefined;
            let pages = 0;
            for (;;) {
              const expected = referenceConversations(rows, f, { limit, ...(place ? { after: place } : {}) });
              const actual = await store.listConversations(f, {
                limit,
                ...(place ? { after: { lastTsKey: keyOf(place.ts), from: place.from, to: place.to } } : {}),
              });
              expect(actual, `seed ${seed}, conversations ${JSON.stringify({ f, limit, place })}`).toEqual(expected);
              const last = actual.data.at(-1);
              pages++;
              walked = Math.max(walked, pages);
              if (!actual.hasMore || last === undefined || pages > total) break;
              place = { ts: last.lastTs, from: last.from, to: last.to };
            }
          }
          expect(walked, 'the longest walk through conversations, in pages').toBeGreaterThan(2);
          for (let i = 0; i < 10; i++) {
            const place = {
              ts: randomTs(random),
              from: pick(random, ['', ...PARTIES, '+15']),
              to: pick(random, ['', ...PARTIES]),
            };
            const expected = referenceConversations(rows, {}, { limit: 5, after: place });
            const actual = await store.listConversations(
              {},
              { limit: 5, after: { lastTsKey: keyOf(place.ts), from: place.from, to: place.to } },
            );
            expect(actual, `seed ${seed}, conversations after ${JSON.stringify(place)}`).toEqual(expected);
          }

          let counted = 0;
          for (let i = 0; i < 30; i++) {
            const bucket = random() < 0.5 ? 'hour' : 'day';
            const since = randomTs(random);
            const until = random() < 0.1 ? since : randomTs(random);
            const actual = await store.timeseries({ bucket, sinceKey: keyOf(since), untilKey: keyOf(until) });
            expect(actual, `seed ${seed}, timeseries ${bucket} ${since} .. ${until}`).toEqual(
              referenceTimeseries(rows, bucket, since, until),
            );
            if (actual.length > 1) counted++;
          }
          expect(counted).toBeGreaterThan(3);
          expect(
            await store.timeseries({ bucket: 'day', sinceKey: '2000-01-01T00:00:00', untilKey: '2100-01-01T00:00:00' }),
          ).toEqual(referenceTimeseries(rows, 'day', '2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z'));
        });
      }
    });
  });
}
