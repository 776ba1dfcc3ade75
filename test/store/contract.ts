// The MessageStore contract: what every database implementation must do, in domain terms
// (the contract step 4, A.3, A.4, A.5, and provider deliveries). sqlite.test.ts runs it on SQLite and
// postgres.test.ts on PostgreSQL, the very same suite. Each test opens its own fresh store. The
// inbox-shaped reads (order, until, to, type, details, conversations, timeseries) have their own
// suite in inbox-contract.ts, built on the helpers exported here.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bodyOrigin } from '../../src/ingest/message.js';
import { instantKey } from '../../src/ingest/timestamp.js';
import type {
  Conversation,
  DeadLetter,
  Delivery,
  DeliveryOutcome,
  DeliveryStatus,
  DeliveryStatusName,
  IncomingMessage,
  InsertOutcome,
  MessageDetails,
  MessageFilter,
  MessageOrigin,
  MessageStore,
  Page,
  Position,
  StoredMessage,
  StoredStatus,
} from '../../src/store/store.js';
import { seededRandom } from '../helpers/random.js';

/** The tables a failure can be planted in (see OpenedStore.refuse). */
export type RefusingTable = 'messages' | 'delivery_statuses' | 'dead_letters';

export interface OpenedStore {
  readonly store: MessageStore;
  readonly cleanup: () => Promise<void>;
  /**
   * Makes the database itself fail (as a full disk or a broken constraint would) every later
   * insert into `table` of a row for `id`: its message_id, or item_id for dead letters. The
   * store's code is untouched; only the statement that meets the row fails.
   */
  readonly refuse: (table: RefusingTable, id: string) => Promise<void>;
}

/** What a test may ask of the store it opens. */
export interface StoreOptions {
  /** The store's clock (its `now` option): what it records as a message's receivedAt. */
  readonly now?: () => Date;
}

/** Opens a fresh store; it must take its clock from `options.now` when that is given. */
export type OpenStore = (options?: StoreOptions) => Promise<OpenedStore>;

export interface MessageFields {
  from?: string;
  to?: string;
  ts?: string;
  text?: string | null;
  type?: string;
  origin?: MessageOrigin;
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
    ...(fields.type === undefined ? {} : { type: fields.type }),
    ...(fields.origin === undefined ? {} : { origin: fields.origin }),
  };
}

/** What listMessages gives back for a stored message: everything it was given, type only if it had one, no origin. */
export function stored(m: IncomingMessage): StoredMessage {
  const message = { messageId: m.messageId, from: m.from, to: m.to, ts: m.ts, tsKey: m.tsKey, text: m.text };
  return m.type === undefined ? message : { ...message, type: m.type };
}

/** An ISO-8601 UTC instant with milliseconds and Z, as a store's clock gives receivedAt. */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Any receivedAt of the right form, for a test that does not know the store's clock. */
export function anyInstant(): string {
  return expect.stringMatching(ISO_INSTANT);
}

/**
 * The details a stored message reads back with: what its origin said, or, for a message given
 * without one (made by tools and tests), what a row from before origins were kept reads: no raw,
 * and "whatsapp" as its source when it has a type, else "spec".
 */
export function expectedDetails(m: IncomingMessage, receivedAt: string = anyInstant()): MessageDetails {
  const origin = m.origin;
  if (origin === undefined) {
    const source = m.type === undefined ? 'spec' : 'whatsapp';
    return { source, receivedAt, raw: null, contactName: null, replyTo: null, phoneNumberId: null };
  }
  return {
    source: origin.source,
    receivedAt,
    raw: origin.raw,
    contactName: origin.contactName,
    replyTo: origin.replyTo,
    phoneNumberId: origin.phoneNumberId,
  };
}

/** What getMessage (or listMessages asked for details) gives back for a stored message. */
export function detailed(m: IncomingMessage, receivedAt: string = anyInstant()): StoredMessage {
  return { ...stored(m), details: expectedDetails(m, receivedAt) };
}

interface StatusFields {
  ts?: string;
  recipientId?: string | null;
  errors?: string | null;
}

/** A DeliveryStatus as ingest hands it to the store. */
export function statusOf(messageId: string, status: DeliveryStatusName, fields: StatusFields = {}): DeliveryStatus {
  const ts = fields.ts ?? '2025-01-15T10:00:00Z';
  const tsKey = instantKey(ts);
  if (tsKey === null) throw new Error(`test bug: ${ts} is not a valid timestamp`);
  return {
    messageId,
    status,
    ts,
    tsKey,
    recipientId: fields.recipientId === undefined ? '919876543210' : fields.recipientId,
    errors: fields.errors === undefined ? null : fields.errors,
  };
}

/** What getMessage gives back for a stored status. */
function storedStatus(s: DeliveryStatus): StoredStatus {
  return { status: s.status, ts: s.ts, recipientId: s.recipientId, errors: s.errors };
}

/** A dead letter for an unreadable item; `itemId` also goes into the item as its id. */
export function deadLetterOf(
  itemId: string | null,
  kind: DeadLetter['kind'] = 'message',
  reason = 'from: field required',
): DeadLetter {
  return { kind, reason, item: JSON.stringify(itemId === null ? { type: 'text' } : { id: itemId, type: 'text' }), itemId };
}

