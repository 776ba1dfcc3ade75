// GET /conversations through real signed webhooks (X-Signature and WhatsApp envelopes with their
// contacts): one item per (from, to) pair, most recent first, with its contact name, message
// count, first and last ts and last message; cursor pages; the from and to filters; the 422
// answers; reads behind API_TOKEN. Each listing is compared with a reference computed here from
// what was sent. Runs on SQLite and on PostgreSQL.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { metaSignature } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { expectValidationShape, failingLocations, message, postWebhook, useTestApp } from './support.js';

const APP_SECRET = 'meta-app-secret';
const ENV = { WHATSAPP_APP_SECRET: APP_SECRET };

const A = '+919876543210';
const B = '+447700900123';
const C = '+5511987654321';
const X = '+14155550100';
const Y = '+15550783881';
const Z = '+15550001111';

interface Sent {
  readonly message_id: string;
  readonly from: string;
  readonly to: string;
  readonly ts: string;
  readonly text: string | null;
  readonly type: string | null;
  readonly contactName: string | null;
}

interface WhatsAppMessage {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly ts: string;
  readonly type?: 'text' | 'image' | 'location';
  readonly text?: string;
  readonly contactName?: string;
  /** Whose profile the envelope's contact is; the sender's by default. */
  readonly contactOf?: string;
}

function envelopeOf(m: WhatsAppMessage): object {
  const type = m.type ?? 'text';
  const item: Record<string, unknown> = { from: m.from.slice(1), id: m.id, timestamp: String(Date.parse(m.ts) / 1000), type };
  if (type === 'text') item.text = { body: m.text ?? '' };
  if (type === 'image')
    item.image = { mime_type: 'image/jpeg', id: `media-${m.id}`, ...(m.text !== undefined ? { caption: m.text } : {}) };
  if (type === 'location') item.location = { latitude: 12.97, longitude: 77.59 };
  const contacts =
    m.contactName === undefined ? undefined : [{ profile: { name: m.contactName }, wa_id: (m.contactOf ?? m.from).slice(1) }];
  return whatsappEnvelope({ ...(contacts !== undefined ? { contacts } : {}), messages: [item] }, m.to.slice(1));
}

function expectStored(res: LightMyRequestResponse, what: string): void {
  if (res.statusCode !== 200) throw new Error(`storing ${what} answered ${res.statusCode}: ${res.body}`);
}

async function sendWhatsApp(t: TestApp, m: WhatsAppMessage): Promise<Sent> {
  const raw = JSON.stringify(envelopeOf(m));
  expectStored(await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) }), m.id);
  const type = m.type ?? 'text';
  const named = m.contactName !== undefined && (m.contactOf ?? m.from) === m.from;
  return {
    message_id: m.id,
    from: m.from,
    to: m.to,
    ts: m.ts,
    text: type === 'location' ? null : (m.text ?? (type === 'text' ? '' : null)),
    type,
    contactName: named ? (m.contactName ?? null) : null,
  };
}

async function sendCore(t: TestApp, overrides: Record<string, unknown>): Promise<Sent> {
  const body = message(overrides);
  expectStored(await t.postSigned(body), JSON.stringify(body));
  return {
    message_id: String(body.message_id),
    from: String(body.from),
    to: String(body.to),
    ts: String(body.ts),
    text: typeof body.text === 'string' ? body.text : null,
    type: null,
    contactName: null,
  };
}

interface LastMessage {
  message_id: string;
  ts: string;
  text: string | null;
  type: string | null;
}

interface Conversation {
  from: string;
  to: string;
  contact_name: string | null;
  messages: number;
  first_ts: string;
  last_ts: string;
  last_message: LastMessage;
}

interface ConversationPage {
  data: Conversation[];
  total: number;
  limit: number;
  next_cursor: string | null;
}

