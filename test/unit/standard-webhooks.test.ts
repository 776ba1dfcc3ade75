// parseStandardWebhooksSecret and verifyStandardWebhook: which secrets are keys, which requests
// were signed with one of them, and which are too old or too new to accept. Signatures are
// computed here with node:crypto, independently of src/.

import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseStandardWebhooksSecret,
  type StandardWebhookHeaders,
  verifyStandardWebhook,
} from '../../src/ingest/standard-webhooks.js';

const KEY_A = Buffer.from('webhook-inbox-test-key-1');
const KEY_B = Buffer.from('webhook-inbox-test-key-02');
const KEY_C = Buffer.from('webhook-inbox-test-key-003');
const ID = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
const NOW = 1_736_935_200;
const TOLERANCE = 300;
const BODY = Buffer.from(JSON.stringify({ type: 'message.received', data: { id: 'm1', text: 'Hello' } }));

/** The standard's signature: base64 HMAC-SHA256 of `${id}.${timestamp}.` and then the body bytes. */
function sign(key: Buffer | Uint8Array, id: string, timestamp: string | number, body: Buffer | Uint8Array): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest('base64');
}

const SIG_A = sign(KEY_A, ID, NOW, BODY);
const SIG_B = sign(KEY_B, ID, NOW, BODY);

function headers(signature: string, id: string = ID, timestamp: string = String(NOW)): StandardWebhookHeaders {
  return { id, timestamp, signature };
}

function verify(keys: readonly Buffer[], h: StandardWebhookHeaders, body: Buffer = BODY, now: number = NOW) {
  return verifyStandardWebhook(keys, h, body, now, TOLERANCE);
}

const ACCEPTED = { ok: true, id: ID, timestamp: NOW };
const INVALID = { ok: false, reason: 'invalid_signature' };
const STALE = { ok: false, reason: 'stale_timestamp' };

describe('parseStandardWebhooksSecret accepts', () => {
  it.each<[string, string, Buffer]>([
    ['whsec_ and base64 without padding', 'whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x', KEY_A],
    ['the base64 alone', 'd2ViaG9vay1pbmJveC10ZXN0LWtleS0x', KEY_A],
    ['base64 ending in ==', 'whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0wMg==', KEY_B],
    ['base64 ending in =', 'whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0wMDM=', KEY_C],
    ['padding left out (==)', 'whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0wMg', KEY_B],
    ['padding left out (=)', 'd2ViaG9vay1pbmJveC10ZXN0LWtleS0wMDM', KEY_C],
    ['a one-byte key', 'whsec_QQ==', Buffer.from('A')],
    ['+ and / of the standard alphabet', 'whsec_+/+/', Buffer.from([0xfb, 0xff, 0xbf])],
  ])('%s', (_name, secret, key) => {
    expect(parseStandardWebhooksSecret(secret)).toEqual(key);
  });

  it('gives the key bytes the signatures are made with, not the text', () => {
    const key = parseStandardWebhooksSecret('whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x');
    expect(key).not.toBeNull();
    const keys = key === null ? [] : [key];
    expect(verify(keys, headers(`v1,${SIG_A}`))).toEqual(ACCEPTED);
  });
});

describe('parseStandardWebhooksSecret refuses (null)', () => {
  it.each([
    ['empty', ''],
    ['the prefix alone', 'whsec_'],
    ['padding alone', 'whsec_===='],
    ['not base64 at all', 'whsec_not base64!'],
    ['a character outside the alphabet', 'whsec_d2ViaG9vay1pbmJveC10ZXN0$WtleS0x'],
    ['the URL-safe alphabet', 'whsec_-_-_'],
    ['a trailing newline', 'whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x\n'],
    ['a leading space', ' whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x'],
    ['a space inside', 'whsec_d2ViaG9vay1p bmJveC10ZXN0LWtleS0x'],
    ['a length that no bytes encode to', 'whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0xA'],
    ['one = where two are due', 'whsec_QQ='],
    ['three = signs', 'whsec_QQ==='],
    ['padding in the middle', 'whsec_QQ==QQ=='],
    ['stray bits in the last character', 'whsec_QR=='],
    ['an uppercase prefix', 'WHSEC_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x'],
    ['the prefix twice', 'whsec_whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x'],
  ])('%s', (_name, secret) => {
    expect(parseStandardWebhooksSecret(secret)).toBeNull();
  });
});

