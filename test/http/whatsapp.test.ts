// WhatsApp Cloud API webhooks through app.inject: the GET /webhook subscription handshake, signed
// envelopes (X-Hub-Signature-256), what they store (messages, statuses, dead letters), and the
// metrics and log lines they leave. Envelopes come from test/fixtures/whatsapp/.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { TEST_SECRET, type TestApp } from '../helpers/app.js';
import { hmacHex, metaSignature } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import {
  allDeadLetters,
  allMessages,
  expectValidationShape,
  getDeadLetters,
  getMessageDetail,
  getStats,
  jsonAt,
  logLinesOf,
  message,
  messageDetail,
  postWebhook,
  requestLine,
  sampleValue,
  scrape,
  useTestApp,
  whatsappFixture,
} from './support.js';

const APP_SECRET = 'meta-app-secret';
const VERIFY_TOKEN = 'verify-me';
const WHATSAPP_ENV = { WHATSAPP_APP_SECRET: APP_SECRET, WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN };
const OK = { status: 'ok' };
const BUSINESS = '+15550783881';

/** POST /webhook signed as Meta signs: X-Hub-Signature-256 over exactly these bytes. */
function postEnvelope(t: TestApp, body: string | Buffer | object, secret = APP_SECRET): Promise<LightMyRequestResponse> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(secret, raw) });
}

function textMessage(id: string, body: string, timestamp = '1736935200', from = '919876543210'): object {
  return { from, id, timestamp, type: 'text', text: { body } };
}

function status(id: string, name: string, timestamp: string, extra: object = {}): object {
  return { id, status: name, timestamp, recipient_id: '919876543210', ...extra };
}

async function whatsappItems(t: TestApp, kind: string, result: string): Promise<number | undefined> {
  return sampleValue(await scrape(t), 'whatsapp_items_total', { kind, result });
}

async function webhookResult(t: TestApp, result: string): Promise<number | undefined> {
  return sampleValue(await scrape(t), 'webhook_requests_total', { result });
}

async function expectNothingStored(t: TestApp): Promise<void> {
  expect((await getStats(t)).total_messages).toBe(0);
  expect(await allMessages(t)).toEqual([]);
  expect((await getDeadLetters(t)).total).toBe(0);
}

describe('GET /webhook: the subscription handshake', () => {
  const app = useTestApp(WHATSAPP_ENV);

  function handshake(t: TestApp, query: string): Promise<LightMyRequestResponse> {
    return t.app.inject({ method: 'GET', url: `/webhook${query}` });
  }

  it('echoes hub.challenge exactly, as text/plain, when the verify token is ours', async () => {
    const t = app();
    const res = await handshake(t, `?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('1158201444');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('echoes a challenge with markup and spaces byte for byte, still as text/plain', async () => {
    const t = app();
    const challenge = '<b>hi</b> & ok';
    const res = await handshake(
      t,
      `?hub.mode=subscribe&hub.challenge=${encodeURIComponent(challenge)}&hub.verify_token=${VERIFY_TOKEN}`,
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(challenge);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  const refused: [string, string][] = [
    ['a wrong token', '?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1'],
    ['the token in another case', '?hub.mode=subscribe&hub.verify_token=VERIFY-ME&hub.challenge=1'],
    ['the token with a trailing space', '?hub.mode=subscribe&hub.verify_token=verify-me%20&hub.challenge=1'],
    ['an empty token', '?hub.mode=subscribe&hub.verify_token=&hub.challenge=1'],
    ['a wrong mode', `?hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`],
    ['no mode', `?hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`],
    ['no token', '?hub.mode=subscribe&hub.challenge=1'],
    ['no challenge', `?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}`],
    ['no query at all', ''],
    ['a repeated token', `?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`],
    ['a repeated mode', `?hub.mode=subscribe&hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`],
    ['a repeated challenge', `?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1&hub.challenge=2`],
  ];

  it('answers 403 {"detail":"verification failed"} to anything else, counting each as unauthorized', async () => {
    const t = app();
    for (const [name, query] of refused) {
      const res = await handshake(t, query);
      expect(res.statusCode, name).toBe(403);
      expect(res.json(), name).toEqual({ detail: 'verification failed' });
      expect(res.body, name).not.toContain('1158201444');
    }
    expect(await webhookResult(t, 'unauthorized')).toBe(refused.length);
    const line = t.logs.find((l) => l.msg === 'request completed' && l.status === 403);
    expect(line).toMatchObject({ path: '/webhook', result: 'unauthorized' });
  });
});

describe('GET /webhook: several verify tokens (rotation)', () => {
  const app = useTestApp({ WHATSAPP_VERIFY_TOKEN: 'new-token,x', WHATSAPP_VERIFY_TOKEN_PREVIOUS: 'old-token' });

  it('accepts the whole current token and the previous one, and none of their pieces', async () => {
    const t = app();
    for (const token of ['old-token', 'new-token,x']) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/webhook?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=42`,
      });
      expect(res.statusCode, token).toBe(200);
      expect(res.body).toBe('42');
    }
    for (const token of ['new-token', 'x', 'new-token,x,old-token', 'other']) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/webhook?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=42`,
      });
      expect(res.statusCode, token).toBe(403);
    }
  });
});

describe('GET /webhook without WHATSAPP_VERIFY_TOKEN', () => {
  const app = useTestApp();

  it('refuses every handshake with 403', async () => {
    const t = app();
    for (const token of ['', VERIFY_TOKEN, 'undefined', 'null']) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/webhook?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=7`,
      });
      expect(res.statusCode, token).toBe(403);
      expect(res.json()).toEqual({ detail: 'verification failed' });
    }
    expect(await webhookResult(t, 'unauthorized')).toBe(4);
  });
});

