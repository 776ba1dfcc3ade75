// Property-based tests of the whole HTTP surface through app.inject, with every webhook scheme
// configured: random bodies under random signature headers, and random query strings, never get
// a 5xx, and nothing is stored unless the request was correctly signed, in which case what is
// stored is what was sent. Each property runs on one app, so its store accumulates across runs;
// the checks compare the store before and after each request.

import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { TEST_SECRET, type TestApp } from '../helpers/app.js';
import { hmacHex, metaSignature, standardWebhooksHeaders, whsecSecret } from '../helpers/sign.js';
import {
  allDeadLetters,
  allMessages,
  type DeadLetterItem,
  getDeadLetters,
  getStats,
  type MessageItem,
  useTestApp,
} from './support.js';

const APP_SECRET = 'fuzz-app-secret';
const VERIFY_TOKEN = 'fuzz-verify';
const STANDARD_SECRET = whsecSecret('fuzz standard-webhooks key');
const ENV = {
  WHATSAPP_APP_SECRET: APP_SECRET,
  WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
  STANDARD_WEBHOOKS_SECRET: STANDARD_SECRET,
  // Shedding would make a 503 legitimate; these properties are about everything else.
  MAX_EVENT_LOOP_DELAY_MS: '0',
};
const SEED = 20250115;
const RUNS = 150;
const PROPERTY_TIMEOUT_MS = 180_000;

type Json = Record<string, unknown>;

// --- bodies -----------------------------------------------------------------------------------

const anyText = fc.string({ unit: 'binary', maxLength: 24 });
const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
const unixSeconds = fc.integer({ min: 0, max: 2_000_000_000 });

/**
 * Usually `valid`, sometimes one of the broken alternatives: a body has several such fields, and
 * most bodies should still be valid, or the storing paths would hardly ever be reached.
 */
function mostly<T>(valid: fc.Arbitrary<T>, ...broken: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: 8 * Math.max(1, broken.length) }, ...broken);
}

const specFields = {
  message_id: mostly<unknown>(
    fc.constantFrom('m1', 'm2', 'm3', 'wamid.a', 'ünï 😀'),
    anyText,
    fc.constantFrom('', null, 7, 'm\u00001', 'x'.repeat(513)),
  ),
  from: mostly<unknown>(
    fc.constantFrom('+919876543210', '+1', '+14155550100'),
    digits(1, 16).map((d) => `+${d}`),
    anyText,
  ),
  to: mostly<unknown>(
    fc.constant('+14155550100'),
    digits(0, 16).map((d) => `+${d}`),
    anyText,
  ),
  ts: mostly<unknown>(
    fc.constantFrom('2025-01-15T10:00:00Z', '2024-02-29T23:59:59.5Z', '2025-01-15T10:00:00.000Z'),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom('2025-02-30T10:00:00Z', '2025-01-15 10:00:00Z', '2025-01-15T10:00:00+01:00', 1736935200),
    anyText,
  ),
  text: mostly<unknown>(
    fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constant(null)),
    fc.constantFrom(42, 'a'.repeat(4097), 'nul\u0000'),
    anyText,
  ),
  extra: fc.jsonValue({ maxDepth: 2 }),
};
/** Mostly complete, so that many are valid; sometimes with any fields missing. */
const specMessage: fc.Arbitrary<Json> = mostly<Json>(
  fc.record(specFields, { requiredKeys: ['message_id', 'from', 'to', 'ts'] }),
  fc.record(specFields, { requiredKeys: [] }),
);

