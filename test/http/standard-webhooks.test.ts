// Standard Webhooks deliveries through app.inject (webhook-id, webhook-timestamp,
// webhook-signature): signature over id, timestamp and raw body, the replay window, rotation,
// and X-Signature rotation (WEBHOOK_SECRET_PREVIOUS; a comma is part of a secret).

import { createHmac } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import {
  hmacHex,
  standardWebhooksHeaders,
  standardWebhooksKey,
  standardWebhooksSignature,
  whsecSecret,
} from '../helpers/sign.js';
import {
  allMessages,
  expectValidationShape,
  failingLocations,
  message,
  postWebhook,
  requestLine,
  sampleValue,
  scrape,
  storedCount,
  useTestApp,
} from './support.js';

const SECRET_A = whsecSecret('standard-webhooks key A: 32 byte');
const SECRET_B = whsecSecret(Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255, 128, 64, 32, 16, 8, 4]));
const SECRET_C = whsecSecret('a key nobody configured');
const OK = { status: 'ok' };

/** Base64 HMAC-SHA256 of `data` under raw key bytes. */
function hmacBase64(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('base64');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function post(t: TestApp, body: string | Buffer, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return postWebhook(t, body, headers);
}

async function webhookResult(t: TestApp, result: string): Promise<number | undefined> {
  return sampleValue(await scrape(t), 'webhook_requests_total', { result });
}

describe('POST /webhook: Standard Webhooks, a valid delivery', () => {
  const app = useTestApp({ STANDARD_WEBHOOKS_SECRET: SECRET_A });

  it('stores the core-form message exactly as sent and answers 200 {"status":"ok"}', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'sw-1', text: 'Hello again' }));
    const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);
    expect(await allMessages(t)).toEqual([
      { message_id: 'sw-1', from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text: 'Hello again' },
    ]);
    expect(await webhookResult(t, 'created')).toBe(1);
    expect(requestLine(t, res)).toMatchObject({ status: 200, result: 'created', dup: false, message_id: 'sw-1', level: 'INFO' });
  });

  it('answers a redelivery 200 and stores nothing new (first write wins)', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'sw-dup', text: 'first' }));
    const headers = standardWebhooksHeaders(SECRET_A, body);
    const first = await post(t, body, headers);
    const same = await post(t, body, headers);
    const other = JSON.stringify(message({ message_id: 'sw-dup', text: 'changed' }));
    const changed = await post(t, other, standardWebhooksHeaders(SECRET_A, other, 'msg_another'));
    for (const res of [first, same, changed]) {
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(OK);
    }
    expect((await allMessages(t)).map((m) => [m.message_id, m.text])).toEqual([['sw-dup', 'first']]);
    expect(await webhookResult(t, 'duplicate')).toBe(2);
    expect(requestLine(t, same)).toMatchObject({ result: 'duplicate', dup: true });
  });

  it('verifies the raw bytes: whitespace and multi-byte characters are part of what is signed', async () => {
    const t = app();
    const body = Buffer.from(
      '\n{ "text": "héllo 😀", "ts": "2025-01-15T10:00:00Z", "to": "+2", "from": "+1", "message_id": "raw" }\n',
      'utf8',
    );
    const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body));
    expect(res.statusCode).toBe(200);
    expect((await allMessages(t)).map((m) => [m.message_id, m.text])).toEqual([['raw', 'héllo 😀']]);
  });

  it('accepts a timestamp inside the tolerance, past or future', async () => {
    const t = app();
    for (const [id, offset] of [
      ['past', -240],
      ['future', 240],
    ] as const) {
      const body = JSON.stringify(message({ message_id: id }));
      const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body, `msg_${id}`, nowSeconds() + offset));
      expect(res.statusCode, id).toBe(200);
    }
    expect(await storedCount(t)).toBe(2);
  });

  it('passes a header holding several signatures when one of them is valid', async () => {
    const t = app();
    for (const [i, arrange] of [
      (good: string, bad: string) => `${bad} ${good}`,
      (good: string, bad: string) => `${good} ${bad}`,
      (good: string) => `v2,c29tZXRoaW5nIGVsc2U= ${good}`,
      (good: string) => `v1,not-base64!! ${good} v1a,xyz`,
    ].entries()) {
      const body = JSON.stringify(message({ message_id: `multi-${i}` }));
      const timestamp = nowSeconds();
      const id = `msg_multi_${i}`;
      const good = standardWebhooksSignature(SECRET_A, id, timestamp, body);
      const bad = standardWebhooksSignature(SECRET_C, id, timestamp, body);
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': arrange(good, bad) };
      const res = await post(t, body, headers);
      expect(res.statusCode, headers['webhook-signature']).toBe(200);
    }
    expect(await storedCount(t)).toBe(4);
  });

  it('still validates the body: a signed invalid message is 422 and stores nothing', async () => {
    const t = app();
    const body = JSON.stringify(message({ from: 'nobody', ts: 'yesterday' }));
    const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body));
    expectValidationShape(res);
    expect(failingLocations(res).sort()).toEqual(['body.from', 'body.ts']);
    const notJson = 'not json';
    expectValidationShape(await post(t, notJson, standardWebhooksHeaders(SECRET_A, notJson, 'msg_2')));
    expect(await storedCount(t)).toBe(0);
    expect(await webhookResult(t, 'validation_error')).toBe(2);
  });
});

