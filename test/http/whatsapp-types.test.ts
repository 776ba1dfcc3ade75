// What a stored message keeps besides its core fields, read back through GET /messages/{message_id}
// and GET /messages?include=…: for one WhatsApp envelope per documented message type
// (src/cli/whatsapp-examples.ts), the `messages[]` item exactly as sent, the sender's profile
// name and the message it answers; for the X-Signature and Standard Webhooks forms, the signed
// body with its unknown fields. Runs on SQLite and on PostgreSQL.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { type WhatsAppExampleName, whatsappExampleBody } from '../../src/cli/whatsapp-examples.js';
import type { TestApp } from '../helpers/app.js';
import { metaSignature, standardWebhooksHeaders, whsecSecret } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { allDeadLetters, getMessageDetail, jsonAt, message, postWebhook, useTestApp } from './support.js';

const APP_SECRET = 'meta-app-secret';
const STANDARD_SECRET = whsecSecret('standard webhooks key: origins');
const ENV = { WHATSAPP_APP_SECRET: APP_SECRET, STANDARD_WEBHOOKS_SECRET: STANDARD_SECRET };
const OK = { status: 'ok' };
const BUSINESS = '+15550783881';

const CORE_KEYS = ['from', 'message_id', 'text', 'to', 'ts'];
const EXTRA_KEYS = ['contact_name', 'raw', 'received_at', 'reply_to', 'source', 'type'];
const DETAIL_KEYS = [...CORE_KEYS, ...EXTRA_KEYS, 'statuses'].sort();
const LIST_KEYS = [...CORE_KEYS, ...EXTRA_KEYS].sort();
const INCLUDE_ALL = 'raw,contact_name,reply_to,source,type,received_at';
const PHONE_NUMBER_ID = '106540352242922';
/** ISO-8601 UTC with Z, as C.1 asks of received_at. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

interface Detail {
  message_id: string;
  from: string | null;
  to: string | null;
  ts: string | null;
  text: string | null;
  type: string | null;
  source: string;
  received_at: string;
  raw: unknown;
  contact_name: string | null;
  reply_to: string | null;
  statuses: unknown[];
}

type ListItem = Omit<Detail, 'statuses'>;

/**
 * The detail has every key of C.1 and the statuses. The only other key it may add is the business
 * number's id, which must then be the one the message was sent to (null for the core form).
 */
function expectDetailKeys(detail: Detail, phoneNumberId: string | null): void {
  const keys = Object.keys(detail);
  expect(keys).toEqual(expect.arrayContaining(DETAIL_KEYS));
  const others = keys.filter((key) => !DETAIL_KEYS.includes(key));
  expect(others.filter((key) => key !== 'phone_number_id')).toEqual([]);
  if (others.length > 0) expect(jsonAt(detail, 'phone_number_id')).toBe(phoneNumberId);
}

/** The keys a list item with every include has, taken from a detail. */
function asListItem(detail: Detail): Record<string, unknown> {
  return Object.fromEntries(LIST_KEYS.map((key) => [key, jsonAt(detail, key)]));
}

interface ListBody {
  data: ListItem[];
  total: number;
}

/** What each fixture's message reads back as, besides its item; in timestamp order. */
interface TypeCase {
  readonly file: WhatsAppExampleName;
  readonly type: string;
  readonly text: string | null;
  readonly contactName: string | null;
  readonly replyTo: string | null;
}

