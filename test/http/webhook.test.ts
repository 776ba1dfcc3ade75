// POST /webhook through app.inject: size limit, signature, validation, exactly-once storage.

import { describe, expect, it } from 'vitest';
import { TEST_SECRET } from '../helpers/app.js';
import { hmacHex } from '../helpers/sign.js';
import {
  allMessages,
  expectValidationShape,
  failingLocations,
  message,
  sampleValue,
  scrape,
  storedCount,
  useTestApp,
} from './support.js';

const OK = { status: 'ok' };

describe('POST /webhook: a valid signed message', () => {
  const app = useTestApp();

  it('answers 200 {"status":"ok"} and stores the message as sent', async () => {
    const t = app();
    const res = await t.postSigned(message());
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);
    expect(await allMessages(t)).toEqual([
      { message_id: 'm1', from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text: 'Hello' },
    ]);
  });

  it('stores text null when text is absent or null', async () => {
    const t = app();
    expect((await t.postSigned(message({ message_id: 'absent', text: undefined }))).statusCode).toBe(200);
    expect((await t.postSigned(message({ message_id: 'null', text: null }))).statusCode).toBe(200);
    const items = await allMessages(t);
    expect(items.map((m) => [m.message_id, m.text])).toEqual([
      ['absent', null],
      ['null', null],
    ]);
  });

  it('keeps ts exactly as sent, fraction and trailing zeros included', async () => {
    const t = app();
    await t.postSigned(message({ ts: '2025-01-15T10:00:00.500Z' }));
    expect((await allMessages(t))[0]?.ts).toBe('2025-01-15T10:00:00.500Z');
  });

  it('ignores unknown extra fields', async () => {
    const t = app();
    const res = await t.postSigned(message({ extra: 'x', nested: { a: [1, 2] }, type: 'text', text: 'hi' }));
    expect(res.statusCode).toBe(200);
    expect(await allMessages(t)).toEqual([
      { message_id: 'm1', from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text: 'hi' },
    ]);
  });

  it('accepts the edges of every field', async () => {
    const t = app();
    const edges = [
      message({ message_id: 'one-digit', from: '+1', to: '+9' }),
      message({ message_id: 'fifteen-digits', from: '+123456789012345', to: '+999999999999999' }),
      message({ message_id: 'leap-day', ts: '2024-02-29T23:59:59Z' }),
      message({ message_id: 'fraction', ts: '2025-01-15T10:00:00.123456789Z' }),
      message({ message_id: 'empty-text', text: '' }),
      message({ message_id: 'max-ascii', text: 'a'.repeat(4096) }),
      message({ message_id: 'max-emoji', text: '😀'.repeat(4096) }),
      message({ message_id: 'unicode id ✓ 😀', text: 'Grüße, привет, こんにちは' }),
    ];
    for (const payload of edges) {
      const res = await t.postSigned(payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(200);
    }
    const items = await allMessages(t);
    expect(items).toHaveLength(edges.length);
    expect(items.find((m) => m.message_id === 'max-emoji')?.text).toBe('😀'.repeat(4096));
    expect(items.find((m) => m.message_id === 'unicode id ✓ 😀')?.text).toBe('Grüße, привет, こんにちは');
  });
});

