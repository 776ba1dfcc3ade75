// Correctly signed WhatsApp envelopes built to break the reader: nesting far deeper than
// JSON.stringify can follow, huge arrays and long strings, beside readable items. Each gets 200
// (readable items stored, the rest listed as dead letters with a reason) or 422, never a 5xx.

import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { metaSignature } from '../helpers/sign.js';
import { type DeadLetterItem, getDeadLetters, getMessageDetail, messageDetail, postWebhook, useTestApp } from './support.js';

const APP_SECRET = 'adversarial-app-secret';
const ENV = {
  WHATSAPP_APP_SECRET: APP_SECRET,
  // Shedding would make a 503 legitimate while a multi-megabyte body is parsed; these tests are
  // about everything else.
  MAX_EVENT_LOOP_DELAY_MS: '0',
};
const SEED = 20250115;
const RUNS = 40;
const PROPERTY_TIMEOUT_MS = 60_000;
const WABA = 'whatsapp_business_account';
const METADATA = { display_phone_number: '15550783881', phone_number_id: '106540352242922' };
const TIMESTAMP = '1736935200';
/** What a value nested too deep to keep becomes, and what the reason of a dead letter holding one adds. */
const CUT_MARKER = '[cut: nested deeper than 64 levels]';
const CUT_REASON = '; item cut: nested deeper than 64 levels';
const KEPT_DEPTH = 64;

// --- heavy values, written as JSON text: the deepest cannot go through JSON.stringify ----------

/** A value that is hard to read or keep: deeply nested, a huge array, or a long string. */
type Heavy =
  | { readonly kind: 'nested'; readonly shape: 'array' | 'object'; readonly depth: number }
  | { readonly kind: 'wide'; readonly length: number }
  | { readonly kind: 'long'; readonly char: string; readonly length: number };

/** `depth` arrays or objects around the string "leaf"; depth 0 is the string itself. */
function heavyText(heavy: Heavy): string {
  switch (heavy.kind) {
    case 'nested':
      return heavy.shape === 'array'
        ? `${'['.repeat(heavy.depth)}"leaf"${']'.repeat(heavy.depth)}`
        : `${'{"a":'.repeat(heavy.depth)}"leaf"${'}'.repeat(heavy.depth)}`;
    case 'wide':
      return `[${Array(heavy.length).fill('0').join(',')}]`;
    case 'long':
      return JSON.stringify(heavy.char.repeat(heavy.length));
  }
}

/** How many arrays and objects a heavy value nests (a string or number nests none). */
function depthOf(heavy: Heavy): number {
  return heavy.kind === 'nested' ? heavy.depth : heavy.kind === 'wide' ? 1 : 0;
}

/**
 * JSON text of `skeleton` with each `heavySlot(i)` string replaced by the text of `heavies[i]`.
 * Random texts in the skeleton never hold '@', so a slot cannot be matched by accident.
 */
function bodyText(skeleton: unknown, heavies: readonly Heavy[]): string {
  let text = JSON.stringify(skeleton);
  heavies.forEach((heavy, i) => {
    text = text.split(JSON.stringify(heavySlot(i))).join(heavyText(heavy));
  });
  return text;
}

function heavySlot(i: number): string {
  return `@@heavy-${i}@@`;
}

/** Follows the first element of nested arrays: how many there are and what is at the bottom. */
function arrayChain(value: unknown): { depth: number; leaf: unknown } {
  let depth = 0;
  let here = value;
  while (Array.isArray(here)) {
    depth++;
    here = here[0];
  }
  return { depth, leaf: here };
}

/** Follows the `a` field of nested objects, as arrayChain follows arrays. */
function objectChain(value: unknown): { depth: number; leaf: unknown } {
  let depth = 0;
  let here = value;
  while (typeof here === 'object' && here !== null && !Array.isArray(here)) {
    depth++;
    here = (here as Record<string, unknown>).a;
  }
  return { depth, leaf: here };
}

/** POST /webhook signed as Meta signs: X-Hub-Signature-256 over exactly these bytes. */
function postEnvelope(t: TestApp, raw: string): Promise<LightMyRequestResponse> {
  return postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
}

