// GET /messages shaped for an inbox, through real signed webhooks (X-Signature, Standard Webhooks
// and WhatsApp envelopes): order=desc, until, to, type and include, in every combination with
// from, since, q, offset and cursor, each listing compared with a reference computed here from
// what was sent; the 422 answers naming each bad parameter; reads behind API_TOKEN. Runs on SQLite
// and on PostgreSQL.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { metaSignature, standardWebhooksHeaders, whsecSecret } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { expectValidationShape, failingLocations, message, postWebhook, useTestApp } from './support.js';

const APP_SECRET = 'meta-app-secret';
const STANDARD_SECRET = whsecSecret('standard webhooks key: inbox');
const ENV = { WHATSAPP_APP_SECRET: APP_SECRET, STANDARD_WEBHOOKS_SECRET: STANDARD_SECRET };
const PHONE_NUMBER_ID = '106540352242922';

const A = '+919876543210';
const B = '+447700900123';
const C = '+5511987654321';
const X = '+14155550100';
const Y = '+15550783881';
const Z = '+15550001111';

const CORE_KEYS = ['message_id', 'from', 'to', 'ts', 'text'];
const INCLUDABLE = ['type', 'source', 'received_at', 'contact_name', 'reply_to', 'phone_number_id', 'raw'];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

// ---------------------------------------------------------------------------------------------------
// Sending.

interface Sent {
  readonly message_id: string;
  readonly from: string;
  readonly to: string;
  readonly ts: string;
  readonly text: string | null;
  /** The provider's type: null for the core form. */
  readonly type: string | null;
}

interface WhatsAppMessage {
  readonly id: string;
  /** The sender, with its +. */
  readonly from: string;
  /** The business number (the envelope's display_phone_number), with its +. */
  readonly to: string;
  readonly ts: string;
  readonly type: 'text' | 'image' | 'location';
  readonly text?: string;
  readonly contactName?: string;
  readonly replyTo?: string;
}

/** The `messages[]` item Meta would send for `m`. */
function whatsappItem(m: WhatsAppMessage): Record<string, unknown> {
  const item: Record<string, unknown> = {
    from: m.from.slice(1),
    id: m.id,
    timestamp: String(Date.parse(m.ts) / 1000),
    type: m.type,
  };
  if (m.replyTo !== undefined) item.context = { from: m.to.slice(1), id: m.replyTo };
  if (m.type === 'text') item.text = { body: m.text ?? '' };
  if (m.type === 'image') {
    item.image = {
      mime_type: 'image/jpeg',
      sha256: 'Fq9bQ2Hn3kP8mX1vT7yL4cR6eW0sA5dJ9gU2iO8pZ3E=',
      id: `media-${m.id}`,
      ...(m.text !== undefined ? { caption: m.text } : {}),
    };
  }
  if (m.type === 'location') item.location = { latitude: 51.8985, longitude: -8.4756, name: 'Cork', address: 'Patrick St' };
  return item;
}

/** A Cloud API envelope carrying `m`, with the sender's profile name when it has one. */
function envelopeOf(m: WhatsAppMessage): object {
  const contacts = m.contactName === undefined ? [] : [{ profile: { name: m.contactName }, wa_id: m.from.slice(1) }];
  return whatsappEnvelope({ ...(contacts.length > 0 ? { contacts } : {}), messages: [whatsappItem(m)] }, m.to.slice(1));
}

function expectOk(res: LightMyRequestResponse, what: string): void {
  if (res.statusCode !== 200) throw new Error(`storing ${what} answered ${res.statusCode}: ${res.body}`);
}

async function sendWhatsApp(t: TestApp, m: WhatsAppMessage): Promise<Sent> {
  const raw = JSON.stringify(envelopeOf(m));
  expectOk(await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) }), m.id);
  const text = m.type === 'location' ? null : (m.text ?? null);
  return { message_id: m.id, from: m.from, to: m.to, ts: m.ts, text, type: m.type };
}

/** What a core-form body (X-Signature or Standard Webhooks) reads back as. */
function coreSent(body: Record<string, unknown>): Sent {
  return {
    message_id: String(body.message_id),
    from: String(body.from),
    to: String(body.to),
    ts: String(body.ts),
    text: typeof body.text === 'string' ? body.text : null,
    type: null,
  };
}

async function sendCore(t: TestApp, body: Record<string, unknown>): Promise<Sent> {
  expectOk(await t.postSigned(body), JSON.stringify(body));
  return coreSent(body);
}

async function sendStandard(t: TestApp, body: Record<string, unknown>): Promise<Sent> {
  const raw = JSON.stringify(body);
  expectOk(await postWebhook(t, raw, standardWebhooksHeaders(STANDARD_SECRET, raw, `msg_${String(body.message_id)}`)), raw);
  return coreSent(body);
}

// ---------------------------------------------------------------------------------------------------
// Reading.

interface Item {
  message_id: string;
  from: string;
  to: string;
  ts: string;
  text: string | null;
  [key: string]: unknown;
}

