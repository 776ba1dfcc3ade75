// aggregateDeltas: what the messages one transaction creates add to the aggregates (counts per
// sender, recipient, type and hour; per conversation its count, first, last and contact message).
// The stores add deltas to stored rows with upserts, so besides each delta being right on its own,
// deltas of several transactions merged the way the upserts merge them must give what one delta of
// all the messages gives, whatever the order the messages came in.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from '../../src/ingest/message.js';
import { instantKey } from '../../src/ingest/timestamp.js';
import { type AggregateDeltas, aggregateDeltas, type ConversationDelta } from '../../src/store/aggregates.js';

interface Fields {
  from?: string;
  to?: string;
  ts?: string;
  text?: string | null;
  type?: string;
  contact?: string | null;
}

function message(messageId: string, fields: Fields = {}): IncomingMessage {
  const ts = fields.ts ?? '2025-01-15T10:00:00Z';
  const tsKey = instantKey(ts);
  if (tsKey === null) throw new Error(`test bug: ${ts} is not a valid timestamp`);
  const contact = fields.contact ?? null;
  return {
    messageId,
    from: fields.from ?? '+1',
    to: fields.to ?? '+2',
    ts,
    tsKey,
    text: fields.text === undefined ? 'hi' : fields.text,
    ...(fields.type === undefined ? {} : { type: fields.type }),
    ...(contact === null
      ? {}
      : { origin: { source: 'whatsapp' as const, raw: '{}', contactName: contact, replyTo: null, phoneNumberId: null } }),
  };
}

/** Code point order, which is the byte order of UTF-8 text: how both databases compare text. */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A message's place in the stores' order: by instant key, then message_id, both as the databases compare them. */
function placeOrder(a: { tsKey: string; messageId: string }, b: { tsKey: string; messageId: string }): number {
  return compareCodePoints(a.tsKey, b.tsKey) || compareCodePoints(a.messageId, b.messageId);
}

/** A conversation delta reduced to what the interface promises of it. */
interface Summary {
  from: string;
  to: string;
  count: number;
  first: { tsKey: string; messageId: string; ts: string };
  last: { tsKey: string; messageId: string; ts: string; text: string | null; type: string | null };
  contact: { tsKey: string; messageId: string; name: string } | null;
}

function summary(c: ConversationDelta): Summary {
  return {
    from: c.from,
    to: c.to,
    count: c.count,
    first: { tsKey: c.first.tsKey, messageId: c.first.messageId, ts: c.first.ts },
    last: {
      tsKey: c.last.tsKey,
      messageId: c.last.messageId,
      ts: c.last.ts,
      text: c.last.text,
      type: c.last.type,
    },
    contact: c.contact === null ? null : { tsKey: c.contact.tsKey, messageId: c.contact.messageId, name: c.contact.name },
  };
}

function counts(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort(([a], [b]) => compareCodePoints(a, b)));
}