describe('POST /webhook: Standard Webhooks signature (401)', () => {
  const app = useTestApp({ STANDARD_WEBHOOKS_SECRET: SECRET_A });

  it('refuses every signature that is not by the key over id, timestamp and body', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'forged' }));
    const id = 'msg_forged';
    const ts = nowSeconds();
    const good = standardWebhooksSignature(SECRET_A, id, ts, body);
    const goodMac = good.slice('v1,'.length);
    const key = standardWebhooksKey(SECRET_A);
    const headersWith = (signature: string, overrides: Record<string, string> = {}) => ({
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signature,
      ...overrides,
    });
    const cases: [string, Record<string, string>][] = [
      ['another key', headersWith(standardWebhooksSignature(SECRET_C, id, ts, body))],
      ['another body', headersWith(standardWebhooksSignature(SECRET_A, id, ts, `${body} `))],
      ['another id', headersWith(standardWebhooksSignature(SECRET_A, 'msg_other', ts, body))],
      ['another timestamp', headersWith(standardWebhooksSignature(SECRET_A, id, ts - 1, body))],
      ['the body alone signed', headersWith(`v1,${hmacBase64(key, body)}`)],
      ['the whsec_ text used as the key', headersWith(`v1,${hmacBase64(Buffer.from(SECRET_A), `${id}.${ts}.${body}`)}`)],
      ['a v2 signature', headersWith(`v2,${goodMac}`)],
      ['no version', headersWith(goodMac)],
      ['hex instead of base64', headersWith(`v1,${Buffer.from(goodMac, 'base64').toString('hex')}`)],
      ['a truncated signature', headersWith(good.slice(0, -2))],
      ['an empty signature', headersWith('')],
      ['a comma only', headersWith('v1,')],
      ['an empty id', headersWith(standardWebhooksSignature(SECRET_A, '', ts, body), { 'webhook-id': '' })],
      ['no webhook-signature', { 'webhook-id': id, 'webhook-timestamp': String(ts) }],
      ['no webhook-id', { 'webhook-timestamp': String(ts), 'webhook-signature': good }],
      ['no webhook-timestamp', { 'webhook-id': id, 'webhook-signature': good }],
      ['a timestamp that is not Unix seconds', headersWith(good, { 'webhook-timestamp': `${ts}.0` })],
    ];
    for (const [name, headers] of cases) {
      const res = await post(t, body, headers);
      expect(res.statusCode, name).toBe(401);
      expect(res.body, name).toBe('{"detail":"invalid signature"}');
      expect(requestLine(t, res), name).toMatchObject({ result: 'invalid_signature', level: 'ERROR' });
    }
    expect(await storedCount(t)).toBe(0);
    expect(await webhookResult(t, 'invalid_signature')).toBe(cases.length);
  });

  it('refuses a correctly signed ISO timestamp: only Unix seconds are timestamps', async () => {
    const t = app();
    const body = JSON.stringify(message());
    const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body, 'msg_iso', '2025-01-15T10:00:00Z'));
    expect(res.statusCode).toBe(401);
    expect(await storedCount(t)).toBe(0);
  });
});

describe('POST /webhook: Standard Webhooks replay window', () => {
  const app = useTestApp({ STANDARD_WEBHOOKS_SECRET: SECRET_A });

  it('answers 401 {"detail":"stale timestamp"} to a correctly signed delivery outside the tolerance', async () => {
    const t = app();
    const now = nowSeconds();
    for (const [id, timestamp] of [
      ['old', now - 360],
      ['very-old', now - 86_400 * 365],
      ['future', now + 360],
      ['epoch', 0],
    ] as const) {
      const body = JSON.stringify(message({ message_id: id }));
      const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body, `msg_${id}`, timestamp));
      expect(res.statusCode, id).toBe(401);
      expect(res.body, id).toBe('{"detail":"stale timestamp"}');
      expect(requestLine(t, res), id).toMatchObject({ status: 401, result: 'stale_timestamp', level: 'ERROR' });
    }
    expect(await storedCount(t)).toBe(0);
    expect(await webhookResult(t, 'stale_timestamp')).toBe(4);
    expect(await webhookResult(t, 'invalid_signature')).toBe(0);
  });

  it('checks the signature first: a forged stale delivery is an invalid signature, not a stale one', async () => {
    const t = app();
    const body = JSON.stringify(message());
    const res = await post(t, body, standardWebhooksHeaders(SECRET_C, body, 'msg_forged_old', nowSeconds() - 3600));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ detail: 'invalid signature' });
    expect(await webhookResult(t, 'stale_timestamp')).toBe(0);
  });

  it('refuses a stale delivery even when the message was never seen, and takes it once re-signed now', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'resent' }));
    const stale = await post(t, body, standardWebhooksHeaders(SECRET_A, body, 'msg_resent', nowSeconds() - 1000));
    expect(stale.statusCode).toBe(401);
    const fresh = await post(t, body, standardWebhooksHeaders(SECRET_A, body, 'msg_resent'));
    expect(fresh.statusCode).toBe(200);
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['resent']);
  });
});