describe('POST /webhook: body size (413)', () => {
  const app = useTestApp({ MAX_BODY_BYTES: '100' });

  /** A valid message body of exactly `bytes` bytes. */
  function bodyOf(bytes: number): string {
    const short = { message_id: 's', from: '+1', to: '+2' };
    const base = JSON.stringify(message({ ...short, text: '' }));
    const body = JSON.stringify(message({ ...short, text: 'x'.repeat(bytes - Buffer.byteLength(base)) }));
    expect(Buffer.byteLength(body)).toBe(bytes);
    return body;
  }

  it('accepts a body of exactly MAX_BODY_BYTES', async () => {
    const t = app();
    const res = await t.postSigned(bodyOf(100));
    expect(res.statusCode).toBe(200);
    expect(await storedCount(t)).toBe(1);
  });

  it('answers 413 {"detail":"payload too large"} one byte over the limit and stores nothing', async () => {
    const t = app();
    const res = await t.postSigned(bodyOf(101));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ detail: 'payload too large' });
    expect(await storedCount(t)).toBe(0);
  });

  it('counts the refusal as payload_too_large and logs it on the request line', async () => {
    const t = app();
    const res = await t.postSigned(bodyOf(101));
    expect(res.statusCode).toBe(413);
    expect(sampleValue(await scrape(t), 'webhook_requests_total', { result: 'payload_too_large' })).toBe(1);
    const line = t.logs.find((l) => l.msg === 'request completed' && l.path === '/webhook');
    expect(line).toMatchObject({ status: 413, result: 'payload_too_large', dup: false });
  });

  it('counts bytes, not characters', async () => {
    const t = app();
    // 40 characters, 120 bytes in UTF-8.
    const res = await t.postSigned('€'.repeat(40));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ detail: 'payload too large' });
  });

  it('checks the size before the signature: too large and unsigned, or wrongly signed, is still 413', async () => {
    const t = app();
    const body = bodyOf(150);
    for (const headers of [{}, { 'x-signature': 'f'.repeat(64) }, { 'x-signature': 'garbage' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/webhook', payload: body, headers });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ detail: 'payload too large' });
    }
    expect(await storedCount(t)).toBe(0);
  });

  it('checks the size before validation: a signed oversized non-JSON body is 413', async () => {
    const t = app();
    const res = await t.postSigned('not json '.repeat(20));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ detail: 'payload too large' });
  });
});

describe('POST /webhook: default body limit', () => {
  const app = useTestApp();

  it('accepts a 3 MB body (Meta sends up to 3 MB) and refuses one over 4 MiB', async () => {
    const t = app();
    const big = JSON.stringify(message({ message_id: 'big', padding: 'p'.repeat(3_000_000) }));
    expect((await t.postSigned(big)).statusCode).toBe(200);
    const tooBig = JSON.stringify(message({ message_id: 'too-big', padding: 'p'.repeat(4 * 1024 * 1024) }));
    const res = await t.postSigned(tooBig);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ detail: 'payload too large' });
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['big']);
  });
});