function textMessage(id: string, body: string): Record<string, unknown> {
  return { from: '919876543210', id, timestamp: TIMESTAMP, type: 'text', text: { body } };
}

function envelope(messages: unknown[], statuses: unknown[] = []): Record<string, unknown> {
  return {
    object: WABA,
    entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { metadata: METADATA, messages, statuses } }] }],
  };
}

describe('POST /webhook: a WhatsApp envelope nested deeper than JSON.stringify can follow', () => {
  const app = useTestApp(ENV);

  it('stores the text message beside a 5,000-deep unreadable item, and keeps that item cut, saying so', async () => {
    const t = app();
    const deep = { ...textMessage('wamid.deep', 'unused'), text: heavySlot(0) };
    const raw = bodyText(envelope([textMessage('wamid.beside', 'Hello'), deep]), [
      { kind: 'nested', shape: 'array', depth: 5000 },
    ]);

    const res = await postEnvelope(t, raw);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(await messageDetail(t, 'wamid.beside')).toMatchObject({ text: 'Hello', type: 'text', to: '+15550783881' });
    expect((await getMessageDetail(t, 'wamid.deep')).statusCode).toBe(404);

    const letters = await getDeadLetters(t);
    expect(letters.total).toBe(1);
    const [letter] = letters.data;
    expect(letter).toMatchObject({
      kind: 'message',
      item_id: 'wamid.deep',
      reason: `text: expected an object, got an array${CUT_REASON}`,
    });
    // The item keeps its own fields; its `text` keeps 63 levels (64 with the item itself), then the marker.
    expect(letter?.item).toMatchObject({ id: 'wamid.deep', from: '919876543210', type: 'text' });
    const text = (letter?.item as Record<string, unknown> | undefined)?.text;
    expect(arrayChain(text)).toEqual({ depth: KEPT_DEPTH - 1, leaf: CUT_MARKER });
  });

  it('answers a redelivery of that envelope 200 too, storing nothing twice', async () => {
    const t = app();
    const raw = bodyText(envelope([textMessage('wamid.again', 'Hello'), [heavySlot(0)]]), [
      { kind: 'nested', shape: 'object', depth: 5000 },
    ]);
    for (let delivery = 0; delivery < 3; delivery++) {
      const res = await postEnvelope(t, raw);
      expect(res.statusCode, res.body).toBe(200);
    }
    expect((await messageDetail(t, 'wamid.again')).text).toBe('Hello');
    const letters = await getDeadLetters(t);
    expect(letters.total).toBe(1);
    expect(letters.data[0]?.reason).toBe(`message: expected an object, got an array${CUT_REASON}`);
    const item = letters.data[0]?.item;
    expect(Array.isArray(item) ? objectChain(item[0]) : null).toEqual({ depth: KEPT_DEPTH - 1, leaf: CUT_MARKER });
  });

  it('keeps a status whose errors nest 5,000 deep, with its errors cut to 64 levels', async () => {
    const t = app();
    const failed = { id: 'wamid.out-deep', status: 'failed', timestamp: TIMESTAMP, recipient_id: '1', errors: heavySlot(0) };
    const raw = bodyText(envelope([], [failed]), [{ kind: 'nested', shape: 'array', depth: 5000 }]);

    const res = await postEnvelope(t, raw);
    expect(res.statusCode, res.body).toBe(200);
    const detail = await messageDetail(t, 'wamid.out-deep');
    expect(detail.statuses).toHaveLength(1);
    expect(detail.statuses[0]).toMatchObject({ status: 'failed', ts: '2025-01-15T10:00:00Z', recipient_id: '1' });
    expect(arrayChain(detail.statuses[0]?.errors)).toEqual({ depth: KEPT_DEPTH, leaf: CUT_MARKER });
    expect((await getDeadLetters(t)).total).toBe(0);
  });

  it('keeps an item nested exactly 64 deep whole, and cuts one 65 deep', async () => {
    const t = app();
    // The item itself is one level: its `text` adds the rest.
    const raw = bodyText(
      envelope([
        { ...textMessage('wamid.d64', 'x'), text: heavySlot(0) },
        { ...textMessage('wamid.d65', 'x'), text: heavySlot(1) },
      ]),
      [
        { kind: 'nested', shape: 'array', depth: KEPT_DEPTH - 1 },
        { kind: 'nested', shape: 'array', depth: KEPT_DEPTH },
      ],
    );
    expect((await postEnvelope(t, raw)).statusCode).toBe(200);
    const byId = new Map((await getDeadLetters(t)).data.map((d) => [d.item_id, d]));
    const textOf = (d: DeadLetterItem | undefined) => (d?.item as Record<string, unknown> | undefined)?.text;
    expect(byId.get('wamid.d64')?.reason).toBe('text: expected an object, got an array');
    expect(arrayChain(textOf(byId.get('wamid.d64')))).toEqual({ depth: KEPT_DEPTH - 1, leaf: 'leaf' });
    expect(byId.get('wamid.d65')?.reason).toBe(`text: expected an object, got an array${CUT_REASON}`);
    expect(arrayChain(textOf(byId.get('wamid.d65')))).toEqual({ depth: KEPT_DEPTH - 1, leaf: CUT_MARKER });
  });
});