async function conversations(t: TestApp, search = ''): Promise<ConversationPage> {
  const res = await t.app.inject({ method: 'GET', url: `/conversations${search}` });
  if (res.statusCode !== 200) throw new Error(`GET /conversations${search} answered ${res.statusCode}: ${res.body}`);
  return res.json<ConversationPage>();
}

function query(params: Record<string, string | undefined>): string {
  const defined = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  const text = new URLSearchParams(defined).toString();
  return text === '' ? '' : `?${text}`;
}

async function expectInvalid(t: TestApp, url: string, ...params: string[]): Promise<void> {
  const res = await t.app.inject({ method: 'GET', url });
  expect(res.statusCode, url).toBe(422);
  expectValidationShape(res);
  const locations = failingLocations(res);
  for (const param of params) expect(locations, url).toContain(`query.${param}`);
  for (const location of locations) expect(location, url).toMatch(/^query\.[a-z_]+$/);
}

/** Every page of a cursor walk. */
async function walk(t: TestApp, params: Record<string, string | undefined>, limit: number) {
  const out = { items: [] as Conversation[], sizes: [] as number[], totals: [] as number[] };
  let cursor = '';
  for (let page = 0; page < 100; page++) {
    const body = await conversations(t, query({ ...params, limit: String(limit), cursor }));
    expect(Object.keys(body).sort()).toEqual(['data', 'limit', 'next_cursor', 'total']);
    expect(body.limit).toBe(limit);
    out.items.push(...body.data);
    out.sizes.push(body.data.length);
    out.totals.push(body.total);
    if (body.next_cursor === null) return out;
    expect(body.data).toHaveLength(limit);
    cursor = body.next_cursor;
  }
  throw new Error('the conversation walk did not end');
}

// ---------------------------------------------------------------------------------------------------
// The reference.

function instantOf(ts: string): [string, string] {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(ts);
  if (m === null) throw new Error(`not a timestamp: ${ts}`);
  return [m[1] ?? '', (m[2] ?? '').replace(/0+$/, '')];
}

function compareInstants(a: string, b: string): number {
  const [wa, fa] = instantOf(a);
  const [wb, fb] = instantOf(b);
  if (wa !== wb) return wa < wb ? -1 : 1;
  const width = Math.max(fa.length, fb.length);
  const pa = fa.padEnd(width, '0');
  const pb = fb.padEnd(width, '0');
  return pa === pb ? 0 : pa < pb ? -1 : 1;
}

const compareStrings = (a: string, b: string) => (a === b ? 0 : a < b ? -1 : 1);