describe('POST /webhook: signature (401)', () => {
  const app = useTestApp();
  const body = JSON.stringify(message());

  async function expectRefused(headers: Record<string, string | string[]>, payload: string | Buffer = body): Promise<void> {
    const t = app();
    const res = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload,
      headers: { 'content-type': 'application/json', ...headers },
    });
    expect(res.statusCode, JSON.stringify(headers)).toBe(401);
    expect(res.body).toBe('{"detail":"invalid signature"}');
    expect(res.json()).toEqual({ detail: 'invalid signature' });
  }

  it('refuses a missing signature, stores nothing and logs the request at ERROR', async () => {
    await expectRefused({});
    const t = app();
    expect(await storedCount(t)).toBe(0);
    const line = t.logs.find((l) => l.path === '/webhook');
    expect(line?.status).toBe(401);
    expect(line?.level).toBe('ERROR');
  });

  it('refuses malformed signatures', async () => {
    const good = hmacHex(TEST_SECRET, body);
    for (const signature of [
      '',
      'abc',
      good.slice(0, 63),
      `${good}0`,
      `${good.slice(0, 63)}g`,
      `sha256=${good}`,
      Buffer.from(good, 'hex').toString('base64'),
      `${good.slice(0, 32)} ${good.slice(32)}`,
    ]) {
      await expectRefused({ 'x-signature': signature });
    }
    expect(await storedCount(app())).toBe(0);
  });

  it('refuses a wrong signature: another key, another body, or the body re-serialised', async () => {
    await expectRefused({ 'x-signature': hmacHex('other-secret', body) });
    await expectRefused({ 'x-signature': hmacHex(TEST_SECRET, `${body} `) });
    await expectRefused({ 'x-signature': hmacHex(TEST_SECRET, body) }, JSON.stringify(message(), null, 2));
    await expectRefused({ 'x-signature': hmacHex(TEST_SECRET, JSON.stringify(message({ text: 'Hello!' }))) });
    await expectRefused({ 'x-signature': hmacHex('', body) });
    await expectRefused({ 'x-signature': '0'.repeat(64) });
    expect(await storedCount(app())).toBe(0);
  });

  it('refuses the signature of a different body even with the right key (nothing stored, every log line ERROR)', async () => {
    const t = app();
    const forged = JSON.stringify(message({ message_id: 'forged' }));
    const res = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload: forged,
      headers: { 'content-type': 'application/json', 'x-signature': hmacHex(TEST_SECRET, body) },
    });
    expect(res.statusCode).toBe(401);
    expect(await storedCount(t)).toBe(0);
    const lines = t.logs.filter((l) => l.path === '/webhook');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('ERROR');
  });

  it('checks the signature before parsing: an unsigned invalid body is 401, not 422', async () => {
    await expectRefused({}, 'not json at all');
    await expectRefused({}, '{}');
    await expectRefused({ 'x-signature': 'nope' }, '');
  });

  it('accepts the signature in uppercase or mixed-case hex', async () => {
    const t = app();
    const upper = JSON.stringify(message({ message_id: 'upper' }));
    const mixed = JSON.stringify(message({ message_id: 'mixed' }));
    const mixedSignature = Array.from(hmacHex(TEST_SECRET, mixed), (c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');
    expect((await t.postSigned(upper, { 'x-signature': hmacHex(TEST_SECRET, upper).toUpperCase() })).statusCode).toBe(200);
    expect((await t.postSigned(mixed, { 'x-signature': mixedSignature })).statusCode).toBe(200);
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['mixed', 'upper']);
  });

  it('verifies the raw bytes exactly as sent: whitespace and key order are part of what is signed', async () => {
    const t = app();
    const raw = '  {\n  "text": "spaced",\t"ts": "2025-01-15T10:00:00Z", "to": "+2", "from": "+1", "message_id": "raw"\n}\n';
    const res = await t.postSigned(raw);
    expect(res.statusCode).toBe(200);
    expect((await allMessages(t)).map((m) => [m.message_id, m.text])).toEqual([['raw', 'spaced']]);
  });

  it('verifies multi-byte UTF-8 bodies byte for byte', async () => {
    const t = app();
    const raw = Buffer.from(JSON.stringify(message({ message_id: 'utf8', text: 'héllo 😀 привет' })), 'utf8');
    const res = await t.postSigned(raw);
    expect(res.statusCode).toBe(200);
    expect((await allMessages(t))[0]?.text).toBe('héllo 😀 привет');
  });

  it('accepts a signed body whatever its Content-Type, or none', async () => {
    const t = app();
    const contentTypes: (string | null)[] = [
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'multipart/form-data; boundary=x',
      'application/xml',
      null,
    ];
    for (const [i, contentType] of contentTypes.entries()) {
      const payload = JSON.stringify(message({ message_id: `ct${i}`, text: String(contentType) }));
      const headers: Record<string, string> = { 'x-signature': hmacHex(TEST_SECRET, payload) };
      if (contentType !== null) headers['content-type'] = contentType;
      const res = await t.app.inject({ method: 'POST', url: '/webhook', payload, headers });
      expect(res.statusCode, String(contentType)).toBe(200);
      expect(res.json()).toEqual(OK);
    }
    expect((await allMessages(t)).map((m) => m.text)).toEqual(contentTypes.map(String));
  });

  it('refuses an unsigned body whatever its Content-Type', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      await expectRefused({ 'content-type': contentType });
    }
    expect(await storedCount(app())).toBe(0);
  });
});