// --- the property: a model of each envelope, so what it must store is known ---------------------

/** Where a heavy value goes, and so what the envelope must become. */
type Placement =
  /** A text message whose `text` is the heavy value: a message dead letter. */
  | 'unreadable-message'
  /** `[id, heavy]` in value.messages: a message dead letter without an item id. */
  | 'array-item'
  /**
   * A readable text message with the heavy value in a field the reader ignores: stored, with the
   * item as its raw, unless the item nests too deep to be kept whole: then a message dead letter.
   */
  | 'readable-extra'
  /** A readable failed status whose `errors` is the heavy value: stored, errors cut when too deep. */
  | 'status-errors'
  /** Ignored fields of a readable entry, change and value. */
  | 'entry-extra'
  | 'change-extra'
  | 'value-extra'
  /** An entry `[id, heavy]`, or one without `changes`: entry dead letters. */
  | 'entry-array'
  | 'entry-without-changes'
  /** A messages change whose value.messages is an object holding the heavy value: a change dead letter. */
  | 'change-bad-list';

interface Adversary {
  readonly placement: Placement;
  readonly heavy: Heavy;
  /** Where among the readable items it goes, for the placements that are items. */
  readonly position: number;
}

type Readable = { readonly kind: 'message'; readonly text: string } | { readonly kind: 'status'; readonly status: string };

interface EnvelopeModel {
  /** 'envelope' is a WhatsApp envelope; the others are refused with 422 whatever they hold. */
  readonly top: 'envelope' | 'entry-not-a-list' | 'other-object';
  readonly readable: readonly Readable[];
  readonly adversaries: readonly Adversary[];
  /** Empty entries after the others: a long list the reader walks through. */
  readonly padding: number;
}

const depth = fc.oneof(
  fc.integer({ min: 0, max: 70 }),
  fc.constantFrom(KEPT_DEPTH - 1, KEPT_DEPTH, KEPT_DEPTH + 1, 5_000, 100_000),
  fc.integer({ min: KEPT_DEPTH + 1, max: 100_000 }),
);
// At most three heavy values of at most 800 kB each, plus padding of at most 750 kB: within the
// 4 MiB body limit, which the property checks before posting.
const heavy: fc.Arbitrary<Heavy> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('nested' as const),
      shape: fc.constantFrom('array' as const, 'object' as const),
      depth,
    }),
    weight: 3,
  },
  fc.record({ kind: fc.constant('wide' as const), length: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(100_000)) }),
  fc
    .record({ char: fc.constantFrom('x', 'é', '😀'), bytes: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.constant(800_000)) })
    .map(({ char, bytes }) => ({ kind: 'long' as const, char, length: Math.floor(bytes / Buffer.byteLength(char)) })),
);
const placement = fc.constantFrom<Placement>(
  'unreadable-message',
  'array-item',
  'readable-extra',
  'status-errors',
  'entry-extra',
  'change-extra',
  'value-extra',
  'entry-array',
  'entry-without-changes',
  'change-bad-list',
);
const readable: fc.Arbitrary<Readable> = fc.oneof(
  fc.record({
    kind: fc.constant('message' as const),
    // Storable text (no NUL), and no '@', which marks the heavy slots.
    text: fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\u0000') && !s.includes('@')),
      fc.constant('x'.repeat(4096)),
    ),
  }),
  fc.record({ kind: fc.constant('status' as const), status: fc.constantFrom('sent', 'delivered', 'read', 'failed') }),
);
const model: fc.Arbitrary<EnvelopeModel> = fc.record({
  top: fc.oneof(
    { arbitrary: fc.constant('envelope' as const), weight: 8 },
    fc.constantFrom('entry-not-a-list' as const, 'other-object' as const),
  ),
  readable: fc.array(readable, { maxLength: 4 }),
  adversaries: fc.array(fc.record({ placement, heavy, position: fc.nat({ max: 4 }) }), { minLength: 1, maxLength: 3 }),
  padding: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.constant(50_000)),
});

