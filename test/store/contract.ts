// The MessageStore contract: what every database implementation must do, in domain terms
// (SPEC A.2 step 4, A.3, A.4, A.5). sqlite.test.ts runs it on SQLite and postgres.test.ts on
// PostgreSQL, the very same suite. Each test opens its own fresh store.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import type { IncomingMessage, MessageFilter, MessageStore, Page, Position, StoredMessage } from '../../src/store/store.js';

export type OpenStore = () => Promise<{ store: MessageStore; cleanup: () => Promise<void> }>;

interface MessageFields {
  from?: string;
  to?: string;
  ts?: string;
  text?: string | null;
}

/** An IncomingMessage as ingest hands it to the store: tsKey is the instant the ts names. */
export function incoming(messageId: string, fields: MessageFields = {}): IncomingMessage {
  const ts = fields.ts ?? '2025-01-15T10:00:00Z';
  const tsKey = instantKey(ts);
  if (tsKey === null) throw new Error(`test bug: ${ts} is not a valid timestamp`);
  return {
    messageId,
    from: fields.from ?? '+919876543210',
    to: fields.to ?? '+14155550100',
    ts,
    tsKey,
    text: fields.text === undefined ? 'Hello' : fields.text,
  };
}

/** What listMessages gives back for a stored message: everything it was given. */
function stored(m: IncomingMessage): StoredMessage {
  return { messageId: m.messageId, from: m.from, to: m.to, ts: m.ts, tsKey: m.tsKey, text: m.text };
}

function position(m: { tsKey: string; messageId: string }): Position {
  return { tsKey: m.tsKey, messageId: m.messageId };
}

function sinceKey(ts: string): string {
  const key = instantKey(ts);
  if (key === null) throw new Error(`test bug: ${ts} is not a valid timestamp`);
  return key;
}

const ALL: Page = { limit: 100, offset: 0 };

async function ids(store: MessageStore, filter: MessageFilter = {}, page: Page = ALL): Promise<string[]> {
  return (await store.listMessages(filter, page)).data.map((m) => m.messageId);
}

// ---------------------------------------------------------------------------------------------
// The reference model for the randomized comparison: plain JS, independent of the store and of
// instantKey.

/** mulberry32: a tiny seeded PRNG, so a failing run reproduces from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Code point order (what SQLite's BINARY collation and PostgreSQL's "C" collation give on UTF-8 text). */
function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const cb = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i] ?? 0;
    const y = cb[i] ?? 0;
    if (x !== y) return x - y;
  }
  return ca.length - cb.length;
}

/** Compares the instants two SPEC timestamps name: whole seconds by Date.UTC, then the fraction as digits. */
function compareInstants(a: string, b: string): number {
  const parts = (ts: string): [number, string] => {
    const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(ts);
    if (m === null) throw new Error(`reference: bad timestamp ${ts}`);
    return [Date.parse(`${m[1]}Z`), (m[2] ?? '').padEnd(30, '0')];
  };
  const [sa, fa] = parts(a);
  const [sb, fb] = parts(b);
  if (sa !== sb) return sa - sb;
  return fa < fb ? -1 : fa > fb ? 1 : 0;
}

function referenceOrder(a: StoredMessage, b: StoredMessage): number {
  return compareInstants(a.ts, b.ts) || compareCodePoints(a.messageId, b.messageId);
}

interface ReferenceFilter {
  from?: string;
  since?: string;
  q?: string;
}

/** A keyset position as the reference sees it: a timestamp and a message_id. */
interface ReferenceAfter {
  ts: string;
  messageId: string;
}

function referenceList(
  rows: readonly StoredMessage[],
  filter: ReferenceFilter,
  page: { limit: number; offset: number; after?: ReferenceAfter },
): { data: StoredMessage[]; total: number; hasMore: boolean } {
  // The random alphabet holds only letters whose lower case is unambiguous, so toLowerCase is the fold.
  const q = filter.q?.toLowerCase();
  const matching = rows
    .filter((m) => filter.from === undefined || m.from === filter.from)
    .filter((m) => filter.since === undefined || compareInstants(m.ts, filter.since) >= 0)
    .filter((m) => q === undefined || m.text?.toLowerCase().includes(q) === true)
    .sort(referenceOrder);
  const after = page.after;
  const following =
    after === undefined
      ? matching
      : matching.filter((m) => (compareInstants(m.ts, after.ts) || compareCodePoints(m.messageId, after.messageId)) > 0);
  return {
    data: following.slice(page.offset, page.offset + page.limit),
    total: matching.length,
    hasMore: following.length > page.offset + page.limit,
  };
}