const TYPE_CASES: readonly TypeCase[] = [
  {
    file: 'text',
    type: 'text',
    text: 'Hi! Do you deliver to Cork? 🚚 Ich zahle gern per Überweisung.',
    contactName: 'Zoë O’Brien',
    replyTo: null,
  },
  {
    file: 'text-reply-context',
    type: 'text',
    text: 'Sim, pode ser às 15h 👍',
    contactName: 'João Conceição',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDU4RjMyQjgyQ0Y1MzFBNjFDRUQyNjc2OUMzNUU1OTE2AA==',
  },
  {
    file: 'image',
    type: 'image',
    text: 'So kam das Paket an – die Ecke ist eingedrückt',
    contactName: 'Jürgen Groß',
    replyTo: null,
  },
  { file: 'video', type: 'video', text: 'Voilà le bruit que fait la machine 🎥', contactName: 'Élodie Lefèvre', replyTo: null },
  { file: 'audio', type: 'audio', text: null, contactName: '佐藤 花子', replyTo: null },
  {
    file: 'document',
    type: 'document',
    text: 'Factura de enero, ¿pueden revisarla?',
    contactName: 'Martín Núñez',
    replyTo: null,
  },
  { file: 'sticker', type: 'sticker', text: null, contactName: 'Çağla Yılmaz', replyTo: null },
  { file: 'location', type: 'location', text: null, contactName: 'Asha Rao', replyTo: null },
  { file: 'contacts', type: 'contacts', text: null, contactName: 'Chloé Nguyễn', replyTo: null },
  {
    file: 'interactive-button-reply',
    type: 'interactive',
    text: null,
    contactName: 'Małgorzata Wójcik',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDc3MTJGNTM4MEIyQkM5QkZCRjM4NDhGQjMyN0I3OUYzAA==',
  },
  {
    file: 'interactive-list-reply',
    type: 'interactive',
    text: null,
    contactName: 'Алексей Смирнов',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDRCRDRDN0U3ODIwRkMzMDE1OTYyQUUwN0UxMDc1RDU0AA==',
  },
  {
    file: 'button',
    type: 'button',
    text: null,
    contactName: 'محمد علي',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDZGQTgwRUY3MzQ0NkMxQTFDRTEyOEY4MzA1QTE3QUNFAA==',
  },
  { file: 'reaction', type: 'reaction', text: null, contactName: '김민준', replyTo: null },
  { file: 'order', type: 'order', text: null, contactName: 'Chiamaka Obi', replyTo: null },
  {
    file: 'system',
    type: 'system',
    text: 'User Renée Dubé changed from 16505551234 to 16505559876',
    contactName: null,
    replyTo: null,
  },
  { file: 'unsupported', type: 'unsupported', text: null, contactName: 'Siti Nurhaliza', replyTo: null },
];

/** The raw bytes of a fixture, exactly as they are posted. */
function fixtureBytes(file: WhatsAppExampleName): Buffer {
  return whatsappExampleBody(file);
}

/** The one `messages[]` item a fixture carries. */
function itemOf(bytes: Buffer): Record<string, unknown> {
  const item = jsonAt(JSON.parse(bytes.toString('utf8')), 'entry', 0, 'changes', 0, 'value', 'messages', 0);
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error('fixture without a message item');
  return item as Record<string, unknown>;
}

/** POST /webhook signed as Meta signs: X-Hub-Signature-256 over exactly these bytes. */
function postEnvelope(t: TestApp, body: Buffer | object): Promise<LightMyRequestResponse> {
  const raw = Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
}

async function detailOf(t: TestApp, messageId: string): Promise<Detail> {
  const res = await getMessageDetail(t, messageId);
  if (res.statusCode !== 200) throw new Error(`GET /messages/${messageId} answered ${res.statusCode}: ${res.body}`);
  return res.json<Detail>();
}

async function list(t: TestApp, query: string): Promise<ListBody> {
  const res = await t.app.inject({ method: 'GET', url: `/messages${query}` });
  if (res.statusCode !== 200) throw new Error(`GET /messages${query} answered ${res.statusCode}: ${res.body}`);
  return res.json<ListBody>();
}

/** `raw` as answered is the value sent: deep-equal, and the same JSON byte for byte. */
function expectRaw(answered: unknown, sent: unknown): void {
  expect(answered).toEqual(sent);
  expect(JSON.stringify(answered)).toBe(JSON.stringify(sent));
}

/**
 * received_at is ISO-8601 UTC with Z and names an instant inside the request that stored the
 * message. `before` is taken down to its whole second, so a store that keeps seconds only passes.
 */
function expectReceivedWithin(receivedAt: string, before: number, after: number): void {
  expect(receivedAt).toMatch(ISO_UTC);
  const instant = Date.parse(receivedAt);
  expect(Number.isNaN(instant)).toBe(false);
  expect(instant).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  expect(instant).toBeLessThanOrEqual(after);
}