/** What an envelope must leave behind once accepted. */
interface Expected {
  readonly messages: Map<string, string>;
  readonly statuses: Map<string, { status: string; errors: Heavy | null }>;
  /** Dead letters by their tag: the item id, or the first element of an array item. */
  readonly deadLetters: Map<string, { kind: string; cut: boolean }>;
}

/** The body an envelope model stands for, and what it must store; `run` makes every id new. */
function build(m: EnvelopeModel, run: number): { raw: string; expected: Expected } {
  const expected: Expected = { messages: new Map(), statuses: new Map(), deadLetters: new Map() };
  let next = 0;
  const newId = () => `wamid.r${run}.${next++}`;
  const heavies: Heavy[] = [];
  const slot = (h: Heavy) => {
    heavies.push(h);
    return heavySlot(heavies.length - 1);
  };
  const deadLetter = (kind: string, itemDepth: number) => {
    const tag = newId();
    expected.deadLetters.set(tag, { kind, cut: itemDepth > KEPT_DEPTH });
    return tag;
  };

  const messages: unknown[] = [];
  const statuses: unknown[] = [];
  for (const r of m.readable) {
    const id = newId();
    if (r.kind === 'message') {
      messages.push(textMessage(id, r.text));
      expected.messages.set(id, r.text);
    } else {
      statuses.push({ id, status: r.status, timestamp: TIMESTAMP, recipient_id: '919876543210' });
      expected.statuses.set(id, { status: r.status, errors: null });
    }
  }
  const insert = (list: unknown[], position: number, item: unknown) => list.splice(position % (list.length + 1), 0, item);
  const value: Record<string, unknown> = { messaging_product: 'whatsapp', metadata: METADATA, messages, statuses };
  const change: Record<string, unknown> = { field: 'messages', value };
  const entry: Record<string, unknown> = { id: '102290129340398', changes: [change] };
  const entries: unknown[] = [entry];
  const changes = entry.changes as unknown[];

  for (const { placement: where, heavy: h, position } of m.adversaries) {
    const d = depthOf(h);
    switch (where) {
      case 'unreadable-message': {
        insert(messages, position, { ...textMessage(deadLetter('message', 1 + d), 'unused'), text: slot(h) });
        break;
      }
      case 'array-item':
        insert(messages, position, [deadLetter('message', 1 + d), slot(h)]);
        break;
      case 'readable-extra': {
        if (1 + d > KEPT_DEPTH) {
          insert(messages, position, { ...textMessage(deadLetter('message', 1 + d), 'beside'), context: slot(h) });
          break;
        }
        const id = newId();
        insert(messages, position, { ...textMessage(id, 'beside'), context: slot(h) });
        expected.messages.set(id, 'beside');
        break;
      }
      case 'status-errors': {
        const id = newId();
        insert(statuses, position, { id, status: 'failed', timestamp: TIMESTAMP, errors: slot(h) });
        expected.statuses.set(id, { status: 'failed', errors: h });
        break;
      }
      case 'entry-extra':
        entry[`extra${next++}`] = slot(h);
        break;
      case 'change-extra':
        change[`extra${next++}`] = slot(h);
        break;
      case 'value-extra':
        value[`extra${next++}`] = slot(h);
        break;
      case 'entry-array':
        entries.push([deadLetter('entry', 1 + d), slot(h)]);
        break;
      case 'entry-without-changes':
        entries.push({ id: deadLetter('entry', 1 + d), extra: slot(h) });
        break;
      case 'change-bad-list':
        // change → value → messages → the heavy value: three levels above it.
        changes.push({
          id: deadLetter('change', 3 + d),
          field: 'messages',
          value: { metadata: METADATA, messages: { a: slot(h) } },
        });
        break;
    }
  }
  for (let i = 0; i < m.padding; i++) entries.push({ changes: [] });

  const skeleton =
    m.top === 'envelope'
      ? { object: WABA, entry: entries }
      : m.top === 'entry-not-a-list'
        ? { object: WABA, entry: { entries } }
        : { object: 'page', entry: entries };
  return { raw: bodyText(skeleton, heavies), expected };
}