describe('POST /webhook: validation (422)', () => {
  const app = useTestApp();

  async function expectInvalid(payload: string | Buffer | object, ...fields: string[]): Promise<void> {
    const t = app();
    const res = await t.postSigned(payload);
    const label = (Buffer.isBuffer(payload) ? payload.toString('hex') : JSON.stringify(payload)).slice(0, 120);
    expect(res.statusCode, label).toBe(422);
    expectValidationShape(res);
    const locations = failingLocations(res);
    for (const field of fields) expect(locations, label).toContain(field === '' ? 'body' : `body.${field}`);
    for (const location of locations) expect(location.startsWith('body'), label).toBe(true);
  }

  it('refuses a body that is not a JSON object, naming the body', async () => {
    for (const raw of ['not json', '{"message_id": "m1",', '[]', '[{"message_id":"m1"}]', '"m1"', 'null', '42', 'true', '']) {
      await expectInvalid(raw, '');
    }
    expect(await storedCount(app())).toBe(0);
  });

  it('refuses a body that is not UTF-8', async () => {
    const latin1 = Buffer.from(JSON.stringify(message({ text: 'caf\u00e9' })), 'latin1');
    await expectInvalid(latin1, '');
    await expectInvalid(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), '');
    expect(await storedCount(app())).toBe(0);
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ['message_id missing', message({ message_id: undefined }), 'message_id'],
    ['message_id a number', message({ message_id: 1 }), 'message_id'],
    ['message_id null', message({ message_id: null }), 'message_id'],
    ['message_id empty', message({ message_id: '' }), 'message_id'],
    // Limits every store can honour: PostgreSQL text holds no U+0000 and its indexes no huge keys.
    ['message_id with a NUL character', message({ message_id: 'm\u00001' }), 'message_id'],
    ['message_id of 513 characters', message({ message_id: 'x'.repeat(513) }), 'message_id'],
    ['from missing', message({ from: undefined }), 'from'],
    ['from a number', message({ from: 919876543210 }), 'from'],
    ['from without +', message({ from: '919876543210' }), 'from'],
    ['from only +', message({ from: '+' }), 'from'],
    ['from 16 digits', message({ from: '+1234567890123456' }), 'from'],
    ['from with a space', message({ from: '+91 9876543210' }), 'from'],
    ['from with a dash', message({ from: '+91-9876543210' }), 'from'],
    ['from with a trailing newline', message({ from: '+919876543210\n' }), 'from'],
    ['from with two +', message({ from: '++919876543210' }), 'from'],
    ['from with letters', message({ from: '+91987654321a' }), 'from'],
    ['from with Arabic-Indic digits', message({ from: '+٩١٩٨٧' }), 'from'],
    ['to missing', message({ to: undefined }), 'to'],
    ['to an object', message({ to: { number: '+1' } }), 'to'],
    ['to without +', message({ to: '14155550100' }), 'to'],
    ['to 16 digits', message({ to: '+1234567890123456' }), 'to'],
    ['ts missing', message({ ts: undefined }), 'ts'],
    ['ts a number', message({ ts: 1736935200 }), 'ts'],
    ['ts with a space separator', message({ ts: '2025-01-15 10:00:00Z' }), 'ts'],
    ['ts with an offset', message({ ts: '2025-01-15T10:00:00+05:30' }), 'ts'],
    ['ts with +00:00', message({ ts: '2025-01-15T10:00:00+00:00' }), 'ts'],
    ['ts without zone', message({ ts: '2025-01-15T10:00:00' }), 'ts'],
    ['ts date only', message({ ts: '2025-01-15' }), 'ts'],
    ['ts Feb 30', message({ ts: '2025-02-30T10:00:00Z' }), 'ts'],
    ['ts Feb 29 of a common year', message({ ts: '2023-02-29T10:00:00Z' }), 'ts'],
    ['ts Feb 29 of 1900', message({ ts: '1900-02-29T10:00:00Z' }), 'ts'],
    ['ts April 31', message({ ts: '2025-04-31T10:00:00Z' }), 'ts'],
    ['ts month 13', message({ ts: '2025-13-01T10:00:00Z' }), 'ts'],
    ['ts hour 24', message({ ts: '2025-01-15T24:00:00Z' }), 'ts'],
    ['ts minute 60', message({ ts: '2025-01-15T10:60:00Z' }), 'ts'],
    ['ts one-digit fields', message({ ts: '2025-1-5T1:0:0Z' }), 'ts'],
    ['ts empty fraction', message({ ts: '2025-01-15T10:00:00.Z' }), 'ts'],
    ['ts without seconds', message({ ts: '2025-01-15T10:00Z' }), 'ts'],
    ['ts empty', message({ ts: '' }), 'ts'],
    ['ts with a fraction of 65 digits', message({ ts: `2025-01-15T10:00:00.${'1'.repeat(65)}Z` }), 'ts'],
    ['text a number', message({ text: 42 }), 'text'],
    ['text a boolean', message({ text: true }), 'text'],
    ['text an object', message({ text: { body: 'hi' } }), 'text'],
    ['text a list', message({ text: ['hi'] }), 'text'],
    ['text 4097 characters', message({ text: 'a'.repeat(4097) }), 'text'],
    ['text 4097 emoji', message({ text: '😀'.repeat(4097) }), 'text'],
    ['text with a NUL character', message({ text: 'before\u0000after' }), 'text'],
  ];

  for (const [name, payload, field] of cases) {
    it(`refuses ${name}, naming ${field}, and stores nothing`, async () => {
      await expectInvalid(payload, field);
      const t = app();
      expect(await storedCount(t)).toBe(0);
    });
  }

  it('names every failing field at once', async () => {
    const t = app();
    const res = await t.postSigned({});
    expectValidationShape(res);
    expect(failingLocations(res).sort()).toEqual(['body.from', 'body.message_id', 'body.to', 'body.ts']);

    const allBad = await t.postSigned({ message_id: '', from: '123', to: 5, ts: '2025-02-30T00:00:00Z', text: 7 });
    expectValidationShape(allBad);
    expect([...new Set(failingLocations(allBad))].sort()).toEqual([
      'body.from',
      'body.message_id',
      'body.text',
      'body.to',
      'body.ts',
    ]);
    expect(await storedCount(t)).toBe(0);
  });

  it('does not take fields from the prototype chain', async () => {
    const raw = '{"__proto__": {"message_id": "sneaky"}, "from": "+1", "to": "+2", "ts": "2025-01-15T10:00:00Z"}';
    await expectInvalid(raw, 'message_id');
    expect(await storedCount(app())).toBe(0);
  });

  it('stores nothing of a half-valid message', async () => {
    const t = app();
    const res = await t.postSigned(message({ ts: 'yesterday' }));
    expect(res.statusCode).toBe(422);
    expect(failingLocations(res)).toEqual(['body.ts']);
    expect(await storedCount(t)).toBe(0);
    // The same message_id, valid now, is a first delivery, not a duplicate.
    expect((await t.postSigned(message())).statusCode).toBe(200);
    expect(await storedCount(t)).toBe(1);
  });
});