function referenceStats(rows: readonly StoredMessage[], top: number) {
  const counts = new Map<string, number>();
  for (const m of rows) counts.set(m.from, (counts.get(m.from) ?? 0) + 1);
  const ranked = [...counts.entries()]
    .map(([from, count]) => ({ from, count }))
    .sort((a, b) => b.count - a.count || compareCodePoints(a.from, b.from));
  const ordered = [...rows].sort(referenceOrder);
  return {
    totalMessages: rows.length,
    sendersCount: counts.size,
    messagesPerSender: ranked.slice(0, top),
    firstMessageTs: ordered[0]?.ts ?? null,
    lastMessageTs: ordered[ordered.length - 1]?.ts ?? null,
  };
}

// Random material: few senders and few whole seconds (so ties happen), fractions that spell the
// same instant differently, and text in mixed case with the characters q must treat literally.
const SENDERS = [
  '+919876543210',
  '+14155550100',
  '+447700900123',
  '+15551234567',
  '+1',
  '+999999999999999',
  '+33612345678',
  '+4915112345678',
  '+5511987654321',
  '+61412345678',
  '+81312345678',
  '+27821234567',
];
const SECONDS = [
  '2024-02-29T00:00:00',
  '2024-12-31T23:59:59',
  '2025-01-15T09:59:59',
  '2025-01-15T10:00:00',
  '2025-01-15T10:00:01',
  '2025-03-01T00:00:00',
];
const FRACTIONS = ['', '', '.0', '.000', '.5', '.50', '.05', '.500001', '.123456789', '.9', '.999999', '.1'];
const LETTERS = ['a', 'b', 'c', 'x', 'é', 'ä', 'ж', 'я', 'ω', 'ğ'];
const OTHERS = [' ', ' ', '%', '_', '\\', '😀', '1', '.', "'", '"'];
const ID_CHARS = ['m', 'M', '-', '_', '0', '1', '9', 'a', 'z', 'é', '😀', 'ｍ'];

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function randomTs(random: () => number): string {
  return `${pick(random, SECONDS)}${pick(random, FRACTIONS)}Z`;
}