/** What GET /conversations lists for these messages, the filters applied; first_ts is checked by instant only. */
function reference(sent: readonly Sent[], filter: { from?: string; to?: string } = {}): Conversation[] {
  const groups = new Map<string, Sent[]>();
  for (const m of sent) {
    if ((filter.from !== undefined && m.from !== filter.from) || (filter.to !== undefined && m.to !== filter.to)) continue;
    const key = JSON.stringify([m.from, m.to]);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const items = [...groups.values()].map((messages): Conversation => {
    const sorted = [...messages].sort((a, b) => compareInstants(a.ts, b.ts) || compareStrings(a.message_id, b.message_id));
    const last = sorted.at(-1) as Sent;
    const first = sorted[0] as Sent;
    const named = sorted.filter((m) => m.contactName !== null).at(-1);
    return {
      from: last.from,
      to: last.to,
      contact_name: named?.contactName ?? null,
      messages: messages.length,
      first_ts: first.ts,
      last_ts: last.ts,
      last_message: { message_id: last.message_id, ts: last.ts, text: last.text, type: last.type },
    };
  });
  return items.sort(
    (a, b) => -compareInstants(a.last_ts, b.last_ts) || compareStrings(a.from, b.from) || compareStrings(a.to, b.to),
  );
}

/** Compares a listing with the reference: everything exact, first_ts by the instant it names. */
function expectListing(actual: readonly Conversation[], expected: readonly Conversation[], label: string): void {
  expect(
    actual.map(({ first_ts: _f, ...rest }) => rest),
    label,
  ).toEqual(expected.map(({ first_ts: _f, ...rest }) => rest));
  for (const [i, item] of actual.entries()) {
    expect(compareInstants(item.first_ts, expected[i]?.first_ts ?? ''), `${label} first_ts of ${item.from}→${item.to}`).toBe(0);
  }
}

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * About 90 messages over some 20 conversations: core-form and WhatsApp, ties at one instant
 * written several ways, fractional seconds, profile names that change, and senders without one.
 */
async function seedMany(t: TestApp): Promise<Sent[]> {
  const next = random(7);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
  const senders = [A, B, C, '+15550000001', '+15550000002', '+15550000003', '+4915112345678'];
  const recipients = [X, Y, Z];
  const coreTs = [
    '2025-01-15T10:00:00Z',
    '2025-01-15T10:00:00.000Z',
    '2025-01-15T10:00:00.5Z',
    '2025-01-15T10:00:00.25Z',
    '2025-01-15T09:00:00Z',
    '2025-01-14T10:00:00Z',
    '2025-01-16T00:00:00.000001Z',
  ];
  const waTs = ['2025-01-15T10:00:00Z', '2025-01-15T09:00:00Z', '2025-01-14T10:00:00Z', '2025-01-16T00:00:00Z'];
  const sent: Sent[] = [];
  for (let i = 0; i < 90; i++) {
    const id = `x${String((i * 37) % 90).padStart(2, '0')}`;
    const from = pick(senders);
    const to = pick(recipients);
    if (next() < 0.5) {
      sent.push(
        await sendCore(t, { message_id: id, from, to, ts: pick(coreTs), text: pick(['hi', 'Hello', undefined, 'later']) }),
      );
    } else {
      const contactName = pick(['Asha', 'Asha Rao', 'Bo', undefined]);
      sent.push(
        await sendWhatsApp(t, {
          id,
          from,
          to,
          ts: pick(waTs),
          type: pick(['text', 'image', 'location'] as const),
          text: pick(['wa hi', 'photo']),
          ...(contactName !== undefined ? { contactName } : {}),
        }),
      );
    }
  }
  return sent;
}

// ---------------------------------------------------------------------------------------------------

describe('GET /conversations: items', () => {
  const app = useTestApp(ENV);

  it('answers an empty store with no conversation', async () => {
    const t = app();
    const res = await t.app.inject({ method: 'GET', url: '/conversations' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ data: [], total: 0, limit: 50, next_cursor: null });
  });

  it('gives the item of the contract example for the messages it describes', async () => {
    const t = app();
    // Twelve WhatsApp messages from Asha to the business number, the last one "Hello" at 10:00.
    const days = ['10', '10', '11', '11', '12', '12', '13', '13', '14', '14', '15'];
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm10', 'm11', 'm12'];
    for (const [i, id] of ids.entries()) {
      await sendWhatsApp(t, {
        id,
        from: A,
        to: X,
        ts: `2025-01-${days[i]}T09:00:00Z`,
        text: `message ${i}`,
        contactName: 'Asha',
      });
    }
    await sendWhatsApp(t, { id: 'm9', from: A, to: X, ts: '2025-01-15T10:00:00Z', text: 'Hello', contactName: 'Asha' });
    const res = await t.app.inject({ method: 'GET', url: '/conversations' });
    expect(res.statusCode).toBe(200);
    const body = res.json<ConversationPage>();
    expect(body).toEqual({
      data: [
        {
          from: '+919876543210',
          to: '+14155550100',
          contact_name: 'Asha',
          messages: 12,
          first_ts: '2025-01-10T09:00:00Z',
          last_ts: '2025-01-15T10:00:00Z',
          last_message: { message_id: 'm9', ts: '2025-01-15T10:00:00Z', text: 'Hello', type: 'text' },
        },
      ],
      total: 1,
      limit: 50,
      next_cursor: null,
    });
    expect(Object.keys(body.data[0] ?? {}).sort()).toEqual(
      ['contact_name', 'first_ts', 'from', 'last_message', 'last_ts', 'messages', 'to'].sort(),
    );
    expect(Object.keys(body.data[0]?.last_message ?? {}).sort()).toEqual(['message_id', 'text', 'ts', 'type']);
  });

  it('orders by last instant descending, then from, then to; last message and names as the contract says', async () => {
    const t = app();
    // Sent out of order on purpose: the listing depends on instants, never on arrival.
    await sendCore(t, { message_id: 'ay-core', from: A, to: Y, ts: '2025-01-15T10:00:00Z', text: 'Hello' });
    await sendWhatsApp(t, {
      id: 'wamid.ay2',
      from: A,
      to: Y,
      ts: '2025-01-15T09:00:00Z',
      type: 'image',
      text: 'receipt',
      contactName: 'Asha Rao',
    });
    await sendWhatsApp(t, { id: 'wamid.ay1', from: A, to: Y, ts: '2025-01-10T09:00:00Z', text: 'first', contactName: 'Asha' });
    await sendCore(t, { message_id: 'bx2', from: B, to: X, ts: '2025-01-15T10:00:00.000Z', text: 'tie, greater id' });
    await sendCore(t, { message_id: 'bx1', from: B, to: X, ts: '2025-01-15T10:00:00Z', text: 'tie, smaller id' });
    await sendCore(t, { message_id: 'bx0', from: B, to: X, ts: '2025-01-14T08:00:00.000Z', text: undefined });
    await sendCore(t, { message_id: 'ax1', from: A, to: X, ts: '2025-01-15T10:00:00.0Z', text: 'same instant' });
    await sendCore(t, { message_id: 'az1', from: A, to: Z, ts: '2025-01-15T10:00:00.5Z', text: 'half a second later' });
    await sendWhatsApp(t, {
      id: 'wamid.c2',
      from: C,
      to: Y,
      ts: '2025-01-15T08:00:00Z',
      type: 'location',
      contactName: 'Second Name',
    });
    await sendWhatsApp(t, {
      id: 'wamid.c1',
      from: C,
      to: Y,
      ts: '2025-01-15T08:00:00Z',
      text: 'same second',
      contactName: 'First Name',
    });
    await sendCore(t, { message_id: 'xa1', from: X, to: A, ts: '2025-01-13T00:00:00Z', text: 'the other way' });
    await sendWhatsApp(t, {
      id: 'wamid.cz',
      from: C,
      to: Z,
      ts: '2025-01-12T00:00:00Z',
      text: 'named for someone else',
      contactName: 'Not C',
      contactOf: B,
    });

    const body = await conversations(t);
    expect(body.total).toBe(7);
    expect(body.next_cursor).toBeNull();
    expect(body.data).toEqual([
      {
        from: A,
        to: Z,
        contact_name: null,
        messages: 1,
        first_ts: '2025-01-15T10:00:00.5Z',
        last_ts: '2025-01-15T10:00:00.5Z',
        last_message: { message_id: 'az1', ts: '2025-01-15T10:00:00.5Z', text: 'half a second later', type: null },
      },
      {
        from: B,
        to: X,
        contact_name: null,
        messages: 3,
        first_ts: '2025-01-14T08:00:00.000Z',
        last_ts: '2025-01-15T10:00:00.000Z',
        last_message: { message_id: 'bx2', ts: '2025-01-15T10:00:00.000Z', text: 'tie, greater id', type: null },
      },
      {
        from: A,
        to: X,
        contact_name: null,
        messages: 1,
        first_ts: '2025-01-15T10:00:00.0Z',
        last_ts: '2025-01-15T10:00:00.0Z',
        last_message: { message_id: 'ax1', ts: '2025-01-15T10:00:00.0Z', text: 'same instant', type: null },
      },
      {
        from: A,
        to: Y,
        // The latest message (core form) has no name: the latest that has one gives it.
        contact_name: 'Asha Rao',
        messages: 3,
        first_ts: '2025-01-10T09:00:00Z',
        last_ts: '2025-01-15T10:00:00Z',
        last_message: { message_id: 'ay-core', ts: '2025-01-15T10:00:00Z', text: 'Hello', type: null },
      },
      {
        from: C,
        to: Y,
        // Two messages in the same second: the greater message_id is the latest, for both.
        contact_name: 'Second Name',
        messages: 2,
        first_ts: '2025-01-15T08:00:00Z',
        last_ts: '2025-01-15T08:00:00Z',
        last_message: { message_id: 'wamid.c2', ts: '2025-01-15T08:00:00Z', text: null, type: 'location' },
      },
      {
        from: X,
        to: A,
        contact_name: null,
        messages: 1,
        first_ts: '2025-01-13T00:00:00Z',
        last_ts: '2025-01-13T00:00:00Z',
        last_message: { message_id: 'xa1', ts: '2025-01-13T00:00:00Z', text: 'the other way', type: null },
      },
      {
        from: C,
        to: Z,
        // The envelope named someone else's profile: not this sender's name.
        contact_name: null,
        messages: 1,
        first_ts: '2025-01-12T00:00:00Z',
        last_ts: '2025-01-12T00:00:00Z',
        last_message: { message_id: 'wamid.cz', ts: '2025-01-12T00:00:00Z', text: 'named for someone else', type: 'text' },
      },
    ]);
  });

  it('follows new messages: a later one takes over last_message, an earlier one moves first_ts only', async () => {
    const t = app();
    await sendWhatsApp(t, { id: 'w1', from: A, to: Y, ts: '2025-01-15T10:00:00Z', text: 'one', contactName: 'Asha' });
    await sendCore(t, { message_id: 'b1', from: B, to: Y, ts: '2025-01-15T11:00:00Z' });
    expect((await conversations(t)).data.map((c) => c.from)).toEqual([B, A]);

    await sendWhatsApp(t, { id: 'w2', from: A, to: Y, ts: '2025-01-15T12:00:00Z', text: 'two', contactName: 'Asha R.' });
    let body = await conversations(t);
    expect(body.data.map((c) => c.from)).toEqual([A, B]);
    expect(body.data[0]).toMatchObject({
      contact_name: 'Asha R.',
      messages: 2,
      first_ts: '2025-01-15T10:00:00Z',
      last_ts: '2025-01-15T12:00:00Z',
      last_message: { message_id: 'w2', text: 'two', type: 'text' },
    });

    // Earlier, with another name: first_ts and the count move, the name and last message do not.
    await sendWhatsApp(t, { id: 'w0', from: A, to: Y, ts: '2025-01-01T00:00:00Z', text: 'zero', contactName: 'Old' });
    body = await conversations(t);
    expect(body.data[0]).toMatchObject({
      contact_name: 'Asha R.',
      messages: 3,
      first_ts: '2025-01-01T00:00:00Z',
      last_ts: '2025-01-15T12:00:00Z',
      last_message: { message_id: 'w2' },
    });

    // A redelivery (same message_id, other content) changes nothing.
    await sendWhatsApp(t, { id: 'w2', from: A, to: Y, ts: '2025-01-20T00:00:00Z', text: 'changed', contactName: 'Someone' });
    await sendCore(t, { message_id: 'w1', from: C, to: Z, ts: '2025-01-21T00:00:00Z' });
    const again = await conversations(t);
    expect(again).toEqual(body);
    expect(again.total).toBe(2);
  });

  it('agrees with GET /messages: the count, first and last messages of each conversation', async () => {
    const t = app();
    const sent = await seedMany(t);
    const all = (await conversations(t, '?limit=100')).data;
    expect(all.reduce((sum, c) => sum + c.messages, 0)).toBe(sent.length);
    for (const c of all) {
      const pair = `from=${encodeURIComponent(c.from)}&to=${encodeURIComponent(c.to)}`;
      const newest = await t.app.inject({ method: 'GET', url: `/messages?${pair}&order=desc&limit=1&include=type` });
      const oldest = await t.app.inject({ method: 'GET', url: `/messages?${pair}&limit=1` });
      const n = newest.json<{
        total: number;
        data: { message_id: string; ts: string; text: string | null; type: string | null }[];
      }>();
      const o = oldest.json<{ data: { ts: string }[] }>();
      expect(n.total).toBe(c.messages);
      const latest = n.data[0];
      expect(c.last_message).toEqual({ message_id: latest?.message_id, ts: latest?.ts, text: latest?.text, type: latest?.type });
      expect(c.last_ts).toBe(n.data[0]?.ts);
      expect(compareInstants(c.first_ts, o.data[0]?.ts ?? '')).toBe(0);
    }
  });
});

describe('GET /conversations: reference listing, pages and filters', () => {
  const app = useTestApp(ENV);

  it('lists every conversation as the reference says, and walks it by cursor the same way at any page size', async () => {
    const t = app();
    const sent = await seedMany(t);
    const expected = reference(sent);
    expect(expected.length).toBeGreaterThan(12);
    const whole = await conversations(t, '?limit=100');
    expect(whole.total).toBe(expected.length);
    expect(whole.next_cursor).toBeNull();
    expectListing(whole.data, expected, 'limit=100');
    expect(await conversations(t)).toEqual({ ...whole, limit: 50 });
    expect(await conversations(t, '?cursor=&limit=100')).toEqual(whole);

    for (const limit of [1, 3, 5, expected.length - 1, expected.length]) {
      const pages = await walk(t, {}, limit);
      expect(pages.items, `limit ${limit}`).toEqual(whole.data);
      for (const total of pages.totals) expect(total, `limit ${limit}`).toBe(expected.length);
      expect(pages.sizes.length, `limit ${limit}`).toBe(Math.ceil(expected.length / limit));
    }
  });

  it('filters on from, on to and on both, total exact, pages by cursor within the filter', async () => {
    const t = app();
    const sent = await seedMany(t);
    const filters: { from?: string; to?: string }[] = [
      { from: A },
      { from: C },
      { to: X },
      { to: Y },
      { from: A, to: Y },
      { from: B, to: Z },
      { from: '+10000000000' },
      { to: '+10000000000' },
    ];
    let nonEmpty = 0;
    for (const filter of filters) {
      const expected = reference(sent, filter);
      if (expected.length > 0) nonEmpty++;
      const label = JSON.stringify(filter);
      const whole = await conversations(t, query({ ...filter, limit: '100' }));
      expect(whole.total, label).toBe(expected.length);
      expectListing(whole.data, expected, label);
      const pages = await walk(t, filter, 2);
      expect(pages.items, label).toEqual(whole.data);
      for (const total of pages.totals) expect(total, label).toBe(expected.length);
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(6);
  });

  it('reads the + of from and to sent raw or as %20', async () => {
    const t = app();
    await sendCore(t, { message_id: 'a', from: A, to: X });
    await sendCore(t, { message_id: 'b', from: B, to: X });
    await sendCore(t, { message_id: 'c', from: A, to: Y });
    for (const search of ['?from=+919876543210&to=+14155550100', '?from=%20919876543210&to=%2014155550100']) {
      const body = await conversations(t, search);
      expect(body.total, search).toBe(1);
      expect(
        body.data.map((c) => [c.from, c.to]),
        search,
      ).toEqual([[A, X]]);
    }
    expect((await conversations(t, '?to=%2B1415555010')).total).toBe(0);
    expect((await conversations(t, '?from=919876543210')).total).toBe(0);
  });
});

describe('GET /conversations: refusals', () => {
  const app = useTestApp(ENV);

  it('refuses a limit out of 1..100 or not an integer, naming limit', async () => {
    const t = app();
    for (const limit of ['0', '101', '-1', 'abc', '1.5', '', '1e2'])
      await expectInvalid(t, `/conversations?limit=${limit}`, 'limit');
  });

  it('refuses a to that is not + and 1 to 15 digits, naming to', async () => {
    const t = app();
    for (const to of ['14155550100', '%2B', '%2B1234567890123456', 'abc', ''])
      await expectInvalid(t, `/conversations?to=${to}`, 'to');
  });

  it('refuses a repeated parameter, naming it', async () => {
    const t = app();
    await expectInvalid(t, '/conversations?limit=1&limit=2', 'limit');
    await expectInvalid(t, '/conversations?from=%2B1&from=%2B2', 'from');
    await expectInvalid(t, '/conversations?to=%2B1&to=%2B1', 'to');
    await expectInvalid(t, '/conversations?cursor=&cursor=', 'cursor');
  });

  it('refuses a cursor it did not make, one from /messages, and one reused with other filters', async () => {
    const t = app();
    for (const [i, from] of [A, B, C].entries()) {
      await sendCore(t, { message_id: `a${i}`, from, to: X, ts: `2025-01-15T10:00:0${i}Z` });
      await sendCore(t, { message_id: `b${i}`, from, to: Y, ts: `2025-01-15T11:00:0${i}Z` });
    }
    for (const cursor of [
      'garbage',
      '%2A%2A',
      Buffer.from('[1,2,3]').toString('base64url'),
      Buffer.from('"x"').toString('base64url'),
    ]) {
      await expectInvalid(t, `/conversations?cursor=${cursor}`, 'cursor');
    }
    const messagesPage = await t.app.inject({ method: 'GET', url: '/messages?limit=1&cursor=' });
    const messagesCursor = messagesPage.json<{ next_cursor: string | null }>().next_cursor;
    expect(typeof messagesCursor).toBe('string');
    await expectInvalid(t, `/conversations?cursor=${encodeURIComponent(String(messagesCursor))}`, 'cursor');

    const first = await conversations(t, `?to=${encodeURIComponent(X)}&limit=1`);
    expect(first.total).toBe(3);
    const cursor = encodeURIComponent(String(first.next_cursor));
    // The same filters continue (another limit too) ...
    expect((await conversations(t, `?to=${encodeURIComponent(X)}&limit=2&cursor=${cursor}`)).data).toHaveLength(2);
    expect((await conversations(t, `?to=%2014155550100&limit=5&cursor=${cursor}`)).data).toHaveLength(2);
    // ... other filters are refused.
    for (const other of [
      '',
      `to=${encodeURIComponent(Y)}&`,
      `to=${encodeURIComponent(X)}&from=${encodeURIComponent(A)}&`,
      `from=${encodeURIComponent(A)}&`,
    ]) {
      await expectInvalid(t, `/conversations?${other}cursor=${cursor}`, 'cursor');
    }
  });
});

describe('GET /conversations with API_TOKEN', () => {
  const app = useTestApp({ ...ENV, API_TOKEN: 'reader-token' });

  it('answers 401 without the token (before any 422), and the listing with it', async () => {
    const t = app();
    await sendCore(t, { message_id: 'a' });
    for (const url of ['/conversations', '/conversations?limit=0', '/conversations?cursor=garbage']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.body).not.toContain('+919876543210');
      expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer realm=/);
    }
    const wrong = await t.app.inject({ method: 'GET', url: '/conversations', headers: { authorization: 'Bearer wrong' } });
    expect(wrong.statusCode).toBe(401);
    const ok = await t.app.inject({ method: 'GET', url: '/conversations', headers: { authorization: 'Bearer reader-token' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json<ConversationPage>().total).toBe(1);
  });
});

describe('GET /conversations without API_TOKEN', () => {
  const app = useTestApp(ENV);

  it('is open to anyone', async () => {
    const t = app();
    await sendCore(t, { message_id: 'a' });
    const res = await t.app.inject({ method: 'GET', url: '/conversations' });
    expect(res.statusCode).toBe(200);
    expect(res.json<ConversationPage>().data.map((c) => [c.from, c.to])).toEqual([[A, X]]);
  });
});