/** A WhatsApp delivery holding what it is given and nothing else. */
export function deliveryOf(parts: Partial<Delivery>): Delivery {
  return { messages: [], statuses: [], deadLetters: [], source: 'whatsapp', ...parts };
}

/** What a run of one-by-one commits would answer: the first occurrence of a key creates, later ones are duplicates. */
export function expectedOutcomes<T>(items: readonly T[], keyOf: (item: T) => string, seen: Set<string>): InsertOutcome[] {
  return items.map((item) => {
    const key = keyOf(item);
    if (seen.has(key)) return 'duplicate';
    seen.add(key);
    return 'created';
  });
}

export function position(m: { tsKey: string; messageId: string }): Position {
  return { tsKey: m.tsKey, messageId: m.messageId };
}

/** The instant key of a timestamp, as since, until and positions take it. */
export function keyOf(ts: string): string {
  const key = instantKey(ts);
  if (key === null) throw new Error(`test bug: ${ts} is not a valid timestamp`);
  return key;
}

const sinceKey = keyOf;

export const ALL: Page = { limit: 100, offset: 0 };

export async function ids(store: MessageStore, filter: MessageFilter = {}, page: Page = ALL): Promise<string[]> {
  return (await store.listMessages(filter, page)).data.map((m) => m.messageId);
}

// ---------------------------------------------------------------------------------------------
// The reference model for the randomized comparison: plain JS, independent of the store and of
// instantKey.

export { seededRandom };

/** Code point order (what SQLite's BINARY collation and PostgreSQL's "C" collation give on UTF-8 text). */
export function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const cb = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i] ?? 0;
    const y = cb[i] ?? 0;
    if (x !== y) return x - y;
  }
  return ca.length - cb.length;
}