/** The errors a status shows once stored, from the heavy value it was sent with. */
function expectErrors(errors: unknown, sent: Heavy | null): void {
  if (sent === null || (sent.kind === 'nested' && (sent.shape === 'object' || sent.depth === 0)) || sent.kind === 'long') {
    // Not an array: a status keeps errors only as the array Meta sends.
    expect(errors).toBeNull();
  } else if (sent.kind === 'wide') {
    expect(Array.isArray(errors) ? errors.length : null).toBe(sent.length);
  } else {
    expect(arrayChain(errors)).toEqual(
      sent.depth > KEPT_DEPTH ? { depth: KEPT_DEPTH, leaf: CUT_MARKER } : { depth: sent.depth, leaf: 'leaf' },
    );
  }
}

function tagOf(letter: DeadLetterItem): string | null {
  if (letter.item_id !== null) return letter.item_id;
  const first: unknown = Array.isArray(letter.item) ? letter.item[0] : undefined;
  return typeof first === 'string' ? first : null;
}

describe('POST /webhook: random adversarial WhatsApp envelopes', () => {
  const app = useTestApp(ENV);

  it(
    'answers 200 or 422, never 5xx; when 200, stores every readable item and lists every unreadable one with a reason',
    async () => {
      const t = app();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(model, async (m) => {
          const { raw, expected } = build(m, run++);
          expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(t.config.maxBodyBytes);
          const before = (await getDeadLetters(t)).total;

          const res = await postEnvelope(t, raw);
          if (m.top !== 'envelope') {
            expect(res.statusCode, res.body.slice(0, 500)).toBe(422);
            expect((await getDeadLetters(t)).total).toBe(before);
            for (const id of expected.messages.keys()) expect((await getMessageDetail(t, id)).statusCode).toBe(404);
            return;
          }
          expect(res.statusCode, res.body.slice(0, 500)).toBe(200);

          for (const [id, text] of expected.messages) {
            const detail = await messageDetail(t, id);
            expect(detail.text, id).toBe(text);
          }
          for (const [id, { status, errors }] of expected.statuses) {
            const detail = await messageDetail(t, id);
            expect(detail.statuses.map((s) => s.status)).toEqual([status]);
            expectErrors(detail.statuses[0]?.errors, errors);
          }

          // Dead letters are listed oldest first: this delivery's are the ones after `before`.
          const page = await getDeadLetters(t, `?limit=100&offset=${before}`);
          expect(page.total).toBe(before + expected.deadLetters.size);
          const listed = new Map(page.data.map((d) => [tagOf(d), d]));
          for (const [tag, { kind, cut }] of expected.deadLetters) {
            const letter = listed.get(tag);
            expect(letter, tag).toBeDefined();
            expect(letter?.kind).toBe(kind);
            expect(letter?.source).toBe('whatsapp');
            expect(letter?.reason.length).toBeGreaterThan(0);
            expect(letter?.reason.endsWith(CUT_REASON), `${tag}: ${letter?.reason}`).toBe(cut);
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