function randomCase(random: () => number, s: string): string {
  return Array.from(s, (c) => (random() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
}

function randomText(random: () => number): string | null {
  if (random() < 0.1) return null;
  const length = Math.floor(random() * 14);
  let text = '';
  for (let i = 0; i < length; i++) text += random() < 0.7 ? randomCase(random, pick(random, LETTERS)) : pick(random, OTHERS);
  return text;
}

function randomMessage(random: () => number, n: number): IncomingMessage {
  let suffix = '';
  for (let i = 0; i < 1 + Math.floor(random() * 3); i++) suffix += pick(random, ID_CHARS);
  // Skewed sender choice, so counts differ and some tie.
  const sender = SENDERS[Math.floor(random() * random() * SENDERS.length)] ?? '+1';
  return incoming(`${suffix}${n % 7 === 0 ? '' : String(n)}`, {
    from: sender,
    to: pick(random, SENDERS),
    ts: randomTs(random),
    text: randomText(random),
  });
}

function randomFilter(random: () => number, rows: readonly StoredMessage[]): ReferenceFilter {
  const filter: ReferenceFilter = {};
  if (random() < 0.4) filter.from = random() < 0.9 ? pick(random, SENDERS) : '+10000';
  if (random() < 0.4) filter.since = randomTs(random);
  if (random() < 0.5) {
    const texts = rows.map((m) => m.text).filter((t): t is string => t !== null && t !== '');
    if (random() < 0.7 && texts.length > 0) {
      // A substring of a stored text, in random case.
      const chars = Array.from(pick(random, texts));
      const start = Math.floor(random() * chars.length);
      const end = start + 1 + Math.floor(random() * Math.min(4, chars.length - start));
      filter.q = randomCase(random, chars.slice(start, end).join(''));
    } else {
      filter.q = pick(random, [...LETTERS, ...OTHERS]) + (random() < 0.5 ? pick(random, LETTERS) : '');
    }
    if (filter.q.trim() === '' && random() < 0.5) filter.q = '%';
  }
  return filter;
}

function toStoreFilter(filter: ReferenceFilter): MessageFilter {
  return {
    ...(filter.from !== undefined ? { from: filter.from } : {}),
    ...(filter.since !== undefined ? { sinceKey: sinceKey(filter.since) } : {}),
    ...(filter.q !== undefined ? { q: filter.q } : {}),
  };
}

// ---------------------------------------------------------------------------------------------

export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`MessageStore contract: ${name}`, () => {
    let store: MessageStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const opened = await open();
      store = opened.store;
      cleanup = opened.cleanup;
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    describe('insertMany', () => {
      it('answers an empty batch with no outcomes and stores nothing', async () => {
        expect(await store.insertMany([])).toEqual([]);
        expect((await store.listMessages({}, ALL)).total).toBe(0);
      });

      it('creates new messages, one positional outcome each, and stores them as given', async () => {
        const batch = [
          incoming('a', { text: 'first', ts: '2025-01-15T10:00:00Z' }),
          incoming('b', { text: null, ts: '2025-01-15T10:00:01Z', from: '+1', to: '+999999999999999' }),
        ];
        expect(await store.insertMany(batch)).toEqual(['created', 'created']);
        expect(await store.listMessages({}, ALL)).toEqual({ data: batch.map(stored), total: 2, hasMore: false });
      });

      it('answers duplicate for a message_id already stored, and the first write wins', async () => {
        const first = incoming('m1', { text: 'original', from: '+111', ts: '2025-01-15T10:00:00Z' });
        expect(await store.insertMany([first])).toEqual(['created']);
        const second = incoming('m1', { text: 'changed', from: '+222', to: '+333', ts: '2026-01-01T00:00:00Z' });
        expect(await store.insertMany([second])).toEqual(['duplicate']);
        expect(await store.insertMany([second])).toEqual(['duplicate']);
        expect(await store.listMessages({}, ALL)).toEqual({ data: [stored(first)], total: 1, hasMore: false });
      });

      it('creates a message_id repeated inside one batch once, from its first occurrence', async () => {
        const first = incoming('dup', { text: 'one' });
        const again = incoming('dup', { text: 'two', from: '+222' });
        expect(await store.insertMany([first, again, incoming('other'), again])).toEqual([
          'created',
          'duplicate',
          'created',
          'duplicate',
        ]);
        const page = await store.listMessages({}, ALL);
        expect(page.total).toBe(2);
        expect(page.data.find((m) => m.messageId === 'dup')).toEqual(stored(first));
      });

      it('keeps outcomes positional in a batch mixing new and already stored messages', async () => {
        await store.insertMany([incoming('old1'), incoming('old2')]);
        expect(await store.insertMany([incoming('old2'), incoming('new1'), incoming('old1'), incoming('new2')])).toEqual([
          'duplicate',
          'created',
          'duplicate',
          'created',
        ]);
        expect((await store.listMessages({}, ALL)).total).toBe(4);
      });

      it('does not count duplicates in totals or stats', async () => {
        await store.insertMany([incoming('a', { from: '+1' })]);
        await store.insertMany([incoming('a', { from: '+1' }), incoming('a', { from: '+2' })]);
        expect((await store.listMessages({}, ALL)).total).toBe(1);
        expect((await store.listMessages({ from: '+1' }, ALL)).total).toBe(1);
        expect((await store.listMessages({ from: '+2' }, ALL)).total).toBe(0);
        const stats = await store.stats(10);
        expect(stats.totalMessages).toBe(1);
        expect(stats.sendersCount).toBe(1);
        expect(stats.messagesPerSender).toEqual([{ from: '+1', count: 1 }]);
      });

      it('keeps ts exactly as sent and text exactly as sent, whatever its characters', async () => {
        const texts = [
          '',
          'héllo wörld',
          'e\u0301 and é',
          '😀👍🏽 family: 👨‍👩‍👧',
          'it\'s "quoted" \\ back',
          'tab\tnew\nline',
          'x'.repeat(4096),
        ];
        const batch = texts.map((text, i) => incoming(`t${i}`, { text, ts: `2025-01-15T10:00:0${i}.500Z` }));
        await store.insertMany(batch);
        expect((await store.listMessages({}, ALL)).data).toEqual(batch.map(stored));
      });

      it('stores the longest values validation lets through, even when they do not compress', async () => {
        // Random code points from several planes: no database can shrink them, so index entries
        // (message_id, ts_key) are as large as they can ever get.
        const random = seededRandom(42);
        const noise = (n: number) =>
          Array.from({ length: n }, () => String.fromCodePoint(0x10000 + Math.floor(random() * 0x1000) * 16 + 1)).join('');
        const fraction = Array.from({ length: 64 }, () => String(1 + Math.floor(random() * 9))).join('');
        const batch = [
          incoming(noise(512), { ts: `2025-01-15T10:00:00.${fraction}Z`, text: noise(4096), from: '+123456789012345' }),
          incoming(noise(512), { ts: `2025-01-15T10:00:00.${fraction}Z`, text: noise(4096), from: '+123456789012345' }),
        ];
        expect(await store.insertMany(batch)).toEqual(['created', 'created']);
        const page = await store.listMessages({ from: '+123456789012345', sinceKey: sinceKey(batch[0]?.ts ?? '') }, ALL);
        expect(page.total).toBe(2);
        expect(new Set(page.data.map((m) => m.messageId))).toEqual(new Set(batch.map((m) => m.messageId)));
        expect(page.data.every((m) => m.text?.length === 8192)).toBe(true);
      });

      it('treats message_ids as exact strings: case, spaces and Unicode make different ids', async () => {
        const batch = ['m1', 'M1', ' m1', 'm1 ', 'é', 'e\u0301', '😀'].map((id) => incoming(id));
        expect(await store.insertMany(batch)).toEqual(batch.map(() => 'created'));
        expect((await store.listMessages({}, ALL)).total).toBe(batch.length);
      });

      it('resolves only when a later reader sees the rows (committed before it resolves)', async () => {
        const pending = store.insertMany([incoming('c1'), incoming('c2')]);
        const outcomes = await pending;
        expect(outcomes).toEqual(['created', 'created']);
        expect(await ids(store)).toEqual(['c1', 'c2']);
      });

      it('stores every message of concurrent batches exactly once', async () => {
        const batches = Array.from({ length: 20 }, (_, b) =>
          Array.from({ length: 10 }, (_, i) => incoming(`id${(b * 7 + i) % 60}`)),
        );
        const outcomes = (await Promise.all(batches.map((batch) => store.insertMany(batch)))).flat();
        expect(outcomes.filter((o) => o === 'created')).toHaveLength(60);
        expect((await store.listMessages({}, ALL)).total).toBe(60);
      });
    });

    describe('listMessages', () => {
      it('answers an empty store with no rows and total 0', async () => {
        expect(await store.listMessages({}, { limit: 50, offset: 0 })).toEqual({ data: [], total: 0, hasMore: false });
      });

      it('orders by instant, not by the ts string nor by insertion', async () => {
        await store.insertMany([
          incoming('half', { ts: '2025-01-15T10:00:00.5Z' }),
          incoming('late-year', { ts: '2026-01-01T00:00:00Z' }),
          incoming('whole', { ts: '2025-01-15T10:00:00Z' }),
          incoming('early', { ts: '2024-12-31T23:59:59.999Z' }),
          incoming('next-second', { ts: '2025-01-15T10:00:01Z' }),
        ]);
        // '…00.5Z' sorts before '…00Z' as a string ('.' < 'Z') but is the later instant.
        expect(await ids(store)).toEqual(['early', 'whole', 'half', 'next-second', 'late-year']);
      });

      it('orders fractional seconds by value at any precision', async () => {
        await store.insertMany([
          incoming('f6', { ts: '2025-01-15T10:00:00.6Z' }),
          incoming('f5', { ts: '2025-01-15T10:00:00.5Z' }),
          incoming('f05', { ts: '2025-01-15T10:00:00.05Z' }),
          incoming('f0500001', { ts: '2025-01-15T10:00:00.500001Z' }),
          incoming('f123', { ts: '2025-01-15T10:00:00.123Z' }),
          incoming('f1229', { ts: '2025-01-15T10:00:00.122999999Z' }),
          incoming('f999', { ts: '2025-01-15T09:59:59.999999999Z' }),
        ]);
        expect(await ids(store)).toEqual(['f999', 'f05', 'f1229', 'f123', 'f5', 'f0500001', 'f6']);
      });

      it('breaks ties of the same instant by message_id ascending, however the instant is spelled', async () => {
        await store.insertMany([
          incoming('m3', { ts: '2025-01-15T10:00:00.500Z' }),
          incoming('m10', { ts: '2025-01-15T10:00:00.5Z' }),
          incoming('m2', { ts: '2025-01-15T10:00:00.50Z' }),
          incoming('b', { ts: '2025-01-15T10:00:00Z' }),
          incoming('a', { ts: '2025-01-15T10:00:00.000Z' }),
        ]);
        expect(await ids(store)).toEqual(['a', 'b', 'm10', 'm2', 'm3']);
      });

      it('pages with limit and offset over the ordered rows, total ignoring both', async () => {
        const batch = Array.from({ length: 7 }, (_, i) => incoming(`p${i}`, { ts: `2025-01-15T10:00:0${6 - i}Z` }));
        await store.insertMany(batch);
        const all = await ids(store);
        expect(all).toEqual(['p6', 'p5', 'p4', 'p3', 'p2', 'p1', 'p0']);
        expect(await store.listMessages({}, { limit: 2, offset: 0 })).toMatchObject({ total: 7, hasMore: true });
        expect(await store.listMessages({}, { limit: 2, offset: 5 })).toMatchObject({ total: 7, hasMore: false });
        expect(await store.listMessages({}, { limit: 2, offset: 4 })).toMatchObject({ total: 7, hasMore: true });
        expect(await store.listMessages({}, { limit: 7, offset: 0 })).toMatchObject({ total: 7, hasMore: false });
        expect(await ids(store, {}, { limit: 2, offset: 0 })).toEqual(['p6', 'p5']);
        expect(await ids(store, {}, { limit: 3, offset: 2 })).toEqual(['p4', 'p3', 'p2']);
        expect(await ids(store, {}, { limit: 100, offset: 6 })).toEqual(['p0']);
        expect(await store.listMessages({}, { limit: 5, offset: 7 })).toEqual({ data: [], total: 7, hasMore: false });
        expect(await store.listMessages({}, { limit: 1, offset: 1000 })).toEqual({ data: [], total: 7, hasMore: false });
        expect(await store.listMessages({ from: '+919876543210' }, { limit: 1, offset: 3 })).toEqual({
          data: [stored(batch[3] ?? incoming('x'))],
          total: 7,
          hasMore: true,
        });
      });

      it('filters by exact sender: no prefix, suffix or case-insensitive matching', async () => {
        await store.insertMany([
          incoming('a', { from: '+919876543210' }),
          incoming('b', { from: '+91' }),
          incoming('c', { from: '+9198765432100' }),
          incoming('d', { from: '+14155550100' }),
        ]);
        expect(await ids(store, { from: '+919876543210' })).toEqual(['a']);
        expect(await ids(store, { from: '+91' })).toEqual(['b']);
        expect(await ids(store, { from: '919876543210' })).toEqual([]);
        expect((await store.listMessages({ from: '+14155550100' }, ALL)).total).toBe(1);
        expect(await store.listMessages({ from: '+10000' }, ALL)).toEqual({ data: [], total: 0, hasMore: false });
      });

      it('filters by sinceKey inclusively, comparing instants', async () => {
        await store.insertMany([
          incoming('before', { ts: '2025-01-15T10:00:00.4999Z' }),
          incoming('same-instant', { ts: '2025-01-15T10:00:00.500Z' }),
          incoming('after', { ts: '2025-01-15T10:00:00.6Z' }),
          incoming('next-day', { ts: '2025-01-16T00:00:00Z' }),
        ]);
        expect(await ids(store, { sinceKey: sinceKey('2025-01-15T10:00:00.5Z') })).toEqual(['same-instant', 'after', 'next-day']);
        expect(await ids(store, { sinceKey: sinceKey('2025-01-15T10:00:00Z') })).toEqual([
          'before',
          'same-instant',
          'after',
          'next-day',
        ]);
        expect(await ids(store, { sinceKey: sinceKey('2025-01-16T00:00:00.000Z') })).toEqual(['next-day']);
        expect(await store.listMessages({ sinceKey: sinceKey('2025-01-16T00:00:00.000001Z') }, ALL)).toEqual({
          data: [],
          total: 0,
          hasMore: false,
        });
      });

      it('filters by q as a case-insensitive substring of text', async () => {
        await store.insertMany([
          incoming('a', { text: 'Hello World' }),
          incoming('b', { text: 'say HELLO' }),
          incoming('c', { text: 'help' }),
          incoming('d', { text: null }),
        ]);
        expect(await ids(store, { q: 'hello' })).toEqual(['a', 'b']);
        expect(await ids(store, { q: 'LO W' })).toEqual(['a']);
        expect(await ids(store, { q: 'hel' })).toEqual(['a', 'b', 'c']);
        expect((await store.listMessages({ q: 'HEL' }, ALL)).total).toBe(3);
        expect(await ids(store, { q: 'absent' })).toEqual([]);
      });

      it('matches q case-insensitively beyond ASCII', async () => {
        await store.insertMany([
          incoming('ru', { text: 'Скажи привет миру' }),
          incoming('de', { text: 'ÄRGER über Öl' }),
          incoming('fr', { text: 'Élégant café' }),
          incoming('el', { text: 'Καλημέρα κόσμε' }),
          incoming('tr', { text: 'ĞÜŞ' }),
        ]);
        expect(await ids(store, { q: 'ПРИВЕТ' })).toEqual(['ru']);
        expect(await ids(store, { q: 'äRGER ÜBER öL' })).toEqual(['de']);
        expect(await ids(store, { q: 'élégant CAFÉ' })).toEqual(['fr']);
        expect(await ids(store, { q: 'ΚΑΛΗΜΈΡΑ' })).toEqual(['el']);
        expect(await ids(store, { q: 'ğüş' })).toEqual(['tr']);
      });

      it('matches q on canonically equivalent text (precomposed and combining accents)', async () => {
        await store.insertMany([
          incoming('combining', { text: 'cafe\u0301 noir' }),
          incoming('precomposed', { text: 'CAF\u00c9' }),
        ]);
        expect(await ids(store, { q: 'caf\u00e9' })).toEqual(['combining', 'precomposed']);
        expect(await ids(store, { q: 'CAFE\u0301' })).toEqual(['combining', 'precomposed']);
      });

      it('finds a Greek sigma whatever its position (σ, ς and Σ are one letter)', async () => {
        // 'ΟΣΑ' holds 'ΟΣ' verbatim; a fold that turns a word-final Σ into ς must not lose that match.
        await store.insertMany([incoming('osa', { text: 'ΟΣΑ' }), incoming('odos', { text: 'ΟΔΟΣ' })]);
        expect(await ids(store, { q: 'ΟΣ' })).toEqual(['odos', 'osa']);
        expect(await ids(store, { q: 'ος' })).toEqual(['odos', 'osa']);
        expect(await ids(store, { q: 'σ' })).toEqual(['odos', 'osa']);
        expect(await ids(store, { q: 'οσα' })).toEqual(['osa']);
      });

      it('treats ß and its capital ẞ as the same letter', async () => {
        await store.insertMany([incoming('lower', { text: 'Straße' }), incoming('capital', { text: 'STRAẞE' })]);
        expect(await ids(store, { q: 'straße' })).toEqual(['capital', 'lower']);
        expect(await ids(store, { q: 'STRAẞE' })).toEqual(['capital', 'lower']);
      });

      it('treats %, _ and \\ in q as literal characters', async () => {
        await store.insertMany([
          incoming('pct', { text: '100% sure' }),
          incoming('under', { text: 'snake_case' }),
          incoming('slash', { text: 'C:\\temp' }),
          incoming('plain', { text: '100 sure snakeXcase C:temp' }),
          incoming('quote', { text: "it's" }),
        ]);
        expect(await ids(store, { q: '%' })).toEqual(['pct']);
        expect(await ids(store, { q: '0% s' })).toEqual(['pct']);
        expect(await ids(store, { q: '_' })).toEqual(['under']);
        expect(await ids(store, { q: 'e_c' })).toEqual(['under']);
        expect(await ids(store, { q: '\\' })).toEqual(['slash']);
        expect(await ids(store, { q: ':\\t' })).toEqual(['slash']);
        expect(await ids(store, { q: '\\%' })).toEqual([]);
        expect(await ids(store, { q: "'" })).toEqual(['quote']);
      });

      it('never matches q against a message without text', async () => {
        await store.insertMany([incoming('none', { text: null }), incoming('empty', { text: '' })]);
        expect(await store.listMessages({ q: 'null' }, ALL)).toEqual({ data: [], total: 0, hasMore: false });
        expect(await store.listMessages({ q: ' ' }, ALL)).toEqual({ data: [], total: 0, hasMore: false });
      });

      it('matches nothing for a sender or search term holding U+0000, which no stored message can hold', async () => {
        await store.insertMany([incoming('a', { from: '+1', text: 'abc' }), incoming('b', { from: '+2', text: null })]);
        const none = { data: [], total: 0, hasMore: false };
        expect(await store.listMessages({ q: '\u0000' }, ALL)).toEqual(none);
        expect(await store.listMessages({ q: 'ab\u0000' }, ALL)).toEqual(none);
        expect(await store.listMessages({ from: '+1\u0000' }, ALL)).toEqual(none);
        expect(await store.listMessages({ from: '\u0000' }, ALL)).toEqual(none);
      });

      it('ANDs the filters together, total counting only rows matching all of them', async () => {
        await store.insertMany([
          incoming('all', { from: '+1', ts: '2025-01-15T10:00:00Z', text: 'hello' }),
          incoming('wrong-sender', { from: '+2', ts: '2025-01-15T10:00:00Z', text: 'hello' }),
          incoming('too-early', { from: '+1', ts: '2025-01-14T10:00:00Z', text: 'hello' }),
          incoming('no-text-match', { from: '+1', ts: '2025-01-15T10:00:00Z', text: 'bye' }),
          incoming('all-later', { from: '+1', ts: '2025-01-16T10:00:00Z', text: 'HELLO again' }),
        ]);
        const filter = { from: '+1', sinceKey: sinceKey('2025-01-15T00:00:00Z'), q: 'hello' };
        expect(await store.listMessages(filter, { limit: 1, offset: 0 })).toEqual({
          data: [stored(incoming('all', { from: '+1', ts: '2025-01-15T10:00:00Z', text: 'hello' }))],
          total: 2,
          hasMore: true,
        });
        expect(await ids(store, filter)).toEqual(['all', 'all-later']);
        expect(await ids(store, { from: '+1', q: 'hello' })).toEqual(['too-early', 'all', 'all-later']);
        expect(await ids(store, { from: '+1', sinceKey: sinceKey('2025-01-15T00:00:00Z') })).toEqual([
          'all',
          'no-text-match',
          'all-later',
        ]);
        expect(await ids(store, { sinceKey: sinceKey('2025-01-15T00:00:00Z'), q: 'hello' })).toEqual([
          'all',
          'wrong-sender',
          'all-later',
        ]);
      });
    });

    describe('keyset pagination (Page.after)', () => {
      const rows = [
        incoming('a', { ts: '2025-01-15T10:00:00Z', from: '+1', text: 'hello' }),
        incoming('b', { ts: '2025-01-15T10:00:00.000Z', from: '+2', text: 'hello' }),
        incoming('c', { ts: '2025-01-15T10:00:00.5Z', from: '+1', text: 'bye' }),
        incoming('d', { ts: '2025-01-15T10:00:00.50Z', from: '+1', text: 'HELLO' }),
        incoming('e', { ts: '2025-01-15T10:00:01Z', from: '+2', text: null }),
        incoming('f', { ts: '2025-01-16T00:00:00Z', from: '+1', text: 'hello' }),
      ];

      it('starts strictly after the position, ties at one instant ordered by message_id', async () => {
        await store.insertMany(rows);
        const [a, b, , d, e, f] = rows;
        if (!a || !b || !d || !e || !f) throw new Error('test bug');
        expect(await ids(store, {}, { limit: 100, offset: 0, after: position(a) })).toEqual(['b', 'c', 'd', 'e', 'f']);
        expect(await ids(store, {}, { limit: 100, offset: 0, after: position(b) })).toEqual(['c', 'd', 'e', 'f']);
        expect(await ids(store, {}, { limit: 2, offset: 0, after: position(b) })).toEqual(['c', 'd']);
        expect(await ids(store, {}, { limit: 100, offset: 0, after: position(d) })).toEqual(['e', 'f']);
        expect(await store.listMessages({}, { limit: 100, offset: 0, after: position(f) })).toEqual({
          data: [],
          total: 6,
          hasMore: false,
        });
        expect(await store.listMessages({}, { limit: 1, offset: 0, after: position(d) })).toEqual({
          data: [stored(e)],
          total: 6,
          hasMore: true,
        });
      });

      it('accepts a position that names no stored row', async () => {
        await store.insertMany(rows);
        const between = (tsKey: string, messageId: string) => ({ limit: 100, offset: 0, after: { tsKey, messageId } });
        expect(await ids(store, {}, between(sinceKey('2025-01-15T10:00:00.5Z'), 'c5'))).toEqual(['d', 'e', 'f']);
        expect(await ids(store, {}, between(sinceKey('2025-01-15T10:00:00.7Z'), ''))).toEqual(['e', 'f']);
        expect(await ids(store, {}, between(sinceKey('2001-01-01T00:00:00Z'), 'zzz'))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
        expect(await ids(store, {}, between(sinceKey('2025-01-15T10:00:00Z'), 'a0'))).toEqual(['b', 'c', 'd', 'e', 'f']);
      });

      it('places a position whose message_id holds U+0000 just after the id cut before it', async () => {
        await store.insertMany(rows);
        const at = (messageId: string) => ({
          limit: 100,
          offset: 0,
          after: { tsKey: sinceKey('2025-01-15T10:00:00Z'), messageId },
        });
        expect(await ids(store, {}, at('a\u0000'))).toEqual(['b', 'c', 'd', 'e', 'f']);
        expect(await ids(store, {}, at('a\u0000zzz'))).toEqual(['b', 'c', 'd', 'e', 'f']);
        expect(await ids(store, {}, at('\u0000'))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      });

      it('applies the filters too, total still counting every matching row', async () => {
        await store.insertMany(rows);
        const [a] = rows;
        if (!a) throw new Error('test bug');
        const filter = { from: '+1', q: 'hello' };
        expect(await store.listMessages(filter, { limit: 1, offset: 0, after: position(a) })).toEqual({
          data: [stored(rows[3] ?? a)],
          total: 3,
          hasMore: true,
        });
        expect(
          await ids(store, { sinceKey: sinceKey('2025-01-15T10:00:00.5Z') }, { limit: 100, offset: 1, after: position(a) }),
        ).toEqual(['d', 'e', 'f']);
      });

      it('walks every row exactly once, page after page, even while earlier rows arrive', async () => {
        const many = Array.from({ length: 23 }, (_, i) =>
          incoming(`w${String(i).padStart(2, '0')}`, { ts: `2025-01-15T10:00:${String(i % 5).padStart(2, '0')}Z` }),
        );
        await store.insertMany(many);
        const seen: string[] = [];
        let after: Position | undefined;
        for (let pageNo = 0; pageNo < 20; pageNo++) {
          const page = await store.listMessages({}, { limit: 4, offset: 0, ...(after ? { after } : {}) });
          seen.push(...page.data.map((m) => m.messageId));
          // Rows before the position arrive meanwhile; they must neither shift nor repeat what follows.
          await store.insertMany([incoming(`early${pageNo}`, { ts: '2020-01-01T00:00:00Z' })]);
          const last = page.data.at(-1);
          if (!page.hasMore || last === undefined) break;
          after = position(last);
        }
        const expected = [...many].sort((x, y) =>
          x.tsKey < y.tsKey ? -1 : x.tsKey > y.tsKey ? 1 : x.messageId < y.messageId ? -1 : 1,
        );
        expect(seen).toEqual(expected.map((m) => m.messageId));
      });
    });

    describe('stats', () => {
      it('answers an empty store with zeros, an empty list and null timestamps', async () => {
        expect(await store.stats(10)).toEqual({
          totalMessages: 0,
          sendersCount: 0,
          messagesPerSender: [],
          firstMessageTs: null,
          lastMessageTs: null,
        });
      });

      it('ranks senders by count descending, ties by sender ascending, at most N of them', async () => {
        const counts: Record<string, number> = { '+5': 2, '+3': 3, '+1': 2, '+4': 1, '+2': 3, '+10': 2 };
        let n = 0;
        for (const [from, count] of Object.entries(counts)) {
          await store.insertMany(Array.from({ length: count }, () => incoming(`s${n++}`, { from })));
        }
        const stats = await store.stats(10);
        expect(stats.totalMessages).toBe(13);
        expect(stats.sendersCount).toBe(6);
        expect(stats.messagesPerSender).toEqual([
          { from: '+2', count: 3 },
          { from: '+3', count: 3 },
          { from: '+1', count: 2 },
          { from: '+10', count: 2 },
          { from: '+5', count: 2 },
          { from: '+4', count: 1 },
        ]);
        const top3 = await store.stats(3);
        expect(top3.messagesPerSender).toEqual(stats.messagesPerSender.slice(0, 3));
        expect(top3.sendersCount).toBe(6);
        expect(top3.totalMessages).toBe(13);
      });

      it('gives the ts strings, as sent, of the earliest and latest messages by instant', async () => {
        await store.insertMany([
          incoming('mid', { ts: '2025-01-15T10:00:00.5Z' }),
          incoming('last', { ts: '2025-01-15T10:00:00.60Z' }),
          incoming('first', { ts: '2025-01-15T10:00:00Z' }),
        ]);
        // As strings, '…00.5Z' would be the smallest and '…00Z' the largest.
        const stats = await store.stats(10);
        expect(stats.firstMessageTs).toBe('2025-01-15T10:00:00Z');
        expect(stats.lastMessageTs).toBe('2025-01-15T10:00:00.60Z');
      });

      it('agrees with listMessages on which message is first and which is last when instants tie', async () => {
        await store.insertMany([
          incoming('b', { ts: '2025-01-15T10:00:00.500Z' }),
          incoming('a', { ts: '2025-01-15T10:00:00.5Z' }),
          incoming('d', { ts: '2025-01-15T10:00:01Z' }),
          incoming('c', { ts: '2025-01-15T10:00:01.000Z' }),
        ]);
        const stats = await store.stats(10);
        const listed = (await store.listMessages({}, ALL)).data;
        expect(stats.firstMessageTs).toBe(listed[0]?.ts);
        expect(stats.lastMessageTs).toBe(listed[listed.length - 1]?.ts);
        expect([stats.firstMessageTs, stats.lastMessageTs]).toEqual(['2025-01-15T10:00:00.5Z', '2025-01-15T10:00:01Z']);
      });
    });

    describe('checkHealth', () => {
      it('resolves on an open store', async () => {
        await expect(store.checkHealth()).resolves.toBeUndefined();
        await store.insertMany([incoming('h')]);
        await expect(store.checkHealth()).resolves.toBeUndefined();
      });

      it('rejects, with a reason, once the store is closed', async () => {
        await store.close();
        await expect(store.checkHealth()).rejects.toThrow(/\S/);
      });
    });

    describe('randomized comparison with a plain reference', () => {
      for (const seed of [1, 20250115, 777]) {
        it(`answers like the reference on random data and random filters (seed ${seed})`, async () => {
          const random = seededRandom(seed);
          const reference = new Map<string, StoredMessage>();
          let n = 0;
          // A few hundred messages in batches of varied size; some ids repeat, with other content.
          while (n < 300) {
            const size = 1 + Math.floor(random() * 40);
            const batch: IncomingMessage[] = [];
            for (let i = 0; i < size; i++) {
              const repeat = reference.size > 0 && random() < 0.1;
              const fresh = randomMessage(random, n++);
              batch.push(repeat ? { ...fresh, messageId: pick(random, [...reference.keys()]) } : fresh);
            }
            const expected = batch.map((m) => {
              if (reference.has(m.messageId)) return 'duplicate';
              reference.set(m.messageId, stored(m));
              return 'created';
            });
            expect(await store.insertMany(batch), `seed ${seed}: outcomes of batch ending at #${n}`).toEqual(expected);
          }
          const rows = [...reference.values()];

          for (let i = 0; i < 250; i++) {
            const filter = randomFilter(random, rows);
            const page: Page =
              random() < 0.3
                ? { limit: 100, offset: 0 }
                : { limit: 1 + Math.floor(random() * 100), offset: Math.floor(random() * random() * (rows.length + 20)) };
            let after: ReferenceAfter | undefined;
            if (random() < 0.25) {
              // A stored row's place (as a cursor gives it), or a made-up place between rows.
              const row = pick(random, rows);
              after =
                random() < 0.7
                  ? { ts: row.ts, messageId: row.messageId }
                  : { ts: randomTs(random), messageId: pick(random, ID_CHARS) };
            }
            const storePage: Page =
              after === undefined ? page : { ...page, after: { tsKey: sinceKey(after.ts), messageId: after.messageId } };
            const actual = await store.listMessages(toStoreFilter(filter), storePage);
            const expected = referenceList(rows, filter, { limit: page.limit, offset: page.offset, ...(after ? { after } : {}) });
            expect(actual, `seed ${seed}, query #${i}: ${JSON.stringify({ filter, page, after })}`).toEqual(expected);
          }

          for (const top of [1, 3, 10, 100]) {
            expect(await store.stats(top), `seed ${seed}: stats(${top})`).toEqual(referenceStats(rows, top));
          }
        });
      }
    });
  });
}