describe('POST /webhook: a signed WhatsApp envelope', () => {
  const app = useTestApp(WHATSAPP_ENV);

  it('stores a text message as a core-form message: +from, +business number, UTC ts, text.body', async () => {
    const t = app();
    const res = await postEnvelope(t, whatsappFixture('text'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);
    const items = await allMessages(t);
    expect(items).toEqual([
      {
        message_id: 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggQTFCMkMzRDRFNUY2QTdCOEM5RDBFMUYyQTNCNEM1RDYA',
        from: '+919876543210',
        to: BUSINESS,
        ts: '2025-01-15T10:00:00Z',
        text: 'Hello! Is my order on its way? 📦',
      },
    ]);
    for (const item of items) expect(Object.keys(item).sort()).toEqual(['from', 'message_id', 'text', 'to', 'ts']);
    const stats = await getStats(t);
    expect(stats).toMatchObject({
      total_messages: 1,
      senders_count: 1,
      messages_per_sender: [{ from: '+919876543210', count: 1 }],
      first_message_ts: '2025-01-15T10:00:00Z',
      last_message_ts: '2025-01-15T10:00:00Z',
    });
    expect((await getDeadLetters(t)).total).toBe(0);
  });

  it('takes the caption of media, null for media without one, and the body of a system message', async () => {
    const t = app();
    for (const name of ['image-with-caption', 'document-without-caption', 'system-user-changed-number']) {
      const res = await postEnvelope(t, whatsappFixture(name));
      expect(res.statusCode, name).toBe(200);
    }
    expect(await allMessages(t)).toEqual([
      {
        message_id: 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggRjFFMkQzQzRCNUE2OTc4ODk5QUFCQkNDRERFRUZGMDAA',
        from: '+919876543210',
        to: BUSINESS,
        ts: '2025-01-15T10:01:00Z',
        text: 'The box arrived like this',
      },
      {
        message_id: 'wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYIDk4NzY1NDMyMTBBQkNERUYwMTIzNDU2Nzg5QUJDREVGAA==',
        from: '+4915112345678',
        to: BUSINESS,
        ts: '2025-01-15T10:02:00Z',
        text: null,
      },
      {
        message_id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGCBDMEQxRTJGM0E0QjVDNkQ3RThGOUEwQjFDMkQzRTRGNQA=',
        from: '+16505551234',
        to: BUSINESS,
        ts: '2025-01-15T10:03:00Z',
        text: 'Maya changed their phone number to a new number 16505559876',
      },
    ]);
    const image = await messageDetail(t, 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggRjFFMkQzQzRCNUE2OTc4ODk5QUFCQkNDRERFRUZGMDAA');
    expect(image.type).toBe('image');
    const system = await messageDetail(t, 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGCBDMEQxRTJGM0E0QjVDNkQ3RThGOUEwQjFDMkQzRTRGNQA=');
    expect(system.type).toBe('system');
  });

  it('reads every entry and change: messages and statuses stored, other fields acknowledged and counted', async () => {
    const t = app();
    const res = await postEnvelope(t, whatsappFixture('several-entries'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);
    expect(await allMessages(t)).toEqual([
      { message_id: 'wamid.multi-1', from: '+919876543210', to: BUSINESS, ts: '2025-01-15T10:13:20Z', text: 'First' },
      { message_id: 'wamid.multi-2', from: '+4915112345678', to: BUSINESS, ts: '2025-01-15T10:13:21Z', text: null },
      { message_id: 'wamid.multi-3', from: '+447700900123', to: '+15550100200', ts: '2025-01-15T10:15:00Z', text: null },
      { message_id: 'wamid.multi-4', from: '+447700900123', to: '+15550100200', ts: '2025-01-15T10:15:05Z', text: null },
      { message_id: 'wamid.multi-5', from: '+447700900123', to: '+15550100200', ts: '2025-01-15T10:15:10Z', text: 'Short clip' },
    ]);
    expect((await messageDetail(t, 'wamid.multi-3')).type).toBe('location');
    expect((await messageDetail(t, 'wamid.multi-4')).type).toBe('reaction');
    expect((await messageDetail(t, 'wamid.multi-out-1')).statuses).toEqual([
      { status: 'delivered', ts: '2025-01-15T10:13:22Z', recipient_id: '919876543210', errors: null },
    ]);
    expect((await messageDetail(t, 'wamid.multi-out-2')).statuses.map((s) => [s.status, s.ts])).toEqual([
      ['sent', '2025-01-15T10:14:50Z'],
      ['read', '2025-01-15T10:15:20Z'],
    ]);
    expect((await getDeadLetters(t)).total).toBe(0);

    const samples = await scrape(t);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'message', result: 'created' })).toBe(5);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'status', result: 'created' })).toBe(3);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'change', result: 'ignored' })).toBe(2);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'envelope_stored' })).toBe(1);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'created' })).toBe(0);

    const line = requestLine(t, res);
    expect(line).toMatchObject({
      path: '/webhook',
      status: 200,
      level: 'INFO',
      result: 'envelope_stored',
      dup: false,
      items: { messages: 5, statuses: 3, dead_letters: 0, ignored_changes: 2 },
    });
  });

  it('names the message on the log line of an envelope that carried exactly one', async () => {
    const t = app();
    const res = await postEnvelope(t, whatsappFixture('text'));
    expect(requestLine(t, res)).toMatchObject({
      message_id: 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggQTFCMkMzRDRFNUY2QTdCOEM5RDBFMUYyQTNCNEM1RDYA',
      result: 'envelope_stored',
      dup: false,
      items: { messages: 1, statuses: 0, dead_letters: 0, ignored_changes: 0 },
    });
  });

  it('acknowledges an envelope of other fields only, and stores nothing', async () => {
    const t = app();
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } },
            { field: 'message_template_status_update', value: { event: 'APPROVED' } },
            { field: 'security', value: { event: 'PIN_CHANGED' } },
          ],
        },
      ],
    };
    const res = await postEnvelope(t, body);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);
    await expectNothingStored(t);
    expect(await whatsappItems(t, 'change', 'ignored')).toBe(3);
    expect(requestLine(t, res)).toMatchObject({ result: 'envelope_stored', items: { ignored_changes: 3 } });
  });

  it('acknowledges an envelope with no entries', async () => {
    const t = app();
    const res = await postEnvelope(t, { object: 'whatsapp_business_account', entry: [] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);
    await expectNothingStored(t);
  });

  it('lists WhatsApp messages through the usual filters', async () => {
    const t = app();
    await postEnvelope(t, whatsappFixture('several-entries'));
    const byFrom = await t.app.inject({ method: 'GET', url: '/messages?from=%2B447700900123' });
    expect(byFrom.json<{ total: number }>().total).toBe(3);
    const byText = await t.app.inject({ method: 'GET', url: '/messages?q=short' });
    expect(byText.json<{ data: { message_id: string }[] }>().data.map((m) => m.message_id)).toEqual(['wamid.multi-5']);
  });
});