describe('POST /webhook: WEBHOOK_TOLERANCE_SECONDS', () => {
  const app = useTestApp({ STANDARD_WEBHOOKS_SECRET: SECRET_A, WEBHOOK_TOLERANCE_SECONDS: '30' });

  it('uses the configured window', async () => {
    const t = app();
    const cases: [string, number, number][] = [
      ['just-now', -2, 200],
      ['soon', 2, 200],
      ['a-minute-ago', -90, 401],
      ['in-a-minute', 90, 401],
    ];
    for (const [id, offset, expected] of cases) {
      const body = JSON.stringify(message({ message_id: id }));
      const res = await post(t, body, standardWebhooksHeaders(SECRET_A, body, `msg_${id}`, nowSeconds() + offset));
      expect(res.statusCode, id).toBe(expected);
    }
    expect((await allMessages(t)).map((m) => m.message_id).sort()).toEqual(['just-now', 'soon']);
  });
});

describe('POST /webhook: several Standard Webhooks secrets (rotation)', () => {
  const app = useTestApp({ STANDARD_WEBHOOKS_SECRET: `${SECRET_A}, ${SECRET_B}` });

  it('accepts a signature by either secret and refuses one by any other', async () => {
    const t = app();
    const results: number[] = [];
    for (const [id, secret] of [
      ['by-a', SECRET_A],
      ['by-b', SECRET_B],
      ['by-c', SECRET_C],
    ] as const) {
      const body = JSON.stringify(message({ message_id: id }));
      results.push((await post(t, body, standardWebhooksHeaders(secret, body, `msg_${id}`))).statusCode);
    }
    expect(results).toEqual([200, 200, 401]);
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['by-a', 'by-b']);
  });

  it('accepts a header signed by both secrets at once (a sender in mid-rotation)', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'both' }));
    const ts = nowSeconds();
    const signature = `${standardWebhooksSignature(SECRET_B, 'msg_both', ts, body)} ${standardWebhooksSignature(SECRET_A, 'msg_both', ts, body)}`;
    const res = await post(t, body, {
      'webhook-id': 'msg_both',
      'webhook-timestamp': String(ts),
      'webhook-signature': signature,
    });
    expect(res.statusCode).toBe(200);
    expect(await storedCount(t)).toBe(1);
  });
});

describe('POST /webhook: Standard Webhooks without STANDARD_WEBHOOKS_SECRET', () => {
  const app = useTestApp();

  it('answers 503, counts unavailable and stores nothing, however the delivery is signed', async () => {
    const t = app();
    const body = JSON.stringify(message());
    for (const headers of [
      standardWebhooksHeaders(SECRET_A, body),
      { 'webhook-id': 'msg_x' },
      { 'webhook-timestamp': String(nowSeconds()) },
      { 'webhook-signature': 'v1,abc' },
    ]) {
      const res = await post(t, body, headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(503);
    }
    expect(await storedCount(t)).toBe(0);
    expect(await webhookResult(t, 'unavailable')).toBe(4);
  });
});

describe('POST /webhook: X-Signature with a comma in the secret, and its previous value (rotation)', () => {
  const app = useTestApp({ WEBHOOK_SECRET: 'k9Qz!mR2#vL8,p', WEBHOOK_SECRET_PREVIOUS: 'old,key' });

  async function postWith(t: TestApp, secret: string, id: string): Promise<number> {
    const body = JSON.stringify(message({ message_id: id }));
    return (await postWebhook(t, body, { 'x-signature': hmacHex(secret, body) })).statusCode;
  }

  it('accepts a signature by the whole current value or the whole previous one', async () => {
    const t = app();
    expect(await postWith(t, 'k9Qz!mR2#vL8,p', 'by-current')).toBe(200);
    expect(await postWith(t, 'old,key', 'by-previous')).toBe(200);
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['by-current', 'by-previous']);
  });

  it('refuses a signature by any piece of either value, or anything else', async () => {
    const t = app();
    const forgeries = ['p', 'k9Qz!mR2#vL8', 'old', 'key', 'k9Qz!mR2#vL8,p,old,key', 'p,k9Qz!mR2#vL8', 'other', '', 'OLD,KEY'];
    for (const secret of forgeries) {
      expect(await postWith(t, secret, `by-${secret}`), JSON.stringify(secret)).toBe(401);
    }
    expect(await storedCount(t)).toBe(0);
  });
});