/** The ts a WhatsApp item's Unix-seconds timestamp reads as. */
function tsOf(item: Record<string, unknown>): string {
  return `${new Date(Number(item.timestamp) * 1000).toISOString().slice(0, 19)}Z`;
}

describe('GET /messages/{message_id}: every documented WhatsApp message type, as it was sent', () => {
  const app = useTestApp(ENV);

  it.each(TYPE_CASES)('$file: raw is the item byte for byte as JSON, with source, contact name and reply_to', async (c) => {
    const t = app();
    const bytes = fixtureBytes(c.file);
    const item = itemOf(bytes);
    const before = Date.now();
    const res = await postEnvelope(t, bytes);
    const after = Date.now();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);

    const detail = await detailOf(t, String(item.id));
    expectDetailKeys(detail, PHONE_NUMBER_ID);
    expect(detail).toMatchObject({
      message_id: item.id,
      from: `+${String(item.from)}`,
      to: BUSINESS,
      ts: tsOf(item),
      text: c.text,
      type: c.type,
      source: 'whatsapp',
      contact_name: c.contactName,
      reply_to: c.replyTo,
      statuses: [],
    });
    expect(c.replyTo).toBe(jsonAt(item, 'context', 'id') ?? null);
    expectRaw(detail.raw, item);
    expectReceivedWithin(detail.received_at, before, after);
  });
});

describe('GET /messages?include=…: the same keys on list items, only when asked for', () => {
  const app = useTestApp(ENV);

  /** Posts every fixture in order; answers each item with the instants around its delivery. */
  async function postAll(t: TestApp): Promise<{ item: Record<string, unknown>; before: number; after: number }[]> {
    const sent: { item: Record<string, unknown>; before: number; after: number }[] = [];
    for (const c of TYPE_CASES) {
      const bytes = fixtureBytes(c.file);
      const before = Date.now();
      const res = await postEnvelope(t, bytes);
      const after = Date.now();
      expect(res.statusCode, c.file).toBe(200);
      sent.push({ item: itemOf(bytes), before, after });
    }
    return sent;
  }

  it(`include=${INCLUDE_ALL}: each item has the five keys and the six asked for, equal to its detail`, async () => {
    const t = app();
    const sent = await postAll(t);
    const page = await list(t, `?include=${INCLUDE_ALL}&limit=100`);
    expect(page.total).toBe(TYPE_CASES.length);
    expect(page.data.map((m) => m.message_id)).toEqual(sent.map((s) => s.item.id));

    for (const [i, c] of TYPE_CASES.entries()) {
      const got = page.data[i];
      const want = sent[i];
      if (got === undefined || want === undefined) throw new Error(`no list item for ${c.file}`);
      expect(Object.keys(got).sort(), c.file).toEqual(LIST_KEYS);
      expect(got, c.file).toMatchObject({
        from: `+${String(want.item.from)}`,
        to: BUSINESS,
        ts: tsOf(want.item),
        text: c.text,
        type: c.type,
        source: 'whatsapp',
        contact_name: c.contactName,
        reply_to: c.replyTo,
      });
      expectRaw(got.raw, want.item);
      expectReceivedWithin(got.received_at, want.before, want.after);
      expect(got, c.file).toEqual(asListItem(await detailOf(t, got.message_id)));
    }
  });

  it('without include, items have exactly the five core keys', async () => {
    const t = app();
    const sent = await postAll(t);
    const page = await list(t, '?limit=100');
    expect(page.data).toEqual(
      sent.map(({ item }, i) => ({
        message_id: item.id,
        from: `+${String(item.from)}`,
        to: BUSINESS,
        ts: tsOf(item),
        text: TYPE_CASES[i]?.text,
      })),
    );
    for (const m of page.data) expect(Object.keys(m).sort()).toEqual(CORE_KEYS);
  });

  it('a subset adds just those keys, in any order', async () => {
    const t = app();
    const sent = await postAll(t);
    const replies = await list(t, '?include=reply_to,raw&limit=100');
    for (const [i, m] of replies.data.entries()) {
      expect(Object.keys(m).sort()).toEqual([...CORE_KEYS, 'raw', 'reply_to'].sort());
      expect(m.reply_to).toBe(TYPE_CASES[i]?.replyTo);
      expectRaw(m.raw, sent[i]?.item);
    }
    const names = await list(t, '?include=contact_name&limit=100');
    expect(names.data.map((m) => m.contact_name)).toEqual(TYPE_CASES.map((c) => c.contactName));
    for (const m of names.data) expect(Object.keys(m).sort()).toEqual([...CORE_KEYS, 'contact_name'].sort());
  });
});