describe('POST /webhook: WhatsApp redelivery', () => {
  const app = useTestApp(WHATSAPP_ENV);

  it('stores nothing new when the same envelope comes again, and says so', async () => {
    const t = app();
    const first = await postEnvelope(t, whatsappFixture('several-entries'));
    const messagesBefore = await allMessages(t);
    const statusesBefore = await messageDetail(t, 'wamid.multi-out-2');
    const again = await postEnvelope(t, whatsappFixture('several-entries'));
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(OK);
    expect(await allMessages(t)).toEqual(messagesBefore);
    expect(await messageDetail(t, 'wamid.multi-out-2')).toEqual(statusesBefore);
    expect((await messageDetail(t, 'wamid.multi-out-1')).statuses).toHaveLength(1);
    expect((await getStats(t)).total_messages).toBe(5);

    const samples = await scrape(t);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'message', result: 'created' })).toBe(5);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'message', result: 'duplicate' })).toBe(5);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'status', result: 'created' })).toBe(3);
    expect(sampleValue(samples, 'whatsapp_items_total', { kind: 'status', result: 'duplicate' })).toBe(3);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'envelope_stored' })).toBe(2);
    expect(requestLine(t, first)).toMatchObject({ dup: false });
    expect(requestLine(t, again)).toMatchObject({ dup: true, result: 'envelope_stored' });
  });

  it('stores nothing new when an envelope with unreadable items comes again: no second copy of its dead letters', async () => {
    const t = app();
    const first = await postEnvelope(t, whatsappFixture('mixed-unreadable'));
    const lettersBefore = await allDeadLetters(t);
    const again = await postEnvelope(t, whatsappFixture('mixed-unreadable'));
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect((await getStats(t)).total_messages).toBe(3);
    // The log line already calls this delivery a duplicate; the store should agree.
    expect(requestLine(t, again)).toMatchObject({ dup: true });
    expect(await allDeadLetters(t)).toEqual(lettersBefore);
  });

  it('keeps the first copy of a message id and of a (message id, status) pair', async () => {
    const t = app();
    await postEnvelope(
      t,
      whatsappEnvelope({
        messages: [textMessage('wamid.once', 'first')],
        statuses: [status('wamid.sent-once', 'read', '1736935300')],
      }),
    );
    const later = await postEnvelope(
      t,
      whatsappEnvelope({
        messages: [textMessage('wamid.once', 'second', '1736939999', '4915112345678')],
        statuses: [status('wamid.sent-once', 'read', '1736939999', { recipient_id: '4915112345678' })],
      }),
    );
    expect(later.statusCode).toBe(200);
    expect(requestLine(t, later)).toMatchObject({ dup: true });
    expect(await allMessages(t)).toEqual([
      { message_id: 'wamid.once', from: '+919876543210', to: BUSINESS, ts: '2025-01-15T10:00:00Z', text: 'first' },
    ]);
    expect((await messageDetail(t, 'wamid.sent-once')).statuses).toEqual([
      { status: 'read', ts: '2025-01-15T10:01:40Z', recipient_id: '919876543210', errors: null },
    ]);
  });

  it('treats a WhatsApp message whose id a core-form message already holds as a duplicate', async () => {
    const t = app();
    expect((await t.postSigned(message({ message_id: 'shared-id', text: 'from the core form' }))).statusCode).toBe(200);
    const res = await postEnvelope(t, whatsappEnvelope({ messages: [textMessage('shared-id', 'from WhatsApp')] }));
    expect(res.statusCode).toBe(200);
    expect(await allMessages(t)).toEqual([
      {
        message_id: 'shared-id',
        from: '+919876543210',
        to: '+14155550100',
        ts: '2025-01-15T10:00:00Z',
        text: 'from the core form',
      },
    ]);
    expect(await whatsappItems(t, 'message', 'duplicate')).toBe(1);
  });

  it('stores every distinct item of concurrent deliveries once', async () => {
    const t = app();
    const bodies = Array.from({ length: 12 }, (_, i) =>
      whatsappEnvelope({
        messages: [textMessage(`wamid.c${i % 4}`, `copy ${i}`)],
        statuses: [status(`wamid.out-${i % 3}`, 'delivered', '1736935300')],
      }),
    );
    const responses = await Promise.all(bodies.map((b) => postEnvelope(t, b)));
    expect(responses.map((r) => r.statusCode)).toEqual(responses.map(() => 200));
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['wamid.c0', 'wamid.c1', 'wamid.c2', 'wamid.c3']);
    for (const id of ['wamid.out-0', 'wamid.out-1', 'wamid.out-2']) {
      expect((await messageDetail(t, id)).statuses, id).toHaveLength(1);
    }
    expect(await whatsappItems(t, 'message', 'created')).toBe(4);
    expect(await whatsappItems(t, 'message', 'duplicate')).toBe(8);
    expect(await whatsappItems(t, 'status', 'created')).toBe(3);
    expect(await whatsappItems(t, 'status', 'duplicate')).toBe(9);
  });
});