/** Compares the instants two timestamps name: whole seconds by Date.UTC, then the fraction as digits. */
export function compareInstants(a: string, b: string): number {
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

export function referenceOrder(a: { ts: string; messageId: string }, b: { ts: string; messageId: string }): number {
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
export const SENDERS = [
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
export const FRACTIONS = ['', '', '.0', '.000', '.5', '.50', '.05', '.500001', '.123456789', '.9', '.999999', '.1'];
export const LETTERS = ['a', 'b', 'c', 'x', 'é', 'ä', 'ж', 'я', 'ω', 'ğ'];
export const OTHERS = [' ', ' ', '%', '_', '\\', '😀', '1', '.', "'", '"'];
export const ID_CHARS = ['m', 'M', '-', '_', '0', '1', '9', 'a', 'z', 'é', '😀', 'ｍ'];

export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function randomTs(random: () => number): string {
  return `${pick(random, SECONDS)}${pick(random, FRACTIONS)}Z`;
}

export function randomCase(random: () => number, s: string): string {
  return Array.from(s, (c) => (random() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
}

export function randomText(random: () => number): string | null {
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

/** A search term: mostly a piece of a stored text in random case, sometimes any short string. */
export function randomQ(random: () => number, rows: readonly { readonly text: string | null }[]): string {
  const texts = rows.map((m) => m.text).filter((t): t is string => t !== null && t !== '');
  let q: string;
  if (random() < 0.7 && texts.length > 0) {
    // A substring of a stored text, in random case.
    const chars = Array.from(pick(random, texts));
    const start = Math.floor(random() * chars.length);
    const end = start + 1 + Math.floor(random() * Math.min(4, chars.length - start));
    q = randomCase(random, chars.slice(start, end).join(''));
  } else {
    q = pick(random, [...LETTERS, ...OTHERS]) + (random() < 0.5 ? pick(random, LETTERS) : '');
  }
  if (q.trim() === '' && random() < 0.5) q = '%';
  return q;
}

function randomFilter(random: () => number, rows: readonly StoredMessage[]): ReferenceFilter {
  const filter: ReferenceFilter = {};
  if (random() < 0.4) filter.from = random() < 0.9 ? pick(random, SENDERS) : '+10000';
  if (random() < 0.4) filter.since = randomTs(random);
  if (random() < 0.5) filter.q = randomQ(random, rows);
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

/** A conversation as listConversations gives it: `first` and `last` are its earliest and latest messages. */
export function conversationOf(
  first: IncomingMessage,
  last: IncomingMessage,
  messages: number,
  contactName: string | null = null,
): Conversation {
  return {
    from: last.from,
    to: last.to,
    contactName,
    messages,
    firstTs: first.ts,
    lastTs: last.ts,
    lastTsKey: last.tsKey,
    lastMessage: { messageId: last.messageId, ts: last.ts, text: last.text, type: last.type ?? null },
  };
}

/**
 * The origin ingest gives a core-form (or Standard Webhooks) message whose signed body holds its
 * own fields, and `extra` ones after them.
 */
export function bodyOriginOf(
  m: { messageId: string; from: string; to: string; ts: string; text: string | null },
  source: 'spec' | 'standard' = 'spec',
  extra: Record<string, unknown> = {},
): MessageOrigin {
  return bodyOrigin(source, { message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text, ...extra });
}

/** The business number id Meta's examples use, for WhatsApp origins. */
export const PHONE_NUMBER_ID = '106540352242922';

/** A WhatsApp origin for a message: its `messages[]` item built from the message's own fields. */
export function whatsappOrigin(
  m: { messageId: string; from: string; ts: string; text: string | null; type?: string },
  extra: { contactName?: string | null; replyTo?: string | null; item?: Record<string, unknown> } = {},
): MessageOrigin {
  const replyTo = extra.replyTo ?? null;
  const item = extra.item ?? {
    from: m.from.slice(1),
    id: m.messageId,
    timestamp: String(Math.floor(Date.parse(m.ts) / 1000)),
    ...(replyTo === null ? {} : { context: { from: '15550783881', id: replyTo } }),
    type: m.type ?? 'text',
    ...(m.text === null ? {} : { text: { body: m.text } }),
  };
  return {
    source: 'whatsapp',
    raw: JSON.stringify(item),
    contactName: extra.contactName ?? null,
    replyTo,
    phoneNumberId: PHONE_NUMBER_ID,
  };
}

/** What a test planted in a database of the previous schema release, as that release wrote it. */
export interface OldRows {
  /**
   * Whether `old3` was written too: '+3' to '+4' at 2025-01-15T11:30:00Z, type 'image', no text
   * (a schema that has the type column).
   */
  readonly typed?: boolean;
  /** The created_at each old row was written with (by message_id), when the test knows it. */
  readonly receivedAt?: Readonly<Record<string, string>>;
}

const UPGRADE_DAY = { sinceKey: '2025-01-15T00:00:00', untilKey: '2025-01-16T00:00:00' };

/**
 * After an upgrade from the previous schema release, with the rows `old1` (+1 to +2, 10:00, "Old
 * Needle") and `old2` (+3 to +2, 11:00:00.5, no text), and with `typed` also `old3` (see OldRows),
 * written by that release and nothing else: they read back as they were written, their details as
 * rows from before (no raw, source as best known), the aggregates the upgrade made for them
 * (recipient and type counts, conversations) agree with them, and the new features work beside
 * them.
 */
export async function expectUpgradedStoreWorks(store: MessageStore, old: OldRows = {}): Promise<void> {
  const old1 = incoming('old1', { from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z', text: 'Old Needle' });
  const old2 = incoming('old2', { from: '+3', to: '+2', ts: '2025-01-15T11:00:00.5Z', text: null });
  const old3 = incoming('old3', { from: '+3', to: '+4', ts: '2025-01-15T11:30:00Z', text: null, type: 'image' });
  const typed = old.typed === true;
  const olds = typed ? [old1, old2, old3] : [old1, old2];
  const asStored = (m: IncomingMessage) => detailed(m, old.receivedAt?.[m.messageId] ?? anyInstant());
  const page = { limit: 10, offset: 0 };
  const total = async (filter: MessageFilter) => (await store.listMessages(filter, page)).total;
  const n = typed ? 1 : 0;

  // Rows from before read back as they were written: no type key, no raw, source as best known.
  expect((await store.listMessages({}, page)).data).toStrictEqual(olds.map(stored));
  expect((await store.listMessages({}, { ...page, details: true })).data).toStrictEqual(olds.map(asStored));
  expect(await store.getMessage('old1')).toStrictEqual({ messageId: 'old1', message: asStored(old1), statuses: [] });
  if (typed) expect((await store.getMessage('old3'))?.message?.details?.source).toBe('whatsapp');

  // The aggregates of the old rows, as the upgrade made them.
  expect(await total({ to: '+2' })).toBe(2);
  expect(await total({ to: '+4' })).toBe(n);
  expect(await total({ type: 'image' })).toBe(n);
  expect(await total({ from: '+1', to: '+2' })).toBe(1);
  expect(await total({ from: '+3', to: '+2' })).toBe(1);
  expect(await total({ sinceKey: '2025-01-15T10:30:00' })).toBe(1 + n);
  expect(await total({ untilKey: '2025-01-15T11:00:00.5' })).toBe(1);
  const oldConversations = [
    ...(typed ? [conversationOf(old3, old3, 1)] : []),
    conversationOf(old2, old2, 1),
    conversationOf(old1, old1, 1),
  ];
  expect(await store.listConversations({}, { limit: 10 })).toEqual({ data: oldConversations, total: 2 + n, hasMore: false });
  expect(await store.timeseries({ bucket: 'hour', ...UPGRADE_DAY })).toEqual([
    { bucket: '2025-01-15T10', count: 1 },
    { bucket: '2025-01-15T11', count: 1 + n },
  ]);

  // New writes beside them.
  const fresh = incoming('new', { from: '+1', ts: '2025-01-15T12:00:00Z', type: 'text', text: 'new needle' });
  const earlier = incoming('new2', { from: '+1', to: '+2', ts: '2025-01-15T09:00:00Z', type: 'text', text: 'earlier' });
  const withOrigin = { ...earlier, origin: whatsappOrigin(earlier, { contactName: 'Asha', replyTo: 'old1' }) };
  const outcome = await store.storeDelivery(
    deliveryOf({
      messages: [incoming('old1', { type: 'text' }), fresh, withOrigin],
      statuses: [statusOf('old2', 'read')],
      deadLetters: [deadLetterOf(null)],
    }),
  );
  expect(outcome).toEqual({ messages: ['duplicate', 'created', 'created'], statuses: ['created'], deadLetters: ['created'] });
  expect((await store.getMessage('old2'))?.statuses.map((s) => s.status)).toEqual(['read']);
  expect(await store.getMessage('old1')).toStrictEqual({ messageId: 'old1', message: asStored(old1), statuses: [] });
  expect(await store.getMessage('new2')).toStrictEqual({ messageId: 'new2', message: detailed(withOrigin), statuses: [] });
  expect((await store.listDeadLetters({ limit: 10, offset: 0 })).total).toBe(1);
  expect((await store.listMessages({ q: 'needle' }, page)).data.map((m) => m.messageId)).toEqual(['old1', 'new']);
  expect((await store.listMessages({}, { ...page, order: 'desc' })).data.map((m) => m.messageId)).toEqual([
    'new',
    ...(typed ? ['old3'] : []),
    'old2',
    'old1',
    'new2',
  ]);
  expect(
    (await store.listMessages({ untilKey: '2025-01-15T11:00:00.5' }, { ...page, order: 'desc' })).data.map((m) => m.messageId),
  ).toEqual(['old1', 'new2']);
  expect(await total({ to: '+2' })).toBe(3);
  expect(await total({ type: 'text' })).toBe(2);
  expect(await total({ type: 'image' })).toBe(n);
  expect(await total({ from: '+1', to: '+2' })).toBe(2);
  expect(await total({ sinceKey: '2025-01-15T09:30:00', untilKey: '2025-01-15T12:00:00' })).toBe(2 + n);
  expect(await store.listConversations({}, { limit: 10 })).toEqual({
    data: [conversationOf(fresh, fresh, 1), ...oldConversations.slice(0, -1), conversationOf(earlier, old1, 2, 'Asha')],
    total: 3 + n,
    hasMore: false,
  });
  expect(await store.listConversations({ from: '+1' }, { limit: 1 })).toEqual({
    data: [conversationOf(fresh, fresh, 1)],
    total: 2,
    hasMore: true,
  });
  expect(await store.timeseries({ bucket: 'hour', ...UPGRADE_DAY })).toEqual([
    { bucket: '2025-01-15T09', count: 1 },
    { bucket: '2025-01-15T10', count: 1 },
    { bucket: '2025-01-15T11', count: 1 + n },
    { bucket: '2025-01-15T12', count: 1 },
  ]);
  expect(await store.timeseries({ bucket: 'day', ...UPGRADE_DAY })).toEqual([{ bucket: '2025-01-15', count: 4 + n }]);
  expect(await store.stats(10)).toEqual({
    totalMessages: 4 + n,
    sendersCount: 2,
    messagesPerSender: [
      { from: '+1', count: 3 },
      { from: '+3', count: 1 + n },
    ],
    firstMessageTs: '2025-01-15T09:00:00Z',
    lastMessageTs: '2025-01-15T12:00:00Z',
  });
}

export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`MessageStore contract: ${name}`, () => {
    let store: MessageStore;
    let cleanup: (() => Promise<void>) | undefined;
    let refuse: OpenedStore['refuse'];

    beforeEach(async () => {
      const opened = await open();
      store = opened.store;
      cleanup = opened.cleanup;
      refuse = opened.refuse;
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

    describe('storeDelivery', () => {
      it('answers an empty delivery with no outcomes and stores nothing', async () => {
        expect(await store.storeDelivery(deliveryOf({}))).toEqual({ messages: [], statuses: [], deadLetters: [] });
        expect((await store.listMessages({}, ALL)).total).toBe(0);
        expect(await store.listDeadLetters(ALL)).toEqual({ data: [], total: 0 });
      });

      it('stores messages, statuses and dead letters together, with positional outcomes', async () => {
        const text = incoming('wamid.text', { type: 'text', text: 'hi', ts: '2025-01-15T10:00:00Z' });
        const image = incoming('wamid.image', { type: 'image', text: null, ts: '2025-01-15T10:00:01Z' });
        const sent = statusOf('wamid.out', 'sent', { ts: '2025-01-15T09:00:00Z' });
        const read = statusOf('wamid.out', 'read', { ts: '2025-01-15T09:05:00Z', recipientId: null });
        const bad = deadLetterOf('wamid.bad');
        const before = Date.now();
        const outcome = await store.storeDelivery(
          deliveryOf({ messages: [text, image], statuses: [sent, read], deadLetters: [bad] }),
        );
        const after = Date.now();
        expect(outcome).toEqual({
          messages: ['created', 'created'],
          statuses: ['created', 'created'],
          deadLetters: ['created'],
        });
        expect(await store.listMessages({}, ALL)).toEqual({ data: [stored(text), stored(image)], total: 2, hasMore: false });
        expect(await store.getMessage('wamid.out')).toEqual({
          messageId: 'wamid.out',
          message: null,
          statuses: [storedStatus(sent), storedStatus(read)],
        });
        const letters = await store.listDeadLetters(ALL);
        expect(letters.total).toBe(1);
        expect(letters.data).toEqual([{ ...bad, id: expect.any(Number), source: 'whatsapp', receivedAt: expect.any(String) }]);
        const receivedAt = letters.data[0]?.receivedAt ?? '';
        expect(new Date(receivedAt).toISOString()).toBe(receivedAt);
        expect(Date.parse(receivedAt)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(receivedAt)).toBeLessThanOrEqual(after);
      });

      it("follows insertMany's rules for messages: earlier rows and repeats inside the delivery are duplicates", async () => {
        const old = incoming('old', { text: 'first', from: '+1' });
        expect(await store.insertMany([old])).toEqual(['created']);
        const changedOld = incoming('old', { text: 'changed', from: '+2', type: 'text' });
        const fresh = incoming('new', { text: 'one', type: 'text' });
        const freshAgain = incoming('new', { text: 'two', from: '+3', type: 'image' });
        const outcome = await store.storeDelivery(deliveryOf({ messages: [changedOld, fresh, freshAgain, incoming('other')] }));
        expect(outcome).toEqual({ messages: ['duplicate', 'created', 'duplicate', 'created'], statuses: [], deadLetters: [] });
        // The first write wins, type included.
        expect((await store.getMessage('old'))?.message).toStrictEqual(detailed(old));
        expect((await store.getMessage('new'))?.message).toStrictEqual(detailed(fresh));
        // And messages a delivery stored are duplicates for insertMany afterwards.
        expect(await store.insertMany([incoming('new'), incoming('newest')])).toEqual(['duplicate', 'created']);
        expect((await store.listMessages({}, ALL)).total).toBe(4);
      });

      it('stores each (message id, status) pair once: the first report wins, later and repeated ones are duplicates', async () => {
        const sent = statusOf('m1', 'sent', { ts: '2025-01-15T10:00:00Z' });
        const delivered = statusOf('m1', 'delivered', { ts: '2025-01-15T10:00:01Z' });
        const sentAgain = statusOf('m1', 'sent', { ts: '2025-01-15T11:00:00Z', recipientId: 'other' });
        expect(await store.storeDelivery(deliveryOf({ statuses: [sent, delivered, sentAgain] }))).toEqual({
          messages: [],
          statuses: ['created', 'created', 'duplicate'],
          deadLetters: [],
        });
        const deliveredLater = statusOf('m1', 'delivered', { ts: '2025-01-15T12:00:00Z' });
        const read = statusOf('m1', 'read', { ts: '2025-01-15T10:00:02Z' });
        const otherSent = statusOf('m2', 'sent');
        expect(await store.storeDelivery(deliveryOf({ statuses: [deliveredLater, read, otherSent, read] }))).toEqual({
          messages: [],
          statuses: ['duplicate', 'created', 'created', 'duplicate'],
          deadLetters: [],
        });
        expect((await store.getMessage('m1'))?.statuses).toEqual([sent, delivered, read].map(storedStatus));
        expect((await store.getMessage('m2'))?.statuses).toEqual([storedStatus(otherSent)]);
      });

      it('keeps an identical dead letter once however often it is delivered, and each different one with its own increasing id', async () => {
        const letter = deadLetterOf('same');
        const other = deadLetterOf('other');
        await store.storeDelivery(deliveryOf({ deadLetters: [letter, letter] }));
        await store.storeDelivery(deliveryOf({ deadLetters: [other, letter] }));
        // The same item as another kind is another dead letter.
        await store.storeDelivery(deliveryOf({ deadLetters: [{ ...letter, kind: 'status' }] }));
        const page = await store.listDeadLetters(ALL);
        expect(page.total).toBe(3);
        expect(page.data.map((d) => [d.kind, d.item])).toEqual([
          [letter.kind, letter.item],
          [other.kind, other.item],
          ['status', letter.item],
        ]);
        const ids = page.data.map((d) => d.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(3);
      });

      it('counts and lists delivered messages like any others: totals, senders, hours, search', async () => {
        await store.insertMany([
          incoming('a', { from: '+1', ts: '2025-01-15T10:00:00Z', text: 'needle one' }),
          incoming('b', { from: '+2', ts: '2025-01-15T12:00:00Z', text: 'hay' }),
        ]);
        await store.storeDelivery(
          deliveryOf({
            messages: [
              incoming('c', { from: '+1', ts: '2025-01-15T09:00:00Z', text: 'a NEEDLE two', type: 'text' }),
              incoming('a', { from: '+3', text: 'needle again', type: 'text' }),
              incoming('d', { from: '+3', ts: '2025-01-15T13:30:00Z', text: null, type: 'image' }),
              incoming('e', { from: '+1', ts: '2025-01-15T11:00:00Z', text: 'needle three', type: 'text' }),
            ],
            statuses: [statusOf('a', 'read')],
            deadLetters: [deadLetterOf(null)],
          }),
        );
        expect(await ids(store)).toEqual(['c', 'a', 'e', 'b', 'd']);
        expect((await store.listMessages({}, ALL)).total).toBe(5);
        expect((await store.listMessages({ from: '+1' }, ALL)).total).toBe(3);
        expect((await store.listMessages({ from: '+3' }, ALL)).total).toBe(1);
        expect((await store.listMessages({ sinceKey: sinceKey('2025-01-15T10:30:00Z') }, ALL)).total).toBe(3);
        expect(await store.listMessages({ sinceKey: sinceKey('2025-01-15T13:00:00Z') }, ALL)).toMatchObject({ total: 1 });
        expect(await ids(store, { q: 'needle' })).toEqual(['c', 'a', 'e']);
        expect((await store.listMessages({ q: 'needle' }, ALL)).total).toBe(3);
        expect(await store.stats(10)).toEqual({
          totalMessages: 5,
          sendersCount: 3,
          messagesPerSender: [
            { from: '+1', count: 3 },
            { from: '+2', count: 1 },
            { from: '+3', count: 1 },
          ],
          firstMessageTs: '2025-01-15T09:00:00Z',
          lastMessageTs: '2025-01-15T13:30:00Z',
        });
      });

      it.each<[RefusingTable, string]>([
        ['messages', 'poison'],
        ['delivery_statuses', 'poison'],
        ['dead_letters', 'poison'],
      ])('commits nothing of a delivery when the database refuses a row of %s', async (table) => {
        await store.insertMany([incoming('before', { from: '+1' })]);
        await refuse(table, 'poison');
        const failing = deliveryOf({
          messages: [
            incoming('d1', { from: '+1', type: 'text' }),
            incoming('d2', { from: '+2', type: 'text' }),
            incoming(table === 'messages' ? 'poison' : 'd3', { from: '+2' }),
          ],
          statuses: [
            statusOf('d1', 'sent'),
            statusOf(table === 'delivery_statuses' ? 'poison' : 'other', 'sent'),
            statusOf('before', 'read'),
          ],
          deadLetters: [deadLetterOf('x'), deadLetterOf(table === 'dead_letters' ? 'poison' : 'y')],
        });
        await expect(store.storeDelivery(failing)).rejects.toThrow();

        expect(await ids(store)).toEqual(['before']);
        expect(await store.getMessage('d1')).toBeNull();
        expect(await store.getMessage('other')).toBeNull();
        expect(await store.getMessage('before')).toEqual({
          messageId: 'before',
          message: detailed(incoming('before', { from: '+1' })),
          statuses: [],
        });
        expect(await store.listDeadLetters(ALL)).toEqual({ data: [], total: 0 });
        expect(await store.stats(10)).toMatchObject({
          totalMessages: 1,
          sendersCount: 1,
          messagesPerSender: [{ from: '+1', count: 1 }],
        });
        expect((await store.listMessages({ from: '+2' }, ALL)).total).toBe(0);
        expect((await store.listMessages({ sinceKey: sinceKey('2025-01-15T00:00:00Z') }, ALL)).total).toBe(1);

        // Nothing of it was kept: the same delivery without the refused row creates everything.
        const retried = await store.storeDelivery(
          deliveryOf({
            messages: failing.messages.filter((m) => m.messageId !== 'poison'),
            statuses: failing.statuses.filter((s) => s.messageId !== 'poison'),
            deadLetters: failing.deadLetters.filter((d) => d.itemId !== 'poison'),
          }),
        );
        expect(retried.messages.every((o) => o === 'created')).toBe(true);
        expect(retried.statuses.every((o) => o === 'created')).toBe(true);
        expect((await store.stats(10)).sendersCount).toBe(2);
      });

      it('rejects, with a reason, once the store is closed', async () => {
        await store.close();
        await expect(store.storeDelivery(deliveryOf({ messages: [incoming('late')] }))).rejects.toThrow(/\S/);
      });

      it('answers concurrent deliveries and batches as one-by-one commits would, each call its own outcomes', async () => {
        // Overlapping ids and pairs across calls, repeats inside calls. The merged transactions of
        // a writer thread and the pool's parallel ones must both give every key one creation.
        const calls = Array.from({ length: 24 }, (_, c) => {
          const messages = Array.from({ length: 1 + (c % 5) }, (_, i) =>
            incoming(`c${(c * 3 + i) % 40}`, { from: `+${c % 4}`, type: c % 2 === 0 ? 'text' : 'image' }),
          );
          if (c % 3 === 0) messages.push(messages[0] ?? incoming('x'));
          if (c % 2 === 0) return { kind: 'batch' as const, messages };
          const names: DeliveryStatusName[] = ['sent', 'delivered', 'read', 'failed'];
          const statuses = Array.from({ length: 1 + (c % 4) }, (_, i) =>
            statusOf(`c${(c + i) % 6}`, names[(c + i) % names.length] ?? 'sent'),
          );
          statuses.push(...statuses.slice(0, 1));
          return {
            kind: 'delivery' as const,
            delivery: deliveryOf({ messages, statuses, deadLetters: [deadLetterOf(`c${c}`)] }),
          };
        });
        const answers = await Promise.all(
          calls.map(
            async (call): Promise<DeliveryOutcome> =>
              call.kind === 'batch'
                ? { messages: await store.insertMany(call.messages), statuses: [], deadLetters: [] }
                : store.storeDelivery(call.delivery),
          ),
        );

        const created = new Map<string, number>();
        const createdPairs = new Map<string, number>();
        calls.forEach((call, c) => {
          const answer = answers[c];
          const messages = call.kind === 'batch' ? call.messages : call.delivery.messages;
          const statuses = call.kind === 'batch' ? [] : call.delivery.statuses;
          expect(answer?.messages, `call ${c}`).toHaveLength(messages.length);
          expect(answer?.statuses, `call ${c}`).toHaveLength(statuses.length);
          // Inside one call, only a key's first occurrence can be the created one.
          const seen = new Set<string>();
          messages.forEach((m, i) => {
            if (answer?.messages[i] === 'created') {
              expect(seen.has(m.messageId), `call ${c}: ${m.messageId} created twice`).toBe(false);
              created.set(m.messageId, (created.get(m.messageId) ?? 0) + 1);
            }
            seen.add(m.messageId);
          });
          statuses.forEach((s, i) => {
            const key = `${s.messageId} ${s.status}`;
            if (answer?.statuses[i] === 'created') createdPairs.set(key, (createdPairs.get(key) ?? 0) + 1);
          });
        });
        const allIds = new Set(
          calls.flatMap((call) => (call.kind === 'batch' ? call.messages : call.delivery.messages)).map((m) => m.messageId),
        );
        const allPairs = new Set(
          calls.flatMap((call) => (call.kind === 'batch' ? [] : call.delivery.statuses)).map((s) => `${s.messageId} ${s.status}`),
        );
        expect([...created.keys()].sort()).toEqual([...allIds].sort());
        expect([...created.values()].every((n) => n === 1)).toBe(true);
        expect([...createdPairs.keys()].sort()).toEqual([...allPairs].sort());
        expect([...createdPairs.values()].every((n) => n === 1)).toBe(true);
        expect((await store.listMessages({}, ALL)).total).toBe(allIds.size);
        expect((await store.stats(10)).totalMessages).toBe(allIds.size);
        expect((await store.listDeadLetters(ALL)).total).toBe(calls.filter((call) => call.kind === 'delivery').length);
      });

      it('keeps concurrent calls apart when one fails: what resolved is stored, what rejected is not', async () => {
        await refuse('messages', 'poison');
        const calls = Array.from({ length: 16 }, (_, c) => {
          const messages = [incoming(`k${c}a`), incoming(c === 7 ? 'poison' : `k${c}b`)];
          return c % 2 === 0
            ? { ids: messages.map((m) => m.messageId), run: () => store.insertMany(messages) }
            : {
                ids: messages.map((m) => m.messageId),
                run: () => store.storeDelivery(deliveryOf({ messages, statuses: [statusOf(`k${c}a`, 'sent')] })),
              };
        });
        const settled = await Promise.allSettled(calls.map((call) => call.run()));
        expect(settled[7]?.status).toBe('rejected');
        const listed = new Set(await ids(store));
        calls.forEach((call, c) => {
          const wasStored = settled[c]?.status === 'fulfilled';
          for (const id of call.ids.filter((id) => id !== 'poison')) {
            expect(listed.has(id), `call ${c} ${settled[c]?.status}: ${id}`).toBe(wasStored);
          }
        });
        const statusesKept = await Promise.all(calls.map((_, c) => store.getMessage(`k${c}a`)));
        calls.forEach((_, c) => {
          const expected = c % 2 === 1 && settled[c]?.status === 'fulfilled' ? 1 : 0;
          expect(statusesKept[c]?.statuses.length ?? 0, `call ${c}`).toBe(expected);
        });
      });
    });

    describe('getMessage', () => {
      it('answers null for an id with neither a message nor statuses', async () => {
        await store.storeDelivery(
          deliveryOf({ messages: [incoming('m1')], statuses: [statusOf('m2', 'sent')], deadLetters: [deadLetterOf('m3')] }),
        );
        expect(await store.getMessage('absent')).toBeNull();
        expect(await store.getMessage('M1')).toBeNull();
        // A dead letter's item id is not a message.
        expect(await store.getMessage('m3')).toBeNull();
        // Ids no message can have: U+0000 and an unpaired surrogate.
        expect(await store.getMessage('m1\u0000')).toBeNull();
        expect(await store.getMessage('\ud800')).toBeNull();
      });

      it('gives a message without statuses exactly as it was stored, with its details, no type key for a core-form message', async () => {
        const core = incoming('spec', { text: 'héllo 😀' });
        const spec = { ...core, origin: bodyOriginOf(core) };
        const typed = incoming('typed', { type: 'document', text: null });
        await store.insertMany([spec]);
        await store.storeDelivery(deliveryOf({ messages: [typed] }));
        const specDetail = await store.getMessage('spec');
        expect(specDetail).toStrictEqual({ messageId: 'spec', message: detailed(spec), statuses: [] });
        expect(Object.keys(specDetail?.message ?? {})).not.toContain('type');
        expect(await store.getMessage('typed')).toStrictEqual({ messageId: 'typed', message: detailed(typed), statuses: [] });
        expect((await store.listMessages({}, ALL)).data).toStrictEqual([stored(spec), stored(typed)]);
      });

      it('gives statuses without a message, the usual case for messages the business sent', async () => {
        const failed = statusOf('out', 'failed', {
          recipientId: null,
          errors: JSON.stringify([{ code: 131047, title: 'Re-engagement message', details: 'ü "quoted"' }]),
        });
        await store.storeDelivery(deliveryOf({ statuses: [failed] }));
        expect(await store.getMessage('out')).toStrictEqual({
          messageId: 'out',
          message: null,
          statuses: [storedStatus(failed)],
        });
      });

      it('gives a message with its statuses', async () => {
        const message = incoming('both', { type: 'text' });
        const sent = statusOf('both', 'sent', { ts: '2025-01-15T10:00:05Z' });
        await store.storeDelivery(deliveryOf({ messages: [message] }));
        await store.storeDelivery(deliveryOf({ statuses: [sent] }));
        expect(await store.getMessage('both')).toStrictEqual({
          messageId: 'both',
          message: detailed(message),
          statuses: [storedStatus(sent)],
        });
      });

      it('orders statuses by instant, then sent < delivered < read < failed at the same instant', async () => {
        const a = [
          statusOf('a', 'read', { ts: '2025-01-15T10:00:00.5Z' }),
          statusOf('a', 'delivered', { ts: '2025-01-15T10:00:00Z' }),
          statusOf('a', 'failed', { ts: '2025-01-15T09:59:59Z' }),
          statusOf('a', 'sent', { ts: '2025-01-15T10:00:00.000Z' }),
        ];
        const b = (['failed', 'read', 'delivered', 'sent'] as const).map((name) => statusOf('b', name));
        await store.storeDelivery(deliveryOf({ statuses: [...a.slice(0, 2), ...b.slice(0, 2)] }));
        await store.storeDelivery(deliveryOf({ statuses: [...a.slice(2), ...b.slice(2)] }));
        // '…00.5Z' sorts before '…00Z' as a string but is the later instant.
        expect((await store.getMessage('a'))?.statuses.map((s) => s.status)).toEqual(['failed', 'sent', 'delivered', 'read']);
        expect((await store.getMessage('b'))?.statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read', 'failed']);
        expect((await store.getMessage('a'))?.statuses.map((s) => s.ts)).toEqual([
          '2025-01-15T09:59:59Z',
          '2025-01-15T10:00:00.000Z',
          '2025-01-15T10:00:00Z',
          '2025-01-15T10:00:00.5Z',
        ]);
      });
    });

    describe('listDeadLetters', () => {
      it('answers an empty store with no rows and total 0', async () => {
        expect(await store.listDeadLetters({ limit: 10, offset: 0 })).toEqual({ data: [], total: 0 });
      });

      it('pages oldest first with an exact total, each item kept whole', async () => {
        const letters = [
          deadLetterOf('d0', 'entry', 'changes: field required'),
          deadLetterOf(null, 'change', 'value: expected an object, got a number'),
          { kind: 'message' as const, reason: 'r', item: JSON.stringify({ text: 'é😀\u0000"\\'.repeat(500) }), itemId: null },
          deadLetterOf('d3', 'status', 'status: expected one of sent, delivered, read, failed, got "x"'),
          deadLetterOf('d4'),
        ];
        await store.storeDelivery(deliveryOf({ deadLetters: letters.slice(0, 2) }));
        await store.storeDelivery(deliveryOf({ deadLetters: letters.slice(2, 3), source: 'other' }));
        await store.storeDelivery(deliveryOf({ messages: [incoming('m')], deadLetters: letters.slice(3) }));

        const all = await store.listDeadLetters({ limit: 100, offset: 0 });
        expect(all.total).toBe(5);
        expect(all.data.map(({ kind, reason, item, itemId }) => ({ kind, reason, item, itemId }))).toEqual(letters);
        expect(all.data.map((d) => d.source)).toEqual(['whatsapp', 'whatsapp', 'other', 'whatsapp', 'whatsapp']);
        const ids = all.data.map((d) => d.id);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(new Set(ids).size).toBe(5);
        const times = all.data.map((d) => d.receivedAt);
        expect(times).toEqual([...times].sort());

        expect(await store.listDeadLetters({ limit: 2, offset: 0 })).toEqual({ data: all.data.slice(0, 2), total: 5 });
        expect(await store.listDeadLetters({ limit: 2, offset: 2 })).toEqual({ data: all.data.slice(2, 4), total: 5 });
        expect(await store.listDeadLetters({ limit: 2, offset: 4 })).toEqual({ data: all.data.slice(4), total: 5 });
        expect(await store.listDeadLetters({ limit: 2, offset: 10 })).toEqual({ data: [], total: 5 });
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
          // Which batches go through storeDelivery (with provider types), drawn apart so the
          // data itself stays what this seed has always made.
          const route = seededRandom(seed + 1);
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
            const viaDelivery = route() < 0.3;
            const sent = viaDelivery
              ? batch.map((m) => (route() < 0.8 ? { ...m, type: pick(route, ['text', 'image', 'x']) } : m))
              : batch;
            const expected = expectedOutcomes(sent, (m) => m.messageId, new Set(reference.keys()));
            sent.forEach((m, i) => {
              if (expected[i] === 'created') reference.set(m.messageId, stored(m));
            });
            const outcomes = viaDelivery
              ? (await store.storeDelivery(deliveryOf({ messages: sent }))).messages
              : await store.insertMany(sent);
            expect(outcomes, `seed ${seed}: outcomes of batch ending at #${n}`).toEqual(expected);
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