describe('the core form keeps its signed body: source spec or standard', () => {
  const app = useTestApp(ENV);
  const extra = {
    campaign: { id: 'spring-2025', tags: ['früh', 'ñ', '🌸'], weight: 0.25, active: true, owner: null },
    priority: 3,
  };

  it('X-Signature: source spec, raw is the body object with its unknown fields, no name, no reply', async () => {
    const t = app();
    const body = message({ message_id: 'spec-extra-1', text: 'Grüße 👋', ...extra });
    const before = Date.now();
    const res = await t.postSigned(body);
    const after = Date.now();
    expect(res.statusCode).toBe(200);

    const detail = await detailOf(t, 'spec-extra-1');
    expectDetailKeys(detail, null);
    expect(detail).toMatchObject({
      message_id: 'spec-extra-1',
      from: '+919876543210',
      to: '+14155550100',
      ts: '2025-01-15T10:00:00Z',
      text: 'Grüße 👋',
      type: null,
      source: 'spec',
      contact_name: null,
      reply_to: null,
      statuses: [],
    });
    expectRaw(detail.raw, body);
    expectReceivedWithin(detail.received_at, before, after);

    const page = await list(t, `?include=${INCLUDE_ALL}`);
    expect(page.data).toEqual([asListItem(detail)]);
  });

  it('Standard Webhooks: source standard, raw is the body object with its unknown fields', async () => {
    const t = app();
    const body = message({ message_id: 'standard-extra-1', text: null, ...extra });
    const raw = JSON.stringify(body);
    const res = await postWebhook(t, raw, standardWebhooksHeaders(STANDARD_SECRET, raw));
    expect(res.statusCode).toBe(200);

    const detail = await detailOf(t, 'standard-extra-1');
    expectDetailKeys(detail, null);
    expect(detail).toMatchObject({ source: 'standard', type: null, text: null, contact_name: null, reply_to: null });
    expectRaw(detail.raw, body);
    expect((await list(t, '?include=source,raw')).data).toEqual([
      {
        message_id: 'standard-extra-1',
        from: '+919876543210',
        to: '+14155550100',
        ts: '2025-01-15T10:00:00Z',
        text: null,
        source: 'standard',
        raw: body,
      },
    ]);
  });
});

describe('a WhatsApp item nested too deep to keep whole', () => {
  const app = useTestApp(ENV);

  function nested(levels: number): unknown {
    let value: unknown = 'bottom';
    for (let i = 0; i < levels; i++) value = { deeper: value };
    return value;
  }

  it('answers 200, stores its sibling whole, and lists the deep one as a dead letter with its reason', async () => {
    const t = app();
    const deep = {
      from: '447700900123',
      id: 'wamid.too-deep',
      timestamp: '1739003000',
      type: 'text',
      text: { body: 'deep' },
      extra: nested(100),
    };
    const sibling = itemOf(fixtureBytes('text'));
    const envelope = whatsappEnvelope({ messages: [deep, sibling] });
    const res = await postEnvelope(t, envelope);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);

    const page = await list(t, '?include=raw,source');
    expect(page.data.map((m) => m.message_id)).toEqual([sibling.id]);
    expect(page.data[0]?.source).toBe('whatsapp');
    expectRaw(page.data[0]?.raw, sibling);
    expect((await getMessageDetail(t, 'wamid.too-deep')).statusCode).toBe(404);

    const letters = await allDeadLetters(t);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ source: 'whatsapp', kind: 'message', item_id: 'wamid.too-deep' });
    expect(letters[0]?.reason).toContain('cannot be kept whole');
    expect(jsonAt(letters[0]?.item, 'id')).toBe('wamid.too-deep');
  });
});