describe('GET /messages/{message_id}', () => {
  const app = useTestApp(WHATSAPP_ENV);
  const OUTGOING = 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSM0E5QjhDN0Q2RTVGNEEzQjJDAA==';
  const FAILED = 'wamid.HBgLMTY1MDU1NTAxOTkVAgARGBI0RjNFMkQxQzBCOUE4Rjc2RTUA';

  it('shows a message known only from its statuses, with null message fields', async () => {
    const t = app();
    expect((await postEnvelope(t, whatsappFixture('statuses'))).statusCode).toBe(200);
    expect(await messageDetail(t, OUTGOING)).toEqual({
      message_id: OUTGOING,
      from: null,
      to: null,
      ts: null,
      text: null,
      type: null,
      source: null,
      received_at: null,
      contact_name: null,
      reply_to: null,
      phone_number_id: null,
      raw: null,
      statuses: [
        { status: 'sent', ts: '2025-01-15T10:03:20Z', recipient_id: '919876543210', errors: null },
        { status: 'delivered', ts: '2025-01-15T10:03:22Z', recipient_id: '919876543210', errors: null },
        { status: 'read', ts: '2025-01-15T10:04:30Z', recipient_id: '919876543210', errors: null },
      ],
    });
    const errors = jsonAt(
      JSON.parse(whatsappFixture('statuses').toString('utf8')),
      'entry',
      0,
      'changes',
      0,
      'value',
      'statuses',
      3,
      'errors',
    );
    expect(errors).toBeInstanceOf(Array);
    expect((await messageDetail(t, FAILED)).statuses).toEqual([
      { status: 'failed', ts: '2025-01-15T10:05:00Z', recipient_id: '16505550199', errors },
    ]);
    // Statuses are not messages: nothing to list or count.
    expect(await allMessages(t)).toEqual([]);
    expect((await getStats(t)).total_messages).toBe(0);
    expect(await whatsappItems(t, 'status', 'created')).toBe(4);
  });

  it('orders statuses by instant, then sent < delivered < read < failed', async () => {
    const t = app();
    const id = 'wamid.order';
    const res = await postEnvelope(
      t,
      whatsappEnvelope({
        statuses: [
          status(id, 'read', '1736935200'),
          status(id, 'failed', '1736935200'),
          status(id, 'sent', '1736935200'),
          status(id, 'delivered', '1736935100'),
        ],
      }),
    );
    expect(res.statusCode).toBe(200);
    expect((await messageDetail(t, id)).statuses.map((s) => [s.ts, s.status])).toEqual([
      ['2025-01-15T09:58:20Z', 'delivered'],
      ['2025-01-15T10:00:00Z', 'sent'],
      ['2025-01-15T10:00:00Z', 'read'],
      ['2025-01-15T10:00:00Z', 'failed'],
    ]);
  });

  it('orders statuses that arrive in separate deliveries the same way', async () => {
    const t = app();
    const id = 'wamid.split';
    for (const [name, timestamp] of [
      ['read', '1736935200'],
      ['delivered', '1736935200'],
      ['sent', '1736935199'],
    ] as const) {
      expect((await postEnvelope(t, whatsappEnvelope({ statuses: [status(id, name, timestamp)] }))).statusCode).toBe(200);
    }
    expect((await messageDetail(t, id)).statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('shows a received message with its statuses and its type', async () => {
    const t = app();
    const res = await postEnvelope(
      t,
      whatsappEnvelope({ messages: [textMessage('wamid.both', 'Hi')], statuses: [status('wamid.both', 'read', '1736935210')] }),
    );
    expect(res.statusCode).toBe(200);
    expect(await messageDetail(t, 'wamid.both')).toEqual({
      message_id: 'wamid.both',
      from: '+919876543210',
      to: BUSINESS,
      ts: '2025-01-15T10:00:00Z',
      text: 'Hi',
      type: 'text',
      source: 'whatsapp',
      received_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      contact_name: null,
      reply_to: null,
      phone_number_id: '106540352242922',
      raw: textMessage('wamid.both', 'Hi'),
      statuses: [{ status: 'read', ts: '2025-01-15T10:00:10Z', recipient_id: '919876543210', errors: null }],
    });
  });

  it('shows a core-form message with type null and no statuses', async () => {
    const t = app();
    await t.postSigned(message({ message_id: 'spec-1' }));
    expect(await messageDetail(t, 'spec-1')).toEqual({
      message_id: 'spec-1',
      from: '+919876543210',
      to: '+14155550100',
      ts: '2025-01-15T10:00:00Z',
      text: 'Hello',
      type: null,
      source: 'spec',
      received_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      contact_name: null,
      reply_to: null,
      phone_number_id: null,
      raw: message({ message_id: 'spec-1' }),
      statuses: [],
    });
  });

  it('finds ids holding characters that must be percent-encoded in a path', async () => {
    const t = app();
    const ids = ['a/b', 'with space', 'q?x=1', 'hash#1', 'pct%41', 'ünï 😀', 'plus+sign'];
    for (const id of ids) expect((await t.postSigned(message({ message_id: id }))).statusCode, id).toBe(200);
    for (const id of ids) {
      const res = await getMessageDetail(t, id);
      expect(res.statusCode, id).toBe(200);
      expect(res.json<{ message_id: string }>().message_id).toBe(id);
    }
  });

  it('finds a message whose id is as long as ingest allows (512 characters), or whose encoded form is long', async () => {
    const t = app();
    // Ingest stores ids of up to 512 code points; a client asks for one percent-encoded, so a
    // short non-ASCII id is a long path segment (40 characters here, 240 once encoded).
    const ids = [`wamid.${'x'.repeat(506)}`, `wamid.${'x'.repeat(95)}`, 'é'.repeat(40)];
    for (const id of ids) expect((await t.postSigned(message({ message_id: id }))).statusCode).toBe(200);
    for (const id of ids) {
      const res = await getMessageDetail(t, id);
      expect(res.statusCode, `${id.length} characters: ${res.body.slice(0, 80)}`).toBe(200);
      expect(res.json<{ message_id: string }>().message_id).toBe(id);
    }
  });

  it('answers 404 {"detail":"message not found"} for an unknown id', async () => {
    const t = app();
    await postEnvelope(t, whatsappFixture('text'));
    for (const id of ['wamid.unknown', 'WAMID.HBGMOTE5ODC2NTQZMJEWFQIAEHGGQTFCMKMZRDRFNUY2QTDCOEM5RDBFMUYYQTNCNEM1RDYA', ' ']) {
      const res = await getMessageDetail(t, id);
      expect(res.statusCode, id).toBe(404);
      expect(res.json()).toEqual({ detail: 'message not found' });
    }
  });
});

describe('POST /webhook: unreadable WhatsApp items become dead letters', () => {
  const app = useTestApp(WHATSAPP_ENV);

  it('stores the readable items, keeps each unreadable one whole, and answers 200', async () => {
    const t = app();
    const raw = whatsappFixture('mixed-unreadable');
    const sent: unknown = JSON.parse(raw.toString('utf8'));
    const res = await postEnvelope(t, raw);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(OK);

    expect(await allMessages(t)).toEqual([
      {
        message_id: 'wamid.mixed-ok-1',
        from: '+919876543210',
        to: BUSINESS,
        ts: '2025-01-15T10:30:00Z',
        text: 'This one is fine',
      },
      { message_id: 'wamid.mixed-ok-2', from: '+919876543210', to: BUSINESS, ts: '2025-01-15T10:30:03Z', text: null },
      { message_id: 'wamid.mixed-ok-3', from: '+447700900123', to: '+15550100200', ts: '2025-01-15T10:31:40Z', text: null },
    ]);
    expect((await messageDetail(t, 'wamid.mixed-ok-3')).type).toBe('unsupported');
    expect((await messageDetail(t, 'wamid.mixed-out-2')).statuses).toEqual([
      { status: 'delivered', ts: '2025-01-15T10:30:11Z', recipient_id: '919876543210', errors: null },
    ]);
    // The status of an unknown kind was not stored as a status.
    expect((await getMessageDetail(t, 'wamid.mixed-out-1')).statusCode).toBe(404);

    const value = ['entry', 0, 'changes', 0, 'value'] as const;
    const expected = [
      { kind: 'message', item_id: 'wamid.mixed-bad-from', item: jsonAt(sent, ...value, 'messages', 1), mentions: 'from' },
      { kind: 'message', item_id: null, item: jsonAt(sent, ...value, 'messages', 2), mentions: 'id' },
      { kind: 'message', item_id: null, item: 'not a message object', mentions: 'message' },
      { kind: 'status', item_id: 'wamid.mixed-out-1', item: jsonAt(sent, ...value, 'statuses', 0), mentions: 'status' },
      { kind: 'status', item_id: null, item: 42, mentions: 'status' },
      { kind: 'entry', item_id: null, item: 'not an entry', mentions: 'entry' },
      { kind: 'entry', item_id: '204417733920155', item: { id: '204417733920155' }, mentions: 'changes' },
      { kind: 'change', item_id: null, item: jsonAt(sent, 'entry', 3, 'changes', 0), mentions: 'field' },
      { kind: 'change', item_id: null, item: jsonAt(sent, 'entry', 3, 'changes', 1), mentions: 'messages' },
    ];
    const letters = await getDeadLetters(t);
    expect(letters.total).toBe(expected.length);
    expect(letters.limit).toBe(50);
    expect(letters.offset).toBe(0);
    const key = (l: { kind: string; item: unknown }) => `${l.kind} ${JSON.stringify(l.item)}`;
    const byKey = new Map(letters.data.map((l) => [key(l), l]));
    expect([...byKey.keys()].sort()).toEqual(expected.map(key).sort());
    for (const want of expected) {
      const got = byKey.get(key(want));
      expect(got, key(want)).toMatchObject({ source: 'whatsapp', kind: want.kind, item_id: want.item_id, item: want.item });
      expect(got?.reason, key(want)).toContain(want.mentions);
      expect(Object.keys(got ?? {}).sort()).toEqual(['id', 'item', 'item_id', 'kind', 'reason', 'received_at', 'source']);
    }
    for (const letter of letters.data) {
      expect(Number.isInteger(letter.id)).toBe(true);
      expect(Number.isNaN(Date.parse(letter.received_at))).toBe(false);
    }

    const samples = await scrape(t);
    const items = (kind: string, result: string) => sampleValue(samples, 'whatsapp_items_total', { kind, result });
    expect(items('message', 'created')).toBe(3);
    expect(items('status', 'created')).toBe(1);
    expect(items('message', 'dead_letter')).toBe(3);
    expect(items('status', 'dead_letter')).toBe(2);
    expect(items('entry', 'dead_letter')).toBe(2);
    expect(items('change', 'dead_letter')).toBe(2);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'envelope_partial' })).toBe(1);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'envelope_stored' })).toBe(0);
  });

  it('logs the delivery as envelope_partial and each dead letter at WARNING, without the item itself', async () => {
    const t = app();
    const res = await postEnvelope(t, whatsappFixture('mixed-unreadable'));
    expect(requestLine(t, res)).toMatchObject({
      status: 200,
      result: 'envelope_partial',
      dup: false,
      items: { messages: 3, statuses: 1, dead_letters: 9, ignored_changes: 0 },
    });
    const warnings = logLinesOf(t, res).filter((l) => l.msg !== 'request completed' && l.level === 'WARNING');
    expect(warnings).toHaveLength(9);
    expect(warnings.map((l) => l.kind).sort()).toEqual([
      'change',
      'change',
      'entry',
      'entry',
      'message',
      'message',
      'message',
      'status',
      'status',
    ]);
    for (const line of warnings) expect(typeof line.reason).toBe('string');
    const logged = JSON.stringify(t.logs);
    expect(logged).not.toContain('Sender written the way people write it');
    expect(logged).not.toContain('No id at all');
  });

  it('dead-letters a message whose text is too long, next to its stored sibling', async () => {
    const t = app();
    const long = textMessage('wamid.long', 'a'.repeat(4097));
    const res = await postEnvelope(t, whatsappEnvelope({ messages: [long, textMessage('wamid.short', 'a'.repeat(4096))] }));
    expect(res.statusCode).toBe(200);
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['wamid.short']);
    const letters = await getDeadLetters(t);
    expect(letters.data).toHaveLength(1);
    expect(letters.data[0]).toMatchObject({ kind: 'message', item_id: 'wamid.long', item: long });
    expect(letters.data[0]?.reason).toContain('text');
  });

  it('dead-letters every message of a change whose business number is unreadable', async () => {
    const t = app();
    const res = await postEnvelope(
      t,
      whatsappEnvelope({ messages: [textMessage('wamid.n1', 'x'), textMessage('wamid.n2', 'y')] }, 'call us'),
    );
    expect(res.statusCode).toBe(200);
    expect(await allMessages(t)).toEqual([]);
    expect((await getDeadLetters(t)).data.map((l) => [l.kind, l.item_id])).toEqual([
      ['message', 'wamid.n1'],
      ['message', 'wamid.n2'],
    ]);
  });

  it('lists dead letters oldest first, across deliveries', async () => {
    const t = app();
    for (const i of [1, 2, 3]) {
      const res = await postEnvelope(t, whatsappEnvelope({ messages: [{ id: `wamid.bad-${i}`, type: 'text' }] }));
      expect(res.statusCode).toBe(200);
    }
    const letters = await allDeadLetters(t);
    expect(letters.map((l) => l.item_id)).toEqual(['wamid.bad-1', 'wamid.bad-2', 'wamid.bad-3']);
    const ids = letters.map((l) => l.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
    const times = letters.map((l) => Date.parse(l.received_at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });
});

describe('GET /dead-letters: paging', () => {
  const app = useTestApp(WHATSAPP_ENV);

  async function storeDeadLetters(t: TestApp, count: number): Promise<void> {
    const messages = Array.from({ length: count }, (_, i) => ({ id: `wamid.dl-${String(i).padStart(3, '0')}` }));
    const res = await postEnvelope(t, whatsappEnvelope({ messages }));
    expect(res.statusCode).toBe(200);
  }

  it('answers an empty page on an empty store', async () => {
    expect(await getDeadLetters(app())).toEqual({ data: [], total: 0, limit: 50, offset: 0 });
  });

  it('pages with limit and offset and echoes them; total ignores both', async () => {
    const t = app();
    await storeDeadLetters(t, 120);
    const first = await getDeadLetters(t);
    expect(first.data).toHaveLength(50);
    expect(first.total).toBe(120);
    const page = await getDeadLetters(t, '?limit=7&offset=10');
    expect(page.limit).toBe(7);
    expect(page.offset).toBe(10);
    expect(page.total).toBe(120);
    expect(page.data.map((l) => l.item_id)).toEqual(first.data.slice(10, 17).map((l) => l.item_id));
    const max = await getDeadLetters(t, '?limit=100&offset=100');
    expect(max.data).toHaveLength(20);
    const beyond = await getDeadLetters(t, '?offset=500');
    expect(beyond.data).toEqual([]);
    expect(beyond.total).toBe(120);
    const everything = await allDeadLetters(t);
    expect(everything.map((l) => l.item_id)).toEqual(
      Array.from({ length: 120 }, (_, i) => `wamid.dl-${String(i).padStart(3, '0')}`),
    );
  });

  it('refuses bad paging values with 422, naming them', async () => {
    const t = app();
    for (const [query, name] of [
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?limit=-1', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=1.5', 'limit'],
      ['?limit=', 'limit'],
      ['?limit=1&limit=2', 'limit'],
      ['?offset=-1', 'offset'],
      ['?offset=x', 'offset'],
      ['?offset=1e3', 'offset'],
    ]) {
      const res = await t.app.inject({ method: 'GET', url: `/dead-letters${query}` });
      expect(res.statusCode, query).toBe(422);
      const body = expectValidationShape(res);
      expect(
        body.detail.map((d) => d.loc.join('.')),
        query,
      ).toContain(`query.${name}`);
    }
  });
});