const waMessage = mostly<unknown>(
  fc.record(
    {
      from: mostly<unknown>(fc.constantFrom('919876543210', '447700900123'), digits(0, 16), anyText),
      id: mostly<unknown>(fc.constantFrom('wamid.a', 'wamid.b', 'wamid.c', 'm1'), anyText, fc.constantFrom('', 5, null)),
      timestamp: mostly<unknown>(
        fc.oneof(unixSeconds.map(String), unixSeconds),
        fc.constantFrom('-1', '1.5', 1.5, '', '999999999999999999999', -1),
        anyText,
      ),
      type: mostly<unknown>(
        fc.constantFrom('text', 'image', 'document', 'system', 'reaction', 'unsupported'),
        fc.constantFrom('', 3),
      ),
      text: mostly<unknown>(
        fc.record({ body: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
        fc.record({ body: anyText }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      image: fc.record({ caption: fc.string({ unit: 'grapheme', maxLength: 20 }) }, { requiredKeys: [] }),
      system: fc.record({ body: fc.string({ maxLength: 20 }) }),
    },
    { requiredKeys: ['id', 'from', 'timestamp', 'type', 'text'] },
  ),
  fc.record({ id: anyText, from: anyText, timestamp: anyText }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 2 }),
);

const waStatus = mostly<unknown>(
  fc.record(
    {
      id: mostly<unknown>(fc.constantFrom('wamid.a', 'wamid.out', 'm1'), anyText),
      status: mostly<unknown>(fc.constantFrom('sent', 'delivered', 'read', 'failed'), fc.constantFrom('deleted', 'READ', '', 1)),
      timestamp: mostly<unknown>(fc.oneof(unixSeconds.map(String), unixSeconds), anyText),
      recipient_id: mostly<unknown>(fc.oneof(digits(1, 15), fc.constant(null)), anyText, fc.integer()),
      errors: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['id', 'status', 'timestamp'] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

const waValue = mostly<unknown>(
  fc.record(
    {
      metadata: mostly<unknown>(
        fc.record({ display_phone_number: fc.constantFrom('15550783881', '+1 (555) 078-3881') }),
        fc.record({ display_phone_number: anyText }, { requiredKeys: [] }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      messages: mostly<unknown>(fc.array(waMessage, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      statuses: mostly<unknown>(fc.array(waStatus, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    },
    { requiredKeys: ['metadata'] },
  ),
  fc.jsonValue({ maxDepth: 1 }),
);

const waChange = mostly<unknown>(
  fc.record(
    { field: mostly<unknown>(fc.constant('messages'), fc.constantFrom('account_update', '', 7)), value: waValue },
    { requiredKeys: ['field', 'value'] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

const waEntry = mostly<unknown>(
  fc.record({ id: fc.constant('102290129340398'), changes: fc.array(waChange, { maxLength: 3 }) }),
  fc.jsonValue({ maxDepth: 2 }),
);

const waEnvelope: fc.Arbitrary<Json> = fc.record(
  {
    object: mostly<unknown>(fc.constant('whatsapp_business_account'), fc.constantFrom('page', ''), anyText),
    entry: mostly<unknown>(fc.array(waEntry, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
  },
  { requiredKeys: ['object', 'entry'] },
);

const body: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }).map((v) => Buffer.from(JSON.stringify(v), 'utf8')),
  { arbitrary: specMessage.map((m) => Buffer.from(JSON.stringify(m), 'utf8')), weight: 3 },
  { arbitrary: waEnvelope.map((e) => Buffer.from(JSON.stringify(e), 'utf8')), weight: 3 },
);

// --- headers ----------------------------------------------------------------------------------

const hex64 = fc.stringMatching(/^[0-9a-fA-F]{64}$/);
const headerValue = fc.oneof(
  fc.string({ maxLength: 80 }),
  hex64,
  hex64.map((h) => `sha256=${h}`),
  fc.base64String({ minLength: 44, maxLength: 44 }).map((b) => `v1,${b}`),
  unixSeconds.map(String),
  fc.constant(''),
);

const HEADER_NAMES = [
  'x-signature',
  'x-hub-signature-256',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
] as const;

/** A few of the signature headers (often none), with random values; later duplicates win. */
const randomHeaders: fc.Arbitrary<Record<string, string>> = fc
  .array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue), { maxLength: 4 })
  .map((pairs) => Object.fromEntries(pairs));

/** Which scheme (if any) the generated request carries a correct signature for. */
type Signing = 'none' | 'spec' | 'whatsapp' | 'standard';

interface WebhookRequest {
  readonly raw: Buffer;
  readonly headers: Record<string, string>;
  readonly scheme: Signing;
}

const toBuffer = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
/** Signed requests usually carry no other signature header, which would decide the scheme instead. */
const fewHeaders = mostly(fc.constant<Record<string, string>>({}), randomHeaders);

/**
 * Mostly unsigned or wrongly signed requests; the rest carry a correct signature, usually over a
 * body of the kind that scheme expects, sometimes over anything.
 */
const webhookRequest: fc.Arbitrary<WebhookRequest> = fc.oneof(
  { arbitrary: fc.record({ raw: body, headers: randomHeaders, scheme: fc.constant<Signing>('none') }), weight: 6 },
  fc.record({ raw: specMessage.map(toBuffer), headers: fewHeaders, scheme: fc.constant<Signing>('spec') }),
  fc.record({ raw: specMessage.map(toBuffer), headers: fewHeaders, scheme: fc.constant<Signing>('standard') }),
  {
    arbitrary: fc.record({ raw: waEnvelope.map(toBuffer), headers: fewHeaders, scheme: fc.constant<Signing>('whatsapp') }),
    weight: 2,
  },
  fc.record({ raw: body, headers: randomHeaders, scheme: fc.constantFrom<Signing>('spec', 'whatsapp', 'standard') }),
);

function signedHeaders(scheme: Signing, raw: Buffer): Record<string, string> {
  switch (scheme) {
    case 'none':
      return {};
    case 'spec':
      return { 'x-signature': hmacHex(TEST_SECRET, raw) };
    case 'whatsapp':
      return { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) };
    case 'standard':
      return standardWebhooksHeaders(STANDARD_SECRET, raw, 'msg_fuzz');
  }
}

// --- what "stored exactly what was sent" means ---------------------------------------------------

function parseBody(raw: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every value inside parsed JSON, the value itself included. */
function* subtrees(value: unknown): Generator<unknown> {
  yield value;
  if (Array.isArray(value)) for (const v of value) yield* subtrees(v);
  else if (isObject(value)) for (const v of Object.values(value)) yield* subtrees(v);
}

/** JSON text as a comparison key: JSON itself cannot tell 0 from -0 or keep 1e400. */
function canonical(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}

function utcSeconds(timestamp: unknown): string {
  return `${new Date(Number(timestamp) * 1000).toISOString().slice(0, 19)}Z`;
}

/** Checks one message that appeared after a signed request against the body that request carried. */
function expectMessageFromBody(stored: MessageItem, sent: unknown): void {
  const label = `${JSON.stringify(stored)} from ${JSON.stringify(sent)}`.slice(0, 2000);
  if (isObject(sent) && sent.message_id === stored.message_id && !Object.hasOwn(sent, 'object')) {
    // A core-form message (X-Signature or Standard Webhooks): every field as sent.
    expect(stored, label).toEqual({
      message_id: sent.message_id,
      from: sent.from,
      to: sent.to,
      ts: sent.ts,
      text: sent.text ?? null,
    });
    return;
  }
  // A WhatsApp message: some item of the envelope has this id, sender and time.
  const candidates = [...subtrees(sent)].filter(
    (v): v is Json =>
      isObject(v) && v.id === stored.message_id && `+${String(v.from)}` === stored.from && utcSeconds(v.timestamp) === stored.ts,
  );
  expect(candidates.length, label).toBeGreaterThan(0);
  const texts = candidates.map((c) => {
    const type = typeof c.type === 'string' ? c.type : '';
    const holder = Object.hasOwn(c, type) ? c[type] : undefined;
    const source =
      type === 'text' || type === 'system' ? 'body' : ['image', 'video', 'document', 'sticker'].includes(type) ? 'caption' : null;
    const value = source !== null && isObject(holder) ? holder[source] : undefined;
    return typeof value === 'string' ? value : null;
  });
  expect(texts, label).toContain(stored.text);
  expect(stored.to, label).toMatch(/^\+[0-9]{1,15}$/);
}

function expectDeadLetterFromBody(letter: DeadLetterItem, sent: unknown): void {
  expect(letter.source).toBe('whatsapp');
  const wanted = canonical(letter.item);
  const found = [...subtrees(sent)].some((v) => canonical(v) === wanted);
  expect(found, `dead letter ${JSON.stringify(letter)} is not part of ${JSON.stringify(sent)}`.slice(0, 2000)).toBe(true);
}

interface Counts {
  readonly messages: number;
  readonly deadLetters: number;
}

async function counts(t: TestApp): Promise<Counts> {
  return { messages: (await getStats(t)).total_messages, deadLetters: (await getDeadLetters(t, '?limit=1')).total };
}

function expectNo5xx(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, `${label} → ${res.statusCode} ${res.body}`.slice(0, 2000)).toBeLessThan(500);
}

describe('property: random POST /webhook requests', () => {
  const app = useTestApp(ENV);

  it(
    'never answer 5xx, and store only what a correctly signed request sent',
    async () => {
      const t = app();
      let storingRuns = 0;
      let signedRuns = 0;
      await fc.assert(
        fc.asyncProperty(webhookRequest, async ({ raw, headers, scheme }) => {
          const finalHeaders = { ...headers, ...signedHeaders(scheme, raw) };
          const label = `${scheme} ${JSON.stringify(finalHeaders)} ${raw.toString('hex').slice(0, 400)}`;
          if (scheme === 'none') {
            const before = await counts(t);
            const res = await t.app.inject({ method: 'POST', url: '/webhook', payload: raw, headers: finalHeaders });
            expectNo5xx(res, label);
            expect(res.statusCode, label).not.toBe(200);
            expect(await counts(t), label).toEqual(before);
            return;
          }
          signedRuns++;
          const messagesBefore = new Map((await allMessagesPaged(t)).map((m) => [m.message_id, m]));
          const lettersBefore = (await allDeadLetters(t)).length;
          const res = await t.app.inject({ method: 'POST', url: '/webhook', payload: raw, headers: finalHeaders });
          expectNo5xx(res, label);
          const messagesAfter = await allMessagesPaged(t);
          const letters = await allDeadLetters(t);
          const newMessages = messagesAfter.filter((m) => !messagesBefore.has(m.message_id));
          const newLetters = letters.slice(lettersBefore);
          // Nothing already stored changed (first write wins).
          for (const m of messagesAfter) {
            const old = messagesBefore.get(m.message_id);
            if (old !== undefined) expect(m, label).toEqual(old);
          }
          expect(messagesAfter.length, label).toBe(messagesBefore.size + newMessages.length);
          if (res.statusCode !== 200) {
            expect(newMessages, label).toEqual([]);
            expect(newLetters, label).toEqual([]);
            return;
          }
          const sent = parseBody(raw);
          for (const m of newMessages) expectMessageFromBody(m, sent);
          for (const letter of newLetters) expectDeadLetterFromBody(letter, sent);
          // A core-form message accepted for the first time is stored.
          if (
            isObject(sent) &&
            typeof sent.message_id === 'string' &&
            !Object.hasOwn(sent, 'object') &&
            !messagesBefore.has(sent.message_id)
          ) {
            expect(
              newMessages.map((m) => m.message_id),
              label,
            ).toEqual([sent.message_id]);
          }
          if (newMessages.length > 0 || newLetters.length > 0) storingRuns++;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // The generators reach the storing paths too, or the second half of the property tests nothing.
      expect(signedRuns).toBeGreaterThan(RUNS / 10);
      expect(storingRuns).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );
});

/** Every stored message, page by page (a property run may store more than one page). */
async function allMessagesPaged(t: TestApp): Promise<MessageItem[]> {
  const first = await allMessages(t);
  if (first.length < 100) return first;
  const all = [...first];
  for (let offset = 100; ; offset += 100) {
    const res = await t.app.inject({ method: 'GET', url: `/messages?limit=100&offset=${offset}` });
    const page = res.json<{ data: MessageItem[] }>().data;
    all.push(...page);
    if (page.length < 100) return all;
  }
}

// --- query strings ------------------------------------------------------------------------------

const queryKey = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'limit',
      'offset',
      'from',
      'since',
      'q',
      'cursor',
      'format',
      'hub.mode',
      'hub.verify_token',
      'hub.challenge',
    ),
  },
  fc.string({ maxLength: 8 }),
);
const queryValue = fc.oneof(
  fc.constantFrom('', '0', '1', '50', '100', '101', '-1', '1.5', '1e2', ' 1', '+919876543210', ' 919876543210'),
  fc.constantFrom(
    '2025-01-15T10:00:00Z',
    '2025-02-30T10:00:00Z',
    'subscribe',
    VERIFY_TOKEN,
    'WzFd',
    'eyJ4IjoxfQ',
    'csv',
    'ndjson',
  ),
  fc.integer().map(String),
  // Any Unicode text; encodeURIComponent cannot encode a lone surrogate, so those come raw below.
  fc.string({ unit: 'grapheme', maxLength: 30 }),
);
/**
 * Written raw, unencoded: stray `%`, `+`, `=` and `&` the way sloppy clients send them, and
 * percent-escapes that decode to no valid UTF-8, a lone surrogate or NUL.
 */
const rawQueryText = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'ab09%+=&.-_~:/?[]zE'.split('')), maxLength: 16 }),
  fc
    .tuple(
      fc.constantFrom('limit', 'offset', 'from', 'since', 'q', 'cursor', 'hub.challenge', 'hub.verify_token'),
      fc.constantFrom('%ED%A0%80', '%FF', '%C3%28', '%00', '%2B1%00', '%E0%A4%A', '%', '%%', '%u0041'),
    )
    .map(([k, v]) => `${k}=${v}`),
);

/** A query string and the pairs it was meant to carry (raw pieces carry none that can be relied on). */
const queryString: fc.Arbitrary<{ query: string; pairs: [string, string][] }> = fc
  .array(
    fc.oneof(
      {
        arbitrary: fc
          .tuple(queryKey, queryValue)
          .map(([k, v]) => ({ text: `${encodeURIComponent(k)}=${encodeURIComponent(v)}`, pair: [k, v] as [string, string] })),
        weight: 5,
      },
      rawQueryText.map((text) => ({ text, pair: undefined })),
    ),
    { maxLength: 5 },
  )
  .map((parts) => ({
    query: parts.length === 0 ? '' : `?${parts.map((p) => p.text).join('&')}`,
    pairs: parts.flatMap((p) => (p.pair === undefined ? [] : [p.pair])),
  }));

const readPath = fc.oneof(
  { arbitrary: fc.constantFrom('/messages', '/messages/export', '/dead-letters', '/webhook', '/stats'), weight: 4 },
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map((id) => `/messages/${encodeURIComponent(id)}`),
  fc.constantFrom('%00', '%ED%A0%80', '%FF', 'a%2Fb', '%2E%2E', 'm1%00', '%25').map((id) => `/messages/${id}`),
);

describe('property: random query strings', () => {
  const app = useTestApp(ENV);

  it(
    'never answer 5xx or store anything; the handshake passes only with our token',
    async () => {
      const t = app();
      // Something to read, so that the queries have rows to filter and page.
      for (const [i, text] of ['Hello', 'hello again', '100% sure', 'snake_case \\ path'].entries()) {
        const res = await t.postSigned({
          message_id: `seed-${i}`,
          from: `+9198765432${i}0`,
          to: '+14155550100',
          ts: `2025-01-1${i}T10:00:00Z`,
          text,
        });
        expect(res.statusCode).toBe(200);
      }
      const before = await counts(t);
      await fc.assert(
        fc.asyncProperty(readPath, queryString, async (path, { query, pairs }) => {
          const url = `${path}${query}`;
          const res = await t.app.inject({ method: 'GET', url });
          expectNo5xx(res, url);
          if (path === '/webhook') {
            if (res.statusCode === 200) {
              const values = (key: string) => pairs.filter(([k]) => k === key).map(([, v]) => v);
              expect(values('hub.verify_token'), url).toContain(VERIFY_TOKEN);
              expect(values('hub.mode'), url).toContain('subscribe');
              expect(values('hub.challenge'), url).toContain(res.body);
            } else {
              expect(res.statusCode, url).toBe(403);
              expect(res.json(), url).toEqual({ detail: 'verification failed' });
            }
          } else if (res.statusCode === 422) {
            expect(Array.isArray(res.json<{ detail: unknown }>().detail), url).toBe(true);
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
      expect(await counts(t)).toEqual(before);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'the handshake echoes any challenge when mode and token are right',
    async () => {
      const t = app();
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), async (challenge) => {
          const url = `/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=${encodeURIComponent(challenge)}`;
          const res = await t.app.inject({ method: 'GET', url });
          expect(res.statusCode, url).toBe(200);
          expect(res.body, url).toBe(challenge);
          expect(res.headers['content-type']).toMatch(/^text\/plain/);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

// Found by the first property: Fastify refuses a Content-Type it cannot parse with 415 before the
// route runs, so neither the signature check nor validation ever sees the body.
describe('POST /webhook with a malformed Content-Type', () => {
  const app = useTestApp(ENV);
  const MALFORMED = ['', ' ', 'json', 'application/', '/json', 'a/b c', 'application/json, text/plain'];

  it('stores a correctly signed message whatever the Content-Type', async () => {
    const t = app();
    const statuses: Record<string, number> = {};
    for (const [i, contentType] of MALFORMED.entries()) {
      const raw = JSON.stringify({ message_id: `ct-${i}`, from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z' });
      const res = await t.app.inject({
        method: 'POST',
        url: '/webhook',
        payload: raw,
        headers: { 'content-type': contentType, 'x-signature': hmacHex(TEST_SECRET, raw) },
      });
      statuses[JSON.stringify(contentType)] = res.statusCode;
    }
    expect(statuses).toEqual(Object.fromEntries(MALFORMED.map((c) => [JSON.stringify(c), 200])));
  });

  it('answers an unsigned body 401 {"detail":"invalid signature"} whatever the Content-Type', async () => {
    const t = app();
    const answers: Record<string, string> = {};
    for (const contentType of MALFORMED) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/webhook',
        payload: '{}',
        headers: { 'content-type': contentType },
      });
      answers[JSON.stringify(contentType)] = `${res.statusCode} ${res.body}`;
    }
    expect(answers).toEqual(Object.fromEntries(MALFORMED.map((c) => [JSON.stringify(c), '401 {"detail":"invalid signature"}'])));
  });
});