describe('verifyStandardWebhook accepts a request signed with a listed key', () => {
  it.each<[string, Buffer[], string]>([
    ['one key, one signature', [KEY_A], `v1,${SIG_A}`],
    ['the second of two keys (rotation)', [KEY_B, KEY_A], `v1,${SIG_A}`],
    ['the last of three keys', [KEY_C, KEY_B, KEY_A], `v1,${SIG_A}`],
    ['one of two signatures, the first', [KEY_A], `v1,${SIG_A} v1,${SIG_B}`],
    ['one of two signatures, the second', [KEY_B], `v1,${SIG_A} v1,${SIG_B}`],
    ['two keys and two signatures', [KEY_A, KEY_B], `v1,${SIG_B} v1,${SIG_A}`],
    ['after a signature of another version', [KEY_A], `v1a,${SIG_A} v1,${SIG_A}`],
    ['after invalid signatures', [KEY_A], `v1,${SIG_B} v1,not-base64 v1, v1,${SIG_A}`],
    ['with extra spaces between entries', [KEY_A], `v2,abc   v1,${SIG_A}`],
  ])('%s', (_name, keys, signature) => {
    expect(verify(keys, headers(signature))).toEqual(ACCEPTED);
  });

  it('signs the body bytes as they are, even when they are not UTF-8', () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    expect(verify([KEY_A], headers(`v1,${sign(KEY_A, ID, NOW, raw)}`), raw)).toEqual(ACCEPTED);
    const decoded = Buffer.from(raw.toString('utf8'), 'utf8');
    expect(verify([KEY_A], headers(`v1,${sign(KEY_A, ID, NOW, decoded)}`), raw)).toEqual(INVALID);
  });

  it('signs a non-ASCII id as UTF-8', () => {
    const id = 'msg_नमस्ते_👋';
    expect(verify([KEY_A], headers(`v1,${sign(KEY_A, id, NOW, BODY)}`, id))).toEqual({ ok: true, id, timestamp: NOW });
  });

  it('accepts an empty body signed as such', () => {
    const empty = Buffer.alloc(0);
    expect(verify([KEY_A], headers(`v1,${sign(KEY_A, ID, NOW, empty)}`), empty)).toEqual(ACCEPTED);
  });
});