describe('POST /webhook: WhatsApp signature (401)', () => {
  const app = useTestApp(WHATSAPP_ENV);
  const raw = whatsappFixture('text');

  async function expectRefused(t: TestApp, headers: Record<string, string>, body: string | Buffer = raw): Promise<void> {
    const res = await postWebhook(t, body, headers);
    expect(res.statusCode, JSON.stringify(headers)).toBe(401);
    expect(res.body).toBe('{"detail":"invalid signature"}');
  }

  it('refuses wrong, malformed and misplaced signatures, stores nothing and logs at ERROR', async () => {
    const t = app();
    const good = metaSignature(APP_SECRET, raw);
    const variants: Record<string, string>[] = [
      { 'x-hub-signature-256': metaSignature('other-secret', raw) },
      { 'x-hub-signature-256': metaSignature(TEST_SECRET, raw) },
      { 'x-hub-signature-256': metaSignature(APP_SECRET, Buffer.concat([raw, Buffer.from(' ')])) },
      { 'x-hub-signature-256': hmacHex(APP_SECRET, raw) },
      { 'x-hub-signature-256': `sha1=${hmacHex(APP_SECRET, raw)}` },
      { 'x-hub-signature-256': 'sha256=' },
      { 'x-hub-signature-256': '' },
      { 'x-hub-signature-256': `${good}0` },
      { 'x-hub-signature-256': good.slice(0, -1) },
      { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      { 'x-hub-signature-256': `sha256=${Buffer.from(good.slice(7), 'hex').toString('base64')}` },
      // Meta's signature sent in the core form's header: verified as an X-Signature, with WEBHOOK_SECRET.
      { 'x-signature': good },
      {},
    ];
    for (const headers of variants) await expectRefused(t, headers);
    await expectNothingStored(t);
    expect(await webhookResult(t, 'invalid_signature')).toBe(variants.length);
    const lines = t.logs.filter((l) => l.msg === 'request completed' && l.path === '/webhook');
    expect(lines).toHaveLength(variants.length);
    for (const line of lines) expect(line).toMatchObject({ status: 401, level: 'ERROR', result: 'invalid_signature' });
  });

  it('refuses the signature of another body even with the right secret', async () => {
    const t = app();
    const other = whatsappFixture('image-with-caption');
    await expectRefused(t, { 'x-hub-signature-256': metaSignature(APP_SECRET, other) });
    await expectRefused(t, {
      'x-hub-signature-256': metaSignature(APP_SECRET, JSON.stringify(JSON.parse(raw.toString('utf8')))),
    });
    await expectNothingStored(t);
  });

  it('checks the signature before reading: an unsigned non-envelope is 401, not 422', async () => {
    const t = app();
    await expectRefused(t, { 'x-hub-signature-256': metaSignature('wrong', 'not json') }, 'not json');
    expect(await webhookResult(t, 'envelope_invalid')).toBe(0);
  });
});

describe('POST /webhook: several WhatsApp app secrets (rotation)', () => {
  // Meta app secrets are hex: a comma can only separate two of them.
  const OLD = '0123456789abcdef0123456789abcdef';
  const NEW = 'fedcba9876543210fedcba9876543210';
  const app = useTestApp({ WHATSAPP_APP_SECRET: `${OLD}, ${NEW}` });

  it('accepts a signature by any of them and refuses others', async () => {
    const t = app();
    const byOld = await postEnvelope(t, whatsappEnvelope({ messages: [textMessage('wamid.old', 'old')] }), OLD);
    const byNew = await postEnvelope(t, whatsappEnvelope({ messages: [textMessage('wamid.new', 'new')] }), NEW);
    const byOther = await postEnvelope(
      t,
      whatsappEnvelope({ messages: [textMessage('wamid.other', 'other')] }),
      'another-secret',
    );
    expect(byOld.statusCode).toBe(200);
    expect(byNew.statusCode).toBe(200);
    expect(byOther.statusCode).toBe(401);
    expect((await allMessages(t)).map((m) => m.message_id)).toEqual(['wamid.new', 'wamid.old']);
  });
});

describe('POST /webhook: WhatsApp without WHATSAPP_APP_SECRET', () => {
  const app = useTestApp();

  it('answers 503, counts unavailable and stores nothing, however the envelope is signed', async () => {
    const t = app();
    const raw = whatsappFixture('text');
    for (const secret of [APP_SECRET, '', TEST_SECRET]) {
      const res = await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(secret, raw) });
      expect(res.statusCode, secret).toBe(503);
      expect(typeof res.json<{ detail: unknown }>().detail).toBe('string');
    }
    await expectNothingStored(t);
    expect(await webhookResult(t, 'unavailable')).toBe(3);
  });

  it('cannot flood the log: each refusal is a DEBUG line, with one WARNING per minute for the scheme', async () => {
    const t = app();
    const raw = whatsappFixture('text');
    for (let i = 0; i < 20; i++) {
      expect((await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature('forged', raw) })).statusCode).toBe(503);
    }
    const requestLines = t.logs.filter((l) => l.msg === 'request completed' && l.path === '/webhook');
    expect(requestLines).toHaveLength(20);
    for (const line of requestLines) expect(line).toMatchObject({ level: 'DEBUG', status: 503, result: 'unavailable' });
    const warnings = t.logs.filter((l) => l.level === 'WARNING' || l.level === 'ERROR');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'WARNING', variable: 'WHATSAPP_APP_SECRET', refused: 1 });
    expect(await webhookResult(t, 'unavailable')).toBe(20);
  });
});