interface Listing {
  data: Item[];
  total: number;
  limit: number;
  offset: number;
  next_cursor?: string | null;
}

function query(params: Record<string, string | undefined>): string {
  const defined = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  const text = new URLSearchParams(defined).toString();
  return text === '' ? '' : `?${text}`;
}

async function list(t: TestApp, search: string): Promise<Listing> {
  const res = await t.app.inject({ method: 'GET', url: `/messages${search}` });
  if (res.statusCode !== 200) throw new Error(`GET /messages${search} answered ${res.statusCode}: ${res.body}`);
  return res.json<Listing>();
}

async function ids(t: TestApp, search: string): Promise<string[]> {
  return (await list(t, search)).data.map((m) => m.message_id);
}

/** Answers 422 in the A.2 style, naming (at least) each of `params`, and only query parameters. */
async function expectInvalid(t: TestApp, url: string, ...params: string[]): Promise<void> {
  const res = await t.app.inject({ method: 'GET', url });
  expect(res.statusCode, url).toBe(422);
  expectValidationShape(res);
  const locations = failingLocations(res);
  for (const param of params) expect(locations, url).toContain(`query.${param}`);
  for (const location of locations) expect(location, url).toMatch(/^query\.[a-z_]+$/);
}

/** Every page of a keyset walk: ids in order, the totals seen, and the pages' sizes. */
async function walkCursor(
  t: TestApp,
  params: Record<string, string | undefined>,
  limit: number,
): Promise<{ ids: string[]; totals: number[]; sizes: number[] }> {
  const out = { ids: [] as string[], totals: [] as number[], sizes: [] as number[] };
  let cursor = '';
  for (let page = 0; page < 200; page++) {
    const body = await list(t, query({ ...params, limit: String(limit), cursor }));
    expect(Object.keys(body).sort()).toEqual(['data', 'limit', 'next_cursor', 'offset', 'total']);
    expect(body.limit).toBe(limit);
    expect(body.offset).toBe(0);
    out.ids.push(...body.data.map((m) => m.message_id));
    out.totals.push(body.total);
    out.sizes.push(body.data.length);
    if (body.next_cursor === null) return out;
    expect(typeof body.next_cursor).toBe('string');
    // A page that has a next one is full.
    expect(body.data).toHaveLength(limit);
    cursor = String(body.next_cursor);
  }
  throw new Error(`the cursor walk of ${JSON.stringify(params)} did not end`);
}

/** Every page of an offset walk. */
async function walkOffset(
  t: TestApp,
  params: Record<string, string | undefined>,
  limit: number,
): Promise<{ ids: string[]; totals: number[] }> {
  const out = { ids: [] as string[], totals: [] as number[] };
  for (let offset = 0; ; offset += limit) {
    const body = await list(t, query({ ...params, limit: String(limit), offset: String(offset) }));
    expect(Object.keys(body).sort()).toEqual(['data', 'limit', 'offset', 'total']);
    expect(body.offset).toBe(offset);
    out.ids.push(...body.data.map((m) => m.message_id));
    out.totals.push(body.total);
    if (offset + limit >= body.total) return out;
    if (offset > 10_000) throw new Error('offset walk did not end');
  }
}

// ---------------------------------------------------------------------------------------------------
// The reference: what the contract says a listing holds, computed from what was sent.

/** [whole seconds 'YYYY-MM-DDTHH:MM:SS', fraction digits without trailing zeros] of a valid ts. */
function instantOf(ts: string): [string, string] {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(ts);
  if (m === null) throw new Error(`not a timestamp: ${ts}`);
  return [m[1] ?? '', (m[2] ?? '').replace(/0+$/, '')];
}

/** Compares the instants two timestamps name: negative, zero or positive. */
function compareInstants(a: string, b: string): number {
  const [wa, fa] = instantOf(a);
  const [wb, fb] = instantOf(b);
  if (wa !== wb) return wa < wb ? -1 : 1;
  const width = Math.max(fa.length, fb.length);
  const pa = fa.padEnd(width, '0');
  const pb = fb.padEnd(width, '0');
  return pa === pb ? 0 : pa < pb ? -1 : 1;
}