describe('verifyStandardWebhook: invalid_signature', () => {
  const urlSafe = SIG_A.replace(/\+/g, '-').replace(/\//g, '_');

  it('(the URL-safe spelling below really differs from the signature)', () => {
    expect(urlSafe).not.toBe(SIG_A);
  });

  it.each<[string, Buffer[], string]>([
    ['signed with an unlisted key', [KEY_B, KEY_C], `v1,${SIG_A}`],
    ['no keys at all', [], `v1,${SIG_A}`],
    [
      'signed with the secret text instead of its key bytes',
      [KEY_A],
      `v1,${sign(Buffer.from('whsec_d2ViaG9vay1pbmJveC10ZXN0LWtleS0x'), ID, NOW, BODY)}`,
    ],
    ['signed over the body alone', [KEY_A], `v1,${createHmac('sha256', KEY_A).update(BODY).digest('base64')}`],
    [
      'signed without the trailing dot',
      [KEY_A],
      `v1,${createHmac('sha256', KEY_A).update(`${ID}.${NOW}`).update(BODY).digest('base64')}`,
    ],
    ['only another version (v1a) with the right value', [KEY_A], `v1a,${SIG_A}`],
    ['only a v2 entry with the right value', [KEY_A], `v2,${SIG_A}`],
    ['an uppercase version', [KEY_A], `V1,${SIG_A}`],
    ['no version at all', [KEY_A], SIG_A],
    ['a space instead of the comma', [KEY_A], `v1 ${SIG_A}`],
    ['hex instead of base64', [KEY_A], `v1,${createHmac('sha256', KEY_A).update(`${ID}.${NOW}.`).update(BODY).digest('hex')}`],
    ['the URL-safe alphabet', [KEY_A], `v1,${urlSafe}`],
    ['padding left out', [KEY_A], `v1,${SIG_A.replace(/=+$/, '')}`],
    ['truncated base64', [KEY_A], `v1,${SIG_A.slice(0, 20)}`],
    ['base64 with a character changed', [KEY_A], `v1,${SIG_A.startsWith('A') ? 'B' : 'A'}${SIG_A.slice(1)}`],
    ['base64 with garbage appended', [KEY_A], `v1,${SIG_A}xyz`],
    ['two signatures run together', [KEY_A], `v1,${SIG_A}v1,${SIG_A}`],
    ['commas between entries', [KEY_A], `v1,${SIG_B},v1,${SIG_A}`],
    ['an empty signature header', [KEY_A], ''],
    ['v1, and nothing', [KEY_A], 'v1,'],
  ])('%s', (_name, keys, signature) => {
    expect(verify(keys, headers(signature))).toEqual(INVALID);
  });

  it.each<[string, Partial<Record<'id' | 'timestamp' | 'body', string>>]>([
    ['a tampered body', { body: BODY.toString('utf8').replace('Hello', 'Hullo') }],
    ['a body with a trailing newline', { body: `${BODY.toString('utf8')}\n` }],
    ['a tampered id', { id: `${ID}x` }],
    ['a tampered timestamp, one second later', { timestamp: String(NOW + 1) }],
    ['the timestamp with a leading zero', { timestamp: `0${NOW}` }],
  ])('%s (signature made over the original)', (_name, change) => {
    const h = headers(`v1,${SIG_A}`, change.id ?? ID, change.timestamp ?? String(NOW));
    const body = change.body === undefined ? BODY : Buffer.from(change.body);
    expect(verify([KEY_A], h, body)).toEqual(INVALID);
  });

  it.each<[string, StandardWebhookHeaders]>([
    ['no headers', {}],
    ['id missing', { timestamp: String(NOW), signature: `v1,${SIG_A}` }],
    ['id empty', { id: '', timestamp: String(NOW), signature: `v1,${SIG_A}` }],
    ['timestamp missing', { id: ID, signature: `v1,${SIG_A}` }],
    ['signature missing', { id: ID, timestamp: String(NOW) }],
  ])('%s', (_name, h) => {
    expect(verify([KEY_A], h)).toEqual(INVALID);
  });

  it.each([
    ['empty', ''],
    ['fractional', `${NOW}.5`],
    ['negative', `-${NOW}`],
    ['a plus sign', `+${NOW}`],
    ['a leading space', ` ${NOW}`],
    ['a trailing space', `${NOW} `],
    ['exponent notation', '1.7369352e9'],
    ['hexadecimal', '0x6787a0a0'],
    ['an ISO date', '2025-01-15T10:00:00Z'],
    ['words', 'now'],
  ])('a timestamp that is not an integer (%s), even when signed as such', (_name, timestamp) => {
    const h = headers(`v1,${sign(KEY_A, ID, timestamp, BODY)}`, ID, timestamp);
    expect(verify([KEY_A], h)).toEqual(INVALID);
  });
});

describe('verifyStandardWebhook: the replay window', () => {
  it.each<[string, number, object]>([
    ['now', NOW, ACCEPTED],
    ['exactly the tolerance in the past', NOW - TOLERANCE, { ok: true, id: ID, timestamp: NOW - TOLERANCE }],
    ['exactly the tolerance in the future', NOW + TOLERANCE, { ok: true, id: ID, timestamp: NOW + TOLERANCE }],
    ['one second past the tolerance, in the past', NOW - TOLERANCE - 1, STALE],
    ['one second past the tolerance, in the future', NOW + TOLERANCE + 1, STALE],
    ['a day old (a replay)', NOW - 86_400, STALE],
    ['a day ahead', NOW + 86_400, STALE],
    ['the epoch', 0, STALE],
  ])('signed %s', (_name, timestamp, expected) => {
    const h = headers(`v1,${sign(KEY_A, ID, timestamp, BODY)}`, ID, String(timestamp));
    expect(verify([KEY_A], h)).toEqual(expected);
  });

  it('uses the clock it is given: a fraction of a second over the tolerance is stale', () => {
    const h = headers(`v1,${SIG_A}`);
    expect(verifyStandardWebhook([KEY_A], h, BODY, NOW + TOLERANCE, TOLERANCE)).toEqual(ACCEPTED);
    expect(verifyStandardWebhook([KEY_A], h, BODY, NOW + TOLERANCE + 0.5, TOLERANCE)).toEqual(STALE);
    expect(verifyStandardWebhook([KEY_A], h, BODY, NOW, 0)).toEqual(ACCEPTED);
    expect(verifyStandardWebhook([KEY_A], h, BODY, NOW + 1, 0)).toEqual(STALE);
  });

  it('fails closed when the clock or the tolerance is not a number', () => {
    const h = headers(`v1,${SIG_A}`);
    expect(verifyStandardWebhook([KEY_A], h, BODY, Number.NaN, TOLERANCE)).toEqual(STALE);
    expect(verifyStandardWebhook([KEY_A], h, BODY, NOW, Number.NaN)).toEqual(STALE);
  });

  it('a timestamp far beyond any clock, signed, is stale rather than an error', () => {
    const timestamp = '9'.repeat(400);
    const h = headers(`v1,${sign(KEY_A, ID, timestamp, BODY)}`, ID, timestamp);
    expect(verify([KEY_A], h)).toEqual(STALE);
  });

  it.each([
    ['a day old', NOW - 86_400],
    ['a day ahead', NOW + 86_400],
  ])('a forged request %s is told its signature is invalid, not that it is stale', (_name, timestamp) => {
    const h = headers(`v1,${sign(KEY_B, ID, timestamp, BODY)}`, ID, String(timestamp));
    expect(verify([KEY_A], h)).toEqual(INVALID);
    // The same request with a stale timestamp and no signature at all says the same.
    expect(verify([KEY_A], headers('', ID, String(timestamp)))).toEqual(INVALID);
  });

  it('a replayed request is accepted inside the window and stale after it', () => {
    const h = headers(`v1,${SIG_A}`);
    expect(verify([KEY_A], h, BODY, NOW + 60)).toEqual(ACCEPTED);
    expect(verify([KEY_A], h, BODY, NOW + TOLERANCE + 60)).toEqual(STALE);
  });
});

describe('verifyStandardWebhook properties', () => {
  const keys = fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 3 });
  const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
  const body = fc.uint8Array({ maxLength: 300 });
  const base64Digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64'));
  const entry = fc.oneof(
    base64Digest.map((b64) => `v1,${b64}`),
    base64Digest.map((b64) => `v1a,${b64}`),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );

  it('random signatures never verify unless one was made with a listed key', () => {
    fc.assert(
      fc.property(keys, id, fc.nat(), body, fc.array(entry, { maxLength: 4 }), (list, msgId, seconds, raw, entries) => {
        const signature = entries.join(' ');
        const keyBuffers = list.map((k) => Buffer.from(k));
        const result = verifyStandardWebhook(
          keyBuffers,
          { id: msgId, timestamp: String(seconds), signature },
          Buffer.from(raw),
          seconds,
          0,
        );
        const expected = keyBuffers.map((k) => `v1,${sign(k, msgId, seconds, raw)}`);
        const signed = signature.split(' ').some((candidate) => expected.includes(candidate));
        expect(result).toEqual(signed ? { ok: true, id: msgId, timestamp: seconds } : INVALID);
      }),
    );
  });

  it('a signature made with any listed key verifies, wherever it is in the list', () => {
    fc.assert(
      fc.property(
        keys.filter((list) => list.length > 0),
        fc.nat(),
        id,
        fc.nat(),
        body,
        fc.array(entry, { maxLength: 3 }),
        fc.nat(),
        (list, pick, msgId, seconds, raw, junk, at) => {
          const keyBuffers = list.map((k) => Buffer.from(k));
          const key = keyBuffers[pick % keyBuffers.length] ?? Buffer.alloc(1);
          const entries = [...junk];
          entries.splice(at % (junk.length + 1), 0, `v1,${sign(key, msgId, seconds, raw)}`);
          const h = { id: msgId, timestamp: String(seconds), signature: entries.join(' ') };
          expect(verifyStandardWebhook(keyBuffers, h, Buffer.from(raw), seconds, 0)).toEqual({
            ok: true,
            id: msgId,
            timestamp: seconds,
          });
        },
      ),
    );
  });
});