describe('POST /webhook: signed bodies that are not WhatsApp envelopes (422)', () => {
  const app = useTestApp(WHATSAPP_ENV);

  it('refuses them FastAPI-style, counts envelope_invalid and stores nothing', async () => {
    const t = app();
    const bodies: [string, string | Buffer, string][] = [
      ['not JSON', 'not json', 'body'],
      ['truncated JSON', whatsappFixture('text').subarray(0, 40), 'body'],
      ['an empty body', '', 'body'],
      ['a JSON array', '[]', 'body'],
      ['a JSON string', '"whatsapp_business_account"', 'body'],
      ['null', 'null', 'body'],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'body'],
      ['another object', '{"object":"page","entry":[]}', 'body.object'],
      ['no object', '{"entry":[]}', 'body.object'],
      ['no entry', '{"object":"whatsapp_business_account"}', 'body.entry'],
      ['entry an object', '{"object":"whatsapp_business_account","entry":{}}', 'body.entry'],
      ['entry a string', '{"object":"whatsapp_business_account","entry":"[]"}', 'body.entry'],
      ['a core-form message', JSON.stringify(message()), 'body.object'],
    ];
    for (const [name, body, location] of bodies) {
      const res = await postEnvelope(t, body);
      expect(res.statusCode, name).toBe(422);
      const detail = expectValidationShape(res).detail;
      expect(
        detail.some((d) => d.loc.join('.') === location),
        `${name}: ${res.body}`,
      ).toBe(true);
      expect(requestLine(t, res), name).toMatchObject({ status: 422, result: 'envelope_invalid', level: 'WARNING' });
    }
    await expectNothingStored(t);
    expect(await webhookResult(t, 'envelope_invalid')).toBe(bodies.length);
  });
});

describe('GET /metrics: the results of issue 5 exist from start', () => {
  const app = useTestApp(WHATSAPP_ENV);

  it('exports every webhook_requests_total result and every whatsapp_items_total pair at 0', async () => {
    const samples = await scrape(app());
    for (const result of [
      'created',
      'duplicate',
      'invalid_signature',
      'validation_error',
      'payload_too_large',
      'unavailable',
      'stale_timestamp',
      'unauthorized',
      'overloaded',
      'envelope_stored',
      'envelope_partial',
      'envelope_invalid',
    ]) {
      expect(sampleValue(samples, 'webhook_requests_total', { result }), result).toBe(0);
    }
    for (const [kind, result] of [
      ['message', 'created'],
      ['message', 'duplicate'],
      ['message', 'dead_letter'],
      ['status', 'created'],
      ['status', 'duplicate'],
      ['status', 'dead_letter'],
      ['entry', 'dead_letter'],
      ['change', 'dead_letter'],
      ['change', 'ignored'],
    ]) {
      expect(sampleValue(samples, 'whatsapp_items_total', { kind: kind ?? '', result: result ?? '' }), `${kind} ${result}`).toBe(
        0,
      );
    }
  });
});