describe('POST /webhook: exactly once, first write wins', () => {
  const app = useTestApp();

  it('answers 200 {"status":"ok"} to a redelivery and changes nothing', async () => {
    const t = app();
    const first = await t.postSigned(message({ text: 'first' }));
    const again = await t.postSigned(message({ text: 'second', from: '+111', to: '+222', ts: '2026-06-01T00:00:00Z' }));
    const exact = await t.postSigned(message({ text: 'first' }));
    for (const res of [first, again, exact]) {
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(OK);
    }
    expect(await allMessages(t)).toEqual([
      { message_id: 'm1', from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text: 'first' },
    ]);
  });

  it('stores one row for 50 concurrent deliveries of one message_id and counts one created', async () => {
    const t = app();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.postSigned(message({ message_id: 'race', text: `attempt ${i}` }))),
    );
    for (const res of responses) {
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(OK);
    }
    const items = await allMessages(t);
    expect(items).toHaveLength(1);
    expect(items[0]?.text).toMatch(/^attempt \d+$/);
    const samples = await scrape(t);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'created' })).toBe(1);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'duplicate' })).toBe(49);
  });

  it('stores every one of many concurrent distinct messages', async () => {
    const t = app();
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => t.postSigned(message({ message_id: `c${i}` }))));
    expect(responses.map((r) => r.statusCode)).toEqual(responses.map(() => 200));
    expect(await storedCount(t)).toBe(60);
  });
});

describe('POST /webhook without WEBHOOK_SECRET (A.6)', () => {
  const app = useTestApp({ WEBHOOK_SECRET: '' });

  it('answers 503 and stores nothing, however the request is signed', async () => {
    const t = app();
    const body = JSON.stringify(message());
    for (const signature of [hmacHex('', body), hmacHex(TEST_SECRET, body), undefined]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/webhook',
        payload: body,
        headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-signature': signature }) },
      });
      expect(res.statusCode).toBe(503);
    }
    expect(await storedCount(t)).toBe(0);
  });
});