function compareIds(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

function ascending(a: Sent, b: Sent): number {
  return compareInstants(a.ts, b.ts) || compareIds(a.message_id, b.message_id);
}

interface Filters {
  from?: string;
  to?: string;
  type?: string;
  since?: string;
  until?: string;
  q?: string;
}

function reference(sent: readonly Sent[], f: Filters, order: 'asc' | 'desc'): string[] {
  const kept = sent.filter(
    (m) =>
      (f.from === undefined || m.from === f.from) &&
      (f.to === undefined || m.to === f.to) &&
      (f.type === undefined || m.type === f.type) &&
      (f.since === undefined || compareInstants(m.ts, f.since) >= 0) &&
      (f.until === undefined || compareInstants(m.ts, f.until) < 0) &&
      (f.q === undefined || (m.text ?? '\0').toLowerCase().includes(f.q.toLowerCase())),
  );
  const sorted = [...kept].sort(ascending);
  return (order === 'asc' ? sorted : sorted.reverse()).map((m) => m.message_id);
}

// ---------------------------------------------------------------------------------------------------
// A mixed inbox: three senders, three recipients, core-form and WhatsApp messages (text, image,
// location), ties at one instant written several ways, fractional seconds, texts with and without
// "hello", and message_ids whose order is not the order of sending.

/** A small deterministic generator (mulberry32), so the data are the same on every run and store. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const CORE_TS = [
  '2025-01-14T23:59:59Z',
  '2025-01-15T09:59:59.999Z',
  '2025-01-15T10:00:00Z',
  '2025-01-15T10:00:00.000Z',
  '2025-01-15T10:00:00.0Z',
  '2025-01-15T10:00:00.5Z',
  '2025-01-15T10:00:00.50Z',
  '2025-01-15T10:00:00.05Z',
  '2025-01-15T10:00:01Z',
  '2025-01-15T10:59:59.999999999Z',
  '2025-01-15T11:00:00Z',
  '2025-01-15T11:00:00.000001Z',
  '2025-01-16T00:00:00Z',
];
const WHATSAPP_TS = ['2025-01-14T23:59:59Z', '2025-01-15T10:00:00Z', '2025-01-15T10:00:01Z', '2025-01-15T11:00:00Z'];
const TEXTS = ['hello world', 'HELLO again', 'bye now', null, 'say Hello!', 'nothing here', 'othello'];

/** The filter values every combination draws from; each selects a proper, non-empty part of the inbox. */
const FILTERS: Required<Filters> = {
  from: A,
  to: Y,
  type: 'text',
  since: '2025-01-15T10:00:00.000Z',
  until: '2025-01-15T11:00:00Z',
  q: 'hello',
};

async function seedInbox(t: TestApp): Promise<Sent[]> {
  const next = random(12);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
  const sent: Sent[] = [];
  // message_ids shuffled, so their order is not the order of sending.
  const coreIds = Array.from({ length: 34 }, (_, i) => `m${String(i).padStart(2, '0')}`).sort(() => next() - 0.5);
  for (const id of coreIds) {
    sent.push(
      await sendCore(
        t,
        message({
          message_id: id,
          from: pick([A, B, C]),
          to: pick([X, Y, Z]),
          ts: pick(CORE_TS),
          text: pick(TEXTS) ?? undefined,
        }),
      ),
    );
  }
  // A core-form body with a "type" field of its own: the core form has no provider type.
  sent.push(
    await sendCore(
      t,
      message({ message_id: 'm-typed', from: A, to: Y, ts: '2025-01-15T10:00:00Z', text: 'hello typed', type: 'text' }),
    ),
  );
  const waIds = Array.from({ length: 16 }, (_, i) => `wamid.${String(i).padStart(2, '0')}`).sort(() => next() - 0.5);
  for (const id of waIds) {
    const type = pick(['text', 'text', 'image', 'location'] as const);
    sent.push(
      await sendWhatsApp(t, {
        id,
        from: pick([A, C]),
        to: pick([Y, Z]),
        ts: pick(WHATSAPP_TS),
        type,
        ...(type === 'location' ? {} : { text: pick(['hello from whatsapp', 'order status?', 'Hello photo', 'thanks']) }),
      }),
    );
  }
  return sent;
}

// ---------------------------------------------------------------------------------------------------

describe('GET /messages: order=desc', () => {
  const app = useTestApp(ENV);

  it('lists newest first: instant descending, ties by message_id descending, fractional seconds by instant', async () => {
    const t = app();
    for (const [id, ts] of [
      ['half', '2025-01-15T10:00:00.5Z'],
      ['m1', '2025-01-15T10:00:00.000Z'],
      ['m3', '2025-01-15T10:00:00Z'],
      ['m2', '2025-01-15T10:00:00.0Z'],
      ['tenth', '2025-01-15T10:00:00.10Z'],
      ['next', '2025-01-15T10:00:01Z'],
      ['early', '2025-01-15T09:59:59.999999Z'],
      ['j', '2025-01-15T10:00:00.50Z'],
    ] as const) {
      await sendCore(t, message({ message_id: id, ts }));
    }
    expect(await ids(t, '?order=desc')).toEqual(['next', 'j', 'half', 'tenth', 'm3', 'm2', 'm1', 'early']);
    expect(await ids(t, '?order=asc')).toEqual(['early', 'm1', 'm2', 'm3', 'tenth', 'half', 'j', 'next']);
    expect(await ids(t, '')).toEqual(await ids(t, '?order=asc'));
  });

  it('keeps the core response shape: four keys, items of five, limit and offset echoed', async () => {
    const t = app();
    await sendCore(t, message({ message_id: 'a', ts: '2025-01-15T10:00:00Z' }));
    await sendCore(t, message({ message_id: 'b', ts: '2025-01-15T11:00:00Z', text: undefined }));
    await sendWhatsApp(t, { id: 'wamid.c', from: A, to: Y, ts: '2025-01-15T12:00:00Z', type: 'image', text: 'photo' });
    for (const search of [
      '?order=desc',
      '?order=desc&limit=2&offset=1',
      '?until=2025-01-16T00:00:00Z',
      `?to=${encodeURIComponent(X)}`,
      '?type=image',
      '?include=',
    ]) {
      const body = await list(t, search);
      expect(Object.keys(body).sort(), search).toEqual(['data', 'limit', 'offset', 'total']);
      for (const item of body.data) expect(Object.keys(item), search).toEqual(CORE_KEYS);
    }
    expect(await list(t, '?order=desc&limit=2&offset=1')).toEqual({
      data: [
        { message_id: 'b', from: A, to: X, ts: '2025-01-15T11:00:00Z', text: null },
        { message_id: 'a', from: A, to: X, ts: '2025-01-15T10:00:00Z', text: 'Hello' },
      ],
      total: 3,
      limit: 2,
      offset: 1,
    });
    expect(await list(t, '?order=desc&limit=1')).toEqual({
      data: [{ message_id: 'wamid.c', from: A, to: Y, ts: '2025-01-15T12:00:00Z', text: 'photo' }],
      total: 3,
      limit: 1,
      offset: 0,
    });
  });

  it('refuses an order other than asc or desc, naming order', async () => {
    const t = app();
    for (const order of ['DESC', 'Asc', 'descending', 'newest', '', '1', 'asc,desc', '%20desc']) {
      await expectInvalid(t, `/messages?order=${order}`, 'order');
    }
  });
});

describe('GET /messages: until', () => {
  const app = useTestApp(ENV);

  it('keeps messages strictly before until, comparing instants', async () => {
    const t = app();
    for (const [id, ts] of [
      ['a', '2025-01-15T10:00:00Z'],
      ['b', '2025-01-15T10:00:00.5Z'],
      ['c', '2025-01-15T10:00:01Z'],
      ['d', '2025-01-15T10:00:00.000Z'],
    ] as const) {
      await sendCore(t, message({ message_id: id, ts }));
    }
    expect(await list(t, '?until=2025-01-15T10:00:00Z')).toMatchObject({ data: [], total: 0 });
    expect(await list(t, '?until=2025-01-15T10:00:00.000Z')).toMatchObject({ data: [], total: 0 });
    expect(await ids(t, '?until=2025-01-15T10:00:00.000000001Z')).toEqual(['a', 'd']);
    expect(await ids(t, '?until=2025-01-15T10:00:00.5Z')).toEqual(['a', 'd']);
    expect(await ids(t, '?until=2025-01-15T10:00:00.500Z')).toEqual(['a', 'd']);
    expect(await ids(t, '?until=2025-01-15T10:00:00.5000001Z')).toEqual(['a', 'd', 'b']);
    expect(await ids(t, '?until=2025-01-15T10:00:01Z')).toEqual(['a', 'd', 'b']);
    expect(await ids(t, '?until=2025-01-15T10:00:01.001Z&order=desc')).toEqual(['c', 'b', 'd', 'a']);
    expect((await list(t, '?until=9999-12-31T23:59:59Z')).total).toBe(4);
    // An empty or reversed window is valid and empty.
    expect(await list(t, '?since=2025-01-15T10:00:00.5Z&until=2025-01-15T10:00:00.5Z')).toMatchObject({ data: [], total: 0 });
    expect(await list(t, '?since=2025-01-15T10:00:01Z&until=2025-01-15T10:00:00Z')).toMatchObject({ data: [], total: 0 });
    expect(await ids(t, '?since=2025-01-15T10:00:00.5Z&until=2025-01-15T10:00:00.50001Z')).toEqual(['b']);
  });

  it('tiles with since: consecutive windows hold every message once, one at a boundary in the later window', async () => {
    const t = app();
    const sent = await seedInbox(t);
    const bounds = [
      '2000-01-01T00:00:00Z',
      '2025-01-15T09:59:59.999Z',
      '2025-01-15T10:00:00.000Z',
      '2025-01-15T10:00:00.05Z',
      '2025-01-15T10:00:00.5Z',
      '2025-01-15T10:00:01Z',
      '2025-01-15T11:00:00Z',
      '2025-01-16T00:00:00Z',
      '2025-01-16T00:00:00.000000001Z',
    ];
    const tiled: string[] = [];
    let sum = 0;
    for (let i = 0; i + 1 < bounds.length; i++) {
      const window = { since: bounds[i], until: bounds[i + 1], limit: '100' };
      const body = await list(t, query(window));
      expect(body.data.map((m) => m.message_id)).toEqual(reference(sent, window, 'asc'));
      // A message exactly at the boundary belongs to the window it starts.
      for (const item of body.data) expect(compareInstants(item.ts, String(bounds[i + 1]))).toBeLessThan(0);
      tiled.push(...body.data.map((m) => m.message_id));
      sum += body.total;
    }
    expect(sum).toBe(sent.length);
    expect(tiled).toEqual(reference(sent, {}, 'asc'));
    // Boundaries that are instants of messages: those messages start the next window.
    const at10 = await list(t, query({ until: '2025-01-15T10:00:00Z', limit: '100' }));
    const from10 = await list(t, query({ since: '2025-01-15T10:00:00Z', limit: '100' }));
    expect(at10.total + from10.total).toBe(sent.length);
    expect(from10.data.some((m) => compareInstants(m.ts, '2025-01-15T10:00:00Z') === 0)).toBe(true);
    expect(at10.data.some((m) => compareInstants(m.ts, '2025-01-15T10:00:00Z') === 0)).toBe(false);
  });

  it('refuses a malformed until, naming until', async () => {
    const t = app();
    for (const until of [
      'now',
      '2025-01-15',
      '2025-01-15T10:00:00',
      '2025-01-15%2010:00:00Z',
      '2025-01-15T10:00:00%2B00:00',
      '2025-01-15T10:00:00+00:00',
      '2025-02-29T00:00:00Z',
      '2025-01-15T24:00:00Z',
      '0000-01-01T00:00:00Z',
      '',
    ]) {
      await expectInvalid(t, `/messages?until=${until}`, 'until');
    }
  });
});

describe('GET /messages: to and type', () => {
  const app = useTestApp(ENV);

  async function seed(t: TestApp): Promise<void> {
    await sendCore(t, message({ message_id: 'c1', from: A, to: X, ts: '2025-01-15T10:00:00Z' }));
    await sendCore(t, message({ message_id: 'c2', from: X, to: A, ts: '2025-01-15T10:00:01Z' }));
    await sendCore(t, message({ message_id: 'c3', from: B, to: '+141555501000', ts: '2025-01-15T10:00:02Z' }));
    await sendCore(t, message({ message_id: 'c4', from: A, to: Y, ts: '2025-01-15T10:00:03Z', type: 'text', text: 'typed' }));
    await sendWhatsApp(t, { id: 'w1', from: A, to: Y, ts: '2025-01-15T10:00:04Z', type: 'text', text: 'hello' });
    await sendWhatsApp(t, { id: 'w2', from: C, to: Y, ts: '2025-01-15T10:00:05Z', type: 'image', text: 'look' });
    await sendWhatsApp(t, { id: 'w3', from: C, to: X, ts: '2025-01-15T10:00:06Z', type: 'location' });
    await sendWhatsApp(t, { id: 'w4', from: A, to: X, ts: '2025-01-15T10:00:07Z', type: 'image' });
  }

  it('matches to exactly: the recipient, never the sender, never a prefix', async () => {
    const t = app();
    await seed(t);
    for (const to of [encodeURIComponent(X), '+14155550100', '%2014155550100']) {
      expect(await list(t, `?to=${to}`), to).toMatchObject({ total: 3 });
      expect(await ids(t, `?to=${to}`), to).toEqual(['c1', 'w3', 'w4']);
    }
    expect(await ids(t, `?to=${encodeURIComponent(Y)}`)).toEqual(['c4', 'w1', 'w2']);
    expect(await ids(t, `?to=${encodeURIComponent(A)}`)).toEqual(['c2']);
    expect(await ids(t, '?to=%2B141555501000')).toEqual(['c3']);
    expect(await list(t, '?to=%2B1415555010')).toMatchObject({ data: [], total: 0 });
    expect(await list(t, '?to=%2B1')).toMatchObject({ data: [], total: 0 });
    expect(await ids(t, `?to=${encodeURIComponent(X)}&order=desc`)).toEqual(['w4', 'w3', 'c1']);
  });

  it('refuses a to that is not + and 1 to 15 digits, naming to', async () => {
    const t = app();
    for (const to of [
      '14155550100',
      '%2B',
      '%2B1234567890123456',
      'abc',
      '',
      '%2B1415-555',
      '%2B1%20415',
      '%20%2014155550100',
      '%2B14155550100%20',
    ]) {
      await expectInvalid(t, `/messages?to=${to}`, 'to');
    }
  });

  it("matches type exactly against the provider's type; core-form messages never match", async () => {
    const t = app();
    await seed(t);
    expect(await list(t, '?type=text')).toMatchObject({ total: 1, data: [{ message_id: 'w1' }] });
    expect(await ids(t, '?type=image')).toEqual(['w2', 'w4']);
    expect(await ids(t, '?type=image&order=desc')).toEqual(['w4', 'w2']);
    expect(await ids(t, '?type=location')).toEqual(['w3']);
    for (const type of ['TEXT', 'Text', 'tex', 'ext', 'images', 'null', 'spec', 'core', 'x'.repeat(512)]) {
      expect(await list(t, `?type=${type}`), type).toMatchObject({ data: [], total: 0 });
    }
    // The list says what each message's type is: null for the core form, even with a "type" body field.
    const typed = await list(t, '?include=type&limit=100');
    expect(typed.data.map((m) => [m.message_id, m.type])).toEqual([
      ['c1', null],
      ['c2', null],
      ['c3', null],
      ['c4', null],
      ['w1', 'text'],
      ['w2', 'image'],
      ['w3', 'location'],
      ['w4', 'image'],
    ]);
  });

  it('refuses an empty, too long or NUL-holding type, naming type', async () => {
    const t = app();
    for (const type of ['', 'x'.repeat(513), encodeURIComponent('é'.repeat(513)), 'a%00b']) {
      await expectInvalid(t, `/messages?type=${type}`, 'type');
    }
    expect((await t.app.inject({ method: 'GET', url: `/messages?type=${encodeURIComponent('é'.repeat(512))}` })).statusCode).toBe(
      200,
    );
  });
});

describe('GET /messages: every combination of filters, in both orders, by offset and by cursor', () => {
  const app = useTestApp(ENV);
  const names = Object.keys(FILTERS) as (keyof Filters)[];

  async function checkAllCombinations(t: TestApp, order: 'asc' | 'desc'): Promise<void> {
    const sent = await seedInbox(t);
    let nonEmpty = 0;
    for (let mask = 0; mask < 1 << names.length; mask++) {
      const filters: Filters = {};
      for (const [i, name] of names.entries()) if (mask & (1 << i)) filters[name] = FILTERS[name];
      const expected = reference(sent, filters, order);
      if (expected.length > 0) nonEmpty++;
      const label = `${order} ${JSON.stringify(filters)}`;
      const params = { ...filters, ...(order === 'desc' || mask % 2 === 1 ? { order } : {}) };

      const whole = await list(t, query({ ...params, limit: '100' }));
      expect(
        whole.data.map((m) => m.message_id),
        label,
      ).toEqual(expected);
      expect(whole.total, label).toBe(expected.length);

      const byOffset = await walkOffset(t, params, 4);
      expect(byOffset.ids, label).toEqual(expected);
      for (const total of byOffset.totals) expect(total, label).toBe(expected.length);

      const byCursor = await walkCursor(t, params, 4);
      expect(byCursor.ids, label).toEqual(expected);
      for (const total of byCursor.totals) expect(total, label).toBe(expected.length);
    }
    // The data make the combinations mean something: most of them select messages.
    expect(nonEmpty).toBeGreaterThan(40);
  }

  it('ascending', async () => {
    await checkAllCombinations(app(), 'asc');
  });

  it('descending', async () => {
    await checkAllCombinations(app(), 'desc');
  });

  it('the filters do select: each alone keeps a proper part of the inbox', async () => {
    const t = app();
    const sent = await seedInbox(t);
    for (const name of names) {
      const count = reference(sent, { [name]: FILTERS[name] }, 'asc').length;
      expect(count, name).toBeGreaterThan(0);
      expect(count, name).toBeLessThan(sent.length);
      expect((await list(t, query({ [name]: FILTERS[name] }))).total, name).toBe(count);
    }
  });
});

describe('GET /messages: cursor', () => {
  const app = useTestApp(ENV);

  async function seedTies(t: TestApp, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const ts = ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.000Z', '2025-01-15T10:00:00.5Z', '2025-01-15T10:00:01Z'][i % 4];
      await sendCore(t, message({ message_id: `k${String((i * 7) % count).padStart(2, '0')}`, ts, from: i % 3 === 0 ? B : A }));
    }
  }

  it('gives next_cursor only to keyset requests, null on the last page even when it is full', async () => {
    const t = app();
    await seedTies(t, 12);
    expect(Object.keys(await list(t, '?limit=4'))).not.toContain('next_cursor');
    for (const order of ['asc', 'desc']) {
      const walk = await walkCursor(t, { order }, 4);
      expect(walk.sizes, order).toEqual([4, 4, 4]);
      expect(walk.ids, order).toEqual(await ids(t, `?order=${order}&limit=100`));
      const single = await list(t, `?order=${order}&limit=12&cursor=`);
      expect(single.data, order).toHaveLength(12);
      expect(single.next_cursor, order).toBeNull();
    }
    expect(await list(t, '?cursor=&from=%2B1')).toEqual({ data: [], total: 0, limit: 50, offset: 0, next_cursor: null });
  });

  it('continues the same listing with another limit or include, and refuses it with another order or filter', async () => {
    const t = app();
    await seedTies(t, 12);
    const first = await list(t, `?order=desc&from=${encodeURIComponent(A)}&limit=3&cursor=`);
    const cursor = encodeURIComponent(String(first.next_cursor));
    const all = await ids(t, `?order=desc&from=${encodeURIComponent(A)}&limit=100`);
    expect(first.data.map((m) => m.message_id)).toEqual(all.slice(0, 3));
    const more = await list(t, `?order=desc&from=%2B919876543210&limit=5&include=type,raw&cursor=${cursor}`);
    expect(more.data.map((m) => m.message_id)).toEqual(all.slice(3, 8));
    expect(Object.keys(more.data[0] ?? {})).toEqual([...CORE_KEYS, 'type', 'raw']);
    // The + sent raw (read as a space, then as +) names the same listing.
    expect(await ids(t, `?order=desc&from=+919876543210&limit=3&cursor=${cursor}`)).toEqual(all.slice(3, 6));
    for (const other of [
      `?order=asc&from=${encodeURIComponent(A)}`,
      `?from=${encodeURIComponent(A)}`,
      `?order=desc&from=${encodeURIComponent(B)}`,
      '?order=desc',
      `?order=desc&from=${encodeURIComponent(A)}&to=${encodeURIComponent(X)}`,
      `?order=desc&from=${encodeURIComponent(A)}&type=text`,
      `?order=desc&from=${encodeURIComponent(A)}&q=hello`,
      `?order=desc&from=${encodeURIComponent(A)}&since=2025-01-15T10:00:00Z`,
      `?order=desc&from=${encodeURIComponent(A)}&until=2025-01-16T00:00:00Z`,
    ]) {
      await expectInvalid(t, `/messages${other}&cursor=${cursor}`, 'cursor');
    }
  });

  it('refuses a cursor reused with another since, until, to, type or q', async () => {
    const t = app();
    await seedTies(t, 8);
    const wide = { since: '2025-01-15T10:00:00Z', until: '2025-01-15T10:00:01Z', to: X, q: 'hello' };
    const page = await list(t, `${query({ ...wide, limit: '1' })}&cursor=`);
    expect(page.total).toBeGreaterThan(1);
    const cursor = String(page.next_cursor);
    expect((await list(t, `${query({ ...wide, limit: '1', cursor })}`)).data).toHaveLength(1);
    for (const changed of [
      { ...wide, since: '2025-01-15T10:00:00.001Z' },
      { ...wide, until: '2025-01-15T10:00:01.5Z' },
      { ...wide, to: Y },
      { ...wide, q: 'Hello' },
      { ...wide, type: 'text' },
      { since: wide.since, until: wide.until, to: wide.to },
    ]) {
      await expectInvalid(t, `/messages${query({ ...changed, cursor })}`, 'cursor');
    }
  });

  it('refuses a cursor it did not make, and one from another endpoint, naming cursor', async () => {
    const t = app();
    await seedTies(t, 6);
    for (const cursor of [
      'garbage',
      'not%20a%20cursor',
      '%2A%2A%2A',
      Buffer.from('["2025-01-15T10:00:00","k01"]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('hello').toString('base64url'),
    ]) {
      await expectInvalid(t, `/messages?cursor=${cursor}`, 'cursor');
    }
    const conversations = await t.app.inject({ method: 'GET', url: '/conversations?limit=1' });
    expect(conversations.statusCode).toBe(200);
    // Two conversations (A→X and B→X): the first page has a next one.
    const conversationCursor = conversations.json<{ next_cursor: string | null }>().next_cursor;
    expect(typeof conversationCursor).toBe('string');
    await expectInvalid(t, `/messages?cursor=${encodeURIComponent(String(conversationCursor))}`, 'cursor');
    await expectInvalid(t, '/messages?cursor=&offset=3', 'offset');
  });
});

describe('GET /messages: include', () => {
  const app = useTestApp(ENV);

  const coreBody = message({
    message_id: 'core',
    ts: '2025-01-15T10:00:00Z',
    text: 'Hello',
    priority: 'high',
    nested: { a: [1, 2] },
  });
  const standardBody = message({ message_id: 'std', ts: '2025-01-15T10:00:01Z', text: null, note: 'from a relay' });
  const wa: WhatsAppMessage = {
    id: 'wamid.reply',
    from: C,
    to: Y,
    ts: '2025-01-15T10:00:02Z',
    type: 'text',
    text: 'Yes please',
    contactName: 'Asha Rao',
    replyTo: 'wamid.original',
  };

  async function seed(t: TestApp): Promise<void> {
    await sendCore(t, coreBody);
    await sendStandard(t, standardBody);
    await sendWhatsApp(t, wa);
  }

  it('adds the named keys after the five core keys, in the canonical order whatever the order asked', async () => {
    const t = app();
    await seed(t);
    const all = 'raw,phone_number_id,reply_to,contact_name,received_at,source,type';
    const body = await list(t, `?include=${all}`);
    expect(Object.keys(body).sort()).toEqual(['data', 'limit', 'offset', 'total']);
    for (const item of body.data) expect(Object.keys(item)).toEqual([...CORE_KEYS, ...INCLUDABLE]);

    const [core, std, whatsapp] = body.data;
    expect(core).toMatchObject({
      message_id: 'core',
      type: null,
      source: 'spec',
      contact_name: null,
      reply_to: null,
      phone_number_id: null,
    });
    expect(std).toMatchObject({
      message_id: 'std',
      text: null,
      type: null,
      source: 'standard',
      contact_name: null,
      reply_to: null,
      phone_number_id: null,
    });
    expect(whatsapp).toMatchObject({
      message_id: 'wamid.reply',
      from: C,
      to: Y,
      text: 'Yes please',
      type: 'text',
      source: 'whatsapp',
      contact_name: 'Asha Rao',
      reply_to: 'wamid.original',
      phone_number_id: PHONE_NUMBER_ID,
    });
    // raw is what was sent, every field, nothing added.
    expect(core?.raw).toEqual(coreBody);
    expect(std?.raw).toEqual(standardBody);
    expect(whatsapp?.raw).toEqual(whatsappItem(wa));
    for (const item of body.data) {
      expect(String(item.received_at)).toMatch(ISO_UTC);
      // The list says what the message's own page says.
      const detail = await t.app.inject({ method: 'GET', url: `/messages/${encodeURIComponent(item.message_id)}` });
      expect(detail.statusCode).toBe(200);
      const d = detail.json<Record<string, unknown>>();
      for (const key of [...CORE_KEYS, ...INCLUDABLE]) expect(item[key], `${item.message_id} ${key}`).toEqual(d[key]);
    }
  });

  it.each([
    ['type', ['type']],
    ['raw,type', ['type', 'raw']],
    ['contact_name', ['contact_name']],
    ['reply_to,source', ['source', 'reply_to']],
    ['received_at,phone_number_id', ['received_at', 'phone_number_id']],
    ['', []],
  ])('include=%s adds exactly %j', async (include, added) => {
    const t = app();
    await seed(t);
    for (const search of [`?include=${include}`, `?include=${include}&order=desc&cursor=`, `?include=${include}&type=text`]) {
      const body = await list(t, search);
      expect(body.data.length, search).toBeGreaterThan(0);
      for (const item of body.data) expect(Object.keys(item), search).toEqual([...CORE_KEYS, ...added]);
    }
  });

  it('refuses an unknown name, naming include', async () => {
    const t = app();
    for (const include of [
      'foo',
      'type,foo',
      'Type',
      'TYPE',
      'statuses',
      'message_id',
      'text',
      'type,',
      ',raw',
      'type%20',
      'type;raw',
      '*',
    ]) {
      await expectInvalid(t, `/messages?include=${include}`, 'include');
    }
  });
});

describe('GET /messages: repeated parameters', () => {
  const app = useTestApp(ENV);

  it('refuses any parameter given twice, naming it', async () => {
    const t = app();
    await sendCore(t, message());
    for (const [name, a, b] of [
      ['order', 'desc', 'desc'],
      ['order', 'asc', 'desc'],
      ['until', '2025-01-16T00:00:00Z', '2025-01-17T00:00:00Z'],
      ['to', '%2B14155550100', '%2B14155550100'],
      ['type', 'text', 'image'],
      ['include', 'type', 'raw'],
      ['cursor', '', ''],
      ['since', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z'],
      ['from', '%2B919876543210', '%2B1'],
      ['q', 'a', 'b'],
      ['limit', '1', '2'],
      ['offset', '0', '0'],
    ]) {
      await expectInvalid(t, `/messages?${name}=${a}&${name}=${b}`, String(name));
    }
  });

  it('names every bad parameter of one request', async () => {
    const t = app();
    const res = await t.app.inject({ method: 'GET', url: '/messages?order=up&until=later&to=1&type=&include=nope&cursor=x' });
    expect(res.statusCode).toBe(422);
    expectValidationShape(res);
    expect(failingLocations(res)).toEqual(
      expect.arrayContaining(['query.order', 'query.until', 'query.to', 'query.type', 'query.include', 'query.cursor']),
    );
  });
});

describe('GET /messages with API_TOKEN', () => {
  const app = useTestApp({ ...ENV, API_TOKEN: 'reader-token' });

  it('refuses the inbox parameters without the token (401 before any 422), serves them with it', async () => {
    const t = app();
    await sendCore(t, message());
    for (const search of [
      '?order=desc',
      '?include=raw',
      '?to=%2B14155550100&type=text&until=2026-01-01T00:00:00Z',
      '?include=bogus',
      '?order=x',
      '?cursor=',
    ]) {
      const res = await t.app.inject({ method: 'GET', url: `/messages${search}` });
      expect(res.statusCode, search).toBe(401);
      expect(res.body).not.toContain('+919876543210');
    }
    const ok = await t.app.inject({
      method: 'GET',
      url: '/messages?order=desc&include=raw',
      headers: { authorization: 'Bearer reader-token' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json<Listing>().data[0]?.raw).toEqual(message());
    const bad = await t.app.inject({
      method: 'GET',
      url: '/messages?include=bogus',
      headers: { authorization: 'Bearer reader-token' },
    });
    expect(bad.statusCode).toBe(422);
  });
});

describe('GET /messages without API_TOKEN', () => {
  const app = useTestApp(ENV);

  it('serves the inbox parameters to anyone', async () => {
    const t = app();
    await sendCore(t, message());
    const res = await t.app.inject({ method: 'GET', url: '/messages?order=desc&include=raw,type&cursor=' });
    expect(res.statusCode).toBe(200);
    expect(res.json<Listing>()).toMatchObject({
      total: 1,
      next_cursor: null,
      data: [{ message_id: 'm1', type: null, raw: message() }],
    });
  });
});