/** The plain reference: every aggregate counted from the messages. */
function reference(messages: readonly IncomingMessage[]) {
  const count = (keyOf: (m: IncomingMessage) => string | undefined) => {
    const result = new Map<string, number>();
    for (const m of messages) {
      const key = keyOf(m);
      if (key !== undefined) result.set(key, (result.get(key) ?? 0) + 1);
    }
    return counts(result);
  };
  const groups = new Map<string, IncomingMessage[]>();
  for (const m of messages) {
    const key = JSON.stringify([m.from, m.to]);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const conversations = [...groups.values()]
    .map((group): Summary => {
      const ordered = [...group].sort(placeOrder);
      const first = ordered[0];
      const last = ordered[ordered.length - 1];
      if (first === undefined || last === undefined) throw new Error('test bug: empty group');
      const named = ordered.filter((m) => m.origin?.contactName != null);
      const contact = named[named.length - 1];
      return {
        from: first.from,
        to: first.to,
        count: group.length,
        first: { tsKey: first.tsKey, messageId: first.messageId, ts: first.ts },
        last: { tsKey: last.tsKey, messageId: last.messageId, ts: last.ts, text: last.text, type: last.type ?? null },
        contact:
          contact === undefined
            ? null
            : { tsKey: contact.tsKey, messageId: contact.messageId, name: contact.origin?.contactName ?? '' },
      };
    })
    .sort((a, b) => compareCodePoints(a.from, b.from) || compareCodePoints(a.to, b.to));
  return {
    perSender: count((m) => m.from),
    perRecipient: count((m) => m.to),
    perType: count((m) => m.type),
    perHour: count((m) => m.tsKey.slice(0, 13)),
    conversations,
  };
}

function view(deltas: AggregateDeltas) {
  return {
    perSender: counts(deltas.perSender),
    perRecipient: counts(deltas.perRecipient),
    perType: counts(deltas.perType),
    perHour: counts(deltas.perHour),
    conversations: deltas.conversations.map(summary),
  };
}

/** What a store's upsert does with a conversation row and the delta of a later transaction. */
function mergeConversation(row: Summary, delta: Summary): Summary {
  return {
    from: row.from,
    to: row.to,
    count: row.count + delta.count,
    first: placeOrder(delta.first, row.first) < 0 ? delta.first : row.first,
    last: placeOrder(delta.last, row.last) > 0 ? delta.last : row.last,
    contact:
      delta.contact !== null && (row.contact === null || placeOrder(delta.contact, row.contact) > 0)
        ? delta.contact
        : row.contact,
  };
}

function mergeCounts(into: Record<string, number>, add: Record<string, number>): Record<string, number> {
  const result = { ...into };
  for (const [key, n] of Object.entries(add)) result[key] = (result[key] ?? 0) + n;
  return counts(new Map(Object.entries(result)));
}

/** Applies transactions' deltas one after another, as the stores' upserts do. */
function applyAll(batches: readonly (readonly IncomingMessage[])[]) {
  let state = reference([]);
  for (const batch of batches) {
    const delta = view(aggregateDeltas(batch));
    const rows = new Map(state.conversations.map((c) => [JSON.stringify([c.from, c.to]), c]));
    for (const c of delta.conversations) {
      const key = JSON.stringify([c.from, c.to]);
      const row = rows.get(key);
      rows.set(key, row === undefined ? c : mergeConversation(row, c));
    }
    state = {
      perSender: mergeCounts(state.perSender, delta.perSender),
      perRecipient: mergeCounts(state.perRecipient, delta.perRecipient),
      perType: mergeCounts(state.perType, delta.perType),
      perHour: mergeCounts(state.perHour, delta.perHour),
      conversations: [...rows.values()].sort((a, b) => compareCodePoints(a.from, b.from) || compareCodePoints(a.to, b.to)),
    };
  }
  return state;
}

describe('aggregateDeltas', () => {
  it('gives nothing for no messages', () => {
    expect(view(aggregateDeltas([]))).toEqual({ perSender: {}, perRecipient: {}, perType: {}, perHour: {}, conversations: [] });
  });

  it('counts per sender, recipient, type and UTC hour; a message without a type counts under no type', () => {
    const deltas = aggregateDeltas([
      message('a', { from: '+1', to: '+2', type: 'text', ts: '2025-01-15T10:00:00Z' }),
      message('b', { from: '+1', to: '+3', type: 'image', ts: '2025-01-15T10:59:59.999Z' }),
      message('c', { from: '+4', to: '+2', ts: '2025-01-15T11:00:00Z' }),
      message('d', { from: '+1', to: '+2', type: 'text', ts: '2025-01-16T00:00:00.5Z' }),
    ]);
    expect(view(deltas)).toMatchObject({
      perSender: { '+1': 3, '+4': 1 },
      perRecipient: { '+2': 3, '+3': 1 },
      perType: { image: 1, text: 2 },
      perHour: { '2025-01-15T10': 2, '2025-01-15T11': 1, '2025-01-16T00': 1 },
    });
    expect(deltas.perType.has('')).toBe(false);
  });

  it('gives each conversation its count, earliest and latest message by instant (not by ts text), and latest contact name', () => {
    const deltas = aggregateDeltas([
      message('m2', { ts: '2025-01-15T10:00:00.5Z', text: 'half', type: 'text', contact: 'Asha' }),
      message('m9', { ts: '2025-01-15T10:00:00.05Z', text: 'early', contact: 'Old name' }),
      message('m1', { ts: '2025-01-15T10:00:00Z', text: 'whole', type: 'text' }),
      message('m3', { ts: '2025-01-15T10:00:00.50Z', text: null, type: 'image' }),
      message('x', { to: '+3', ts: '2025-01-15T09:00:00Z' }),
    ]);
    expect(deltas.conversations.map(summary)).toEqual([
      {
        from: '+1',
        to: '+2',
        count: 4,
        first: { tsKey: '2025-01-15T10:00:00', messageId: 'm1', ts: '2025-01-15T10:00:00Z' },
        // m2 and m3 are one instant: the greater message_id is the later.
        last: { tsKey: '2025-01-15T10:00:00.5', messageId: 'm3', ts: '2025-01-15T10:00:00.50Z', text: null, type: 'image' },
        contact: { tsKey: '2025-01-15T10:00:00.5', messageId: 'm2', name: 'Asha' },
      },
      {
        from: '+1',
        to: '+3',
        count: 1,
        first: { tsKey: '2025-01-15T09:00:00', messageId: 'x', ts: '2025-01-15T09:00:00Z' },
        last: { tsKey: '2025-01-15T09:00:00', messageId: 'x', ts: '2025-01-15T09:00:00Z', text: 'hi', type: null },
        contact: null,
      },
    ]);
  });

  it('breaks ties of one instant by message_id in code point order, as the databases compare text', () => {
    // In UTF-16 (JavaScript's <) '😀' (U+1F600) sorts before 'ｍ' (U+FF4D); in code points and UTF-8 bytes it sorts after.
    const deltas = aggregateDeltas([
      message('😀', { text: 'emoji', contact: 'Emoji' }),
      message('ｍ', { text: 'fullwidth', contact: 'Fullwidth' }),
      message('m', { text: 'ascii' }),
    ]);
    const [c] = deltas.conversations.map(summary);
    expect(c?.first.messageId).toBe('m');
    expect(c?.last.messageId).toBe('😀');
    expect(c?.contact?.name).toBe('Emoji');
  });

  it('lists conversations in (from, to) byte order, so every writer upserts them in one order', () => {
    const pairs: [string, string][] = [
      ['+2', '+1'],
      ['+10', '+1'],
      ['+1', '+2'],
      ['+1', '+10'],
      ['+1', '+1'],
      ['\u{1F600}', '+1'],
      ['\uFF4D', '+1'],
    ];
    const deltas = aggregateDeltas(pairs.map(([from, to], i) => message(`m${i}`, { from, to })));
    expect(deltas.conversations.map((c) => [c.from, c.to])).toEqual([
      ['+1', '+1'],
      ['+1', '+10'],
      ['+1', '+2'],
      ['+10', '+1'],
      ['+2', '+1'],
      ['\uFF4D', '+1'],
      ['\u{1F600}', '+1'],
    ]);
  });

  it('keeps a contact name of an earlier message when the latest ones have none', () => {
    const deltas = aggregateDeltas([
      message('a', { ts: '2025-01-15T09:00:00Z', contact: 'Asha' }),
      message('b', { ts: '2025-01-15T10:00:00Z' }),
    ]);
    expect(deltas.conversations[0]?.contact?.name).toBe('Asha');
    expect(deltas.conversations[0]?.last.messageId).toBe('b');
  });
});

// Random material: few parties, instants that tie (spelled differently), ids whose UTF-16 and
// code point orders differ.
const PARTIES = ['+1', '+10', '+2', '+919876543210'];
const TIMES = [
  '2025-01-15T09:59:59.999Z',
  '2025-01-15T10:00:00Z',
  '2025-01-15T10:00:00.000Z',
  '2025-01-15T10:00:00.5Z',
  '2025-01-15T10:00:00.50Z',
  '2025-01-15T11:00:00Z',
  '2025-01-16T00:00:00.05Z',
];
const ID_CHARS = ['m', 'M', '0', 'z', 'é', '😀', 'ｍ'];

const randomMessages = fc
  .uniqueArray(
    fc.record({
      id: fc.array(fc.constantFrom(...ID_CHARS), { minLength: 1, maxLength: 3 }).map((chars) => chars.join('')),
      from: fc.constantFrom(...PARTIES),
      to: fc.constantFrom(...PARTIES),
      ts: fc.constantFrom(...TIMES),
      text: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
      type: fc.option(fc.constantFrom('text', 'image'), { nil: undefined }),
      contact: fc.option(fc.constantFrom('Asha', 'Ravi', 'Ölaf'), { nil: null }),
    }),
    { selector: (r) => r.id, maxLength: 40 },
  )
  .map((records) =>
    records.map((r) =>
      message(r.id, {
        from: r.from,
        to: r.to,
        ts: r.ts,
        text: r.text,
        contact: r.contact,
        ...(r.type === undefined ? {} : { type: r.type }),
      }),
    ),
  );

describe('aggregateDeltas on random messages', () => {
  it('matches a plain count of the messages', () => {
    fc.assert(
      fc.property(randomMessages, (messages) => {
        expect(view(aggregateDeltas(messages))).toEqual(reference(messages));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same aggregates whether the messages come in one transaction or several, in any order', () => {
    fc.assert(
      fc.property(
        randomMessages.chain((messages) =>
          fc.tuple(
            fc.constant(messages),
            fc.shuffledSubarray(messages, { minLength: messages.length, maxLength: messages.length }),
            fc.array(fc.integer({ min: 0, max: Math.max(0, messages.length) }), { maxLength: 4 }),
          ),
        ),
        ([messages, shuffled, cuts]) => {
          const points = [...new Set([0, ...cuts, shuffled.length])].sort((a, b) => a - b);
          const batches = points.slice(1).map((end, i) => shuffled.slice(points[i], end));
          expect(applyAll(batches)).toEqual(reference(messages));
        },
      ),
      { numRuns: 300 },
    );
  });
});
