// DELETE /messages/{message_id} and DELETE /conversations through app.inject: ADMIN_TOKEN guards
// them (403 unset, 401 without one of its tokens, API_TOKEN not enough), each status and body, and
// after every erasure the counting reads agree exactly with what is left, the text cannot be found,
// the feed forgets the rows, and a log line and a metric say what went, never the text.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { metaSignature } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { expectReadsExact, snapshot } from './exactness.js';
import {
  expectValidationShape,
  failingLocations,
  getMessageDetail,
  logLinesOf,
  message,
  postWebhook,
  requestLine,
  sampleValue,
  scrape,
  storeAll,
  useTestApp,
  whatsappFixture,
} from './support.js';

const ADMIN = 'admin-token-1';
const ADMIN_PREVIOUS = 'admin-token-0';
const READ = 'read-token';
const READER = { authorization: `Bearer ${READ}` };
const APP_SECRET = 'meta-app-secret';
const ENV = { ADMIN_TOKEN: ADMIN, ADMIN_TOKEN_PREVIOUS: ADMIN_PREVIOUS, WHATSAPP_APP_SECRET: APP_SECRET };
const ASHA = '+919876543210';
const BEN = '+447700900123';
const CARA = '+15550001111';
const SHOP = '+14155550100';
const DESK = '+14155550199';
/** The business number of the WhatsApp envelopes (their display_phone_number). */
const BUSINESS = '+15550783881';

function erase(t: TestApp, url: string, token: string | null = ADMIN): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'DELETE', url, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

const eraseMessage = (t: TestApp, id: string, token: string | null = ADMIN) =>
  erase(t, `/messages/${encodeURIComponent(id)}`, token);

async function postEnvelope(t: TestApp, body: object): Promise<void> {
  const raw = JSON.stringify(body);
  const res = await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
  if (res.statusCode !== 200) throw new Error(`envelope answered ${res.statusCode}: ${res.body}`);
}

/**
 * Three senders, two recipients, over three days and several hours; texts with words to search
 * for; WhatsApp messages with types, a contact name and delivery statuses.
 */
async function storeInbox(t: TestApp): Promise<void> {
  const at = (day: number, hour: number, minute = 0) =>
    `2025-03-0${day}T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00Z`;
  await storeAll(t, [
    message({ message_id: 'a1', from: ASHA, to: SHOP, ts: at(1, 9), text: 'Where is my parcel? secret-one' }),
    message({ message_id: 'a2', from: ASHA, to: SHOP, ts: at(1, 9, 30), text: 'Still waiting on the parcel' }),
    message({ message_id: 'a3', from: ASHA, to: DESK, ts: at(2, 14), text: 'Wrong desk, sorry' }),
    message({ message_id: 'b1', from: BEN, to: SHOP, ts: at(1, 10), text: 'Invoice please' }),
    message({ message_id: 'b2', from: BEN, to: SHOP, ts: at(3, 8), text: null }),
    message({ message_id: 'c1', from: CARA, to: DESK, ts: at(2, 9), text: 'Hello desk, secret-two' }),
  ]);
  await postEnvelope(
    t,
    whatsappEnvelope({
      contacts: [{ profile: { name: 'Asha Rao' }, wa_id: '919876543210' }],
      messages: [
        { from: '919876543210', id: 'wamid.w1', timestamp: '1740906000', type: 'text', text: { body: 'From WhatsApp: parcel' } },
        {
          from: '919876543210',
          id: 'wamid.w2',
          timestamp: '1740909600',
          type: 'image',
          image: { id: '1003383421387256', mime_type: 'image/jpeg', sha256: 'aGFzaA==', caption: 'The parcel, damaged' },
        },
      ],
      statuses: [
        { id: 'wamid.w1', status: 'delivered', timestamp: '1740906005', recipient_id: '919876543210' },
        { id: 'wamid.out-1', status: 'sent', timestamp: '1740906010', recipient_id: '919876543210' },
      ],
    }),
  );
}

const WORDS = ['parcel', 'secret', 'desk', 'invoice'];

describe('ADMIN_TOKEN unset: erasure answers 403', () => {
  const app = useTestApp({ API_TOKEN: READ, WHATSAPP_APP_SECRET: APP_SECRET });

  it('refuses both endpoints whatever token is sent, and removes nothing', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t, READER);
    for (const token of [null, READ, 'anything']) {
      for (const url of ['/messages/a1', '/messages/unknown', `/conversations?from=${ASHA}`, '/conversations']) {
        const res = await erase(t, url, token);
        expect(res.statusCode, `${url} ${token}`).toBe(403);
        expect(res.json()).toEqual({ detail: 'ADMIN_TOKEN is not set on the server: this endpoint is disabled' });
        expect(res.headers['www-authenticate']).toBeUndefined();
      }
    }
    expect(await snapshot(t, READER)).toEqual(before);
  });
});

describe('ADMIN_TOKEN set: erasure needs it as a bearer token', () => {
  const app = useTestApp({ ...ENV, API_TOKEN: READ });

  it('answers 401 without a token, with the read token, or with a wrong one; the challenge says which', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t, READER);
    for (const url of ['/messages/a1', `/conversations?from=${encodeURIComponent(ASHA)}`]) {
      const missing = await erase(t, url, null);
      expect(missing.statusCode, url).toBe(401);
      expect(missing.json()).toEqual({ detail: 'missing bearer token' });
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="webhook-inbox"');
      for (const token of [READ, 'admin-token-2', ADMIN.toUpperCase()]) {
        const wrong = await erase(t, url, token);
        expect(wrong.statusCode, `${url} ${token}`).toBe(401);
        expect(wrong.json()).toEqual({ detail: 'invalid bearer token' });
        expect(wrong.headers['www-authenticate']).toBe('Bearer realm="webhook-inbox", error="invalid_token"');
      }
      // Two tokens are no bearer token at all.
      const both = await erase(t, url, `${ADMIN} ${ADMIN_PREVIOUS}`);
      expect(both.statusCode).toBe(401);
      expect(both.json()).toEqual({ detail: 'missing bearer token' });
    }
    expect(await snapshot(t, READER)).toEqual(before);
    // Counted as refused credentials, like reads without a token.
    expect(sampleValue(await scrape(t), 'webhook_requests_total', { result: 'unauthorized' })).toBe(10);
  });

  it('accepts the current and the previous admin token, in any case of the scheme', async () => {
    const t = app();
    await storeInbox(t);
    expect((await eraseMessage(t, 'a1', ADMIN)).statusCode).toBe(204);
    expect((await eraseMessage(t, 'a2', ADMIN_PREVIOUS)).statusCode).toBe(204);
    const res = await t.app.inject({ method: 'DELETE', url: '/messages/a3', headers: { authorization: `bEaReR ${ADMIN}` } });
    expect(res.statusCode).toBe(204);
  });

  it('checks the token before the request: without one a bad query is 401, with one 422 or 404', async () => {
    const t = app();
    expect((await erase(t, '/conversations?from=oops', null)).statusCode).toBe(401);
    expect((await erase(t, '/messages/unknown', READ)).statusCode).toBe(401);
    expect((await erase(t, '/conversations?from=oops')).statusCode).toBe(422);
    expect((await erase(t, '/messages/unknown')).statusCode).toBe(404);
  });

  it('the admin token opens no read: reads still need API_TOKEN', async () => {
    const t = app();
    const res = await t.app.inject({ method: 'GET', url: '/messages', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.statusCode).toBe(401);
  });
});

describe('DELETE /messages/{message_id}', () => {
  const app = useTestApp(ENV);

  it('answers 204 with no body, and the message, its statuses and its text are gone from every read', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t);
    const res = await eraseMessage(t, 'wamid.w1');
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await getMessageDetail(t, 'wamid.w1')).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/messages?q=From%20WhatsApp' })).json()).toMatchObject({ total: 0 });
    await expectReadsExact(
      t,
      before.filter((m) => m.message_id !== 'wamid.w1'),
      WORDS,
    );
  });

  it('answers 404 for an id it does not know, and changes nothing; a second erasure is a 404 too', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t);
    const unknown = await eraseMessage(t, 'no-such-id');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ detail: 'message not found' });
    await expectReadsExact(t, before, WORDS);
    expect((await eraseMessage(t, 'a1')).statusCode).toBe(204);
    const again = await eraseMessage(t, 'a1');
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ detail: 'message not found' });
    await expectReadsExact(
      t,
      before.filter((m) => m.message_id !== 'a1'),
      WORDS,
    );
  });

  it('erases an id known only from its statuses', async () => {
    const t = app();
    await storeInbox(t);
    expect((await getMessageDetail(t, 'wamid.out-1')).statusCode).toBe(200);
    expect((await eraseMessage(t, 'wamid.out-1')).statusCode).toBe(204);
    expect((await getMessageDetail(t, 'wamid.out-1')).statusCode).toBe(404);
  });

  it('takes any id, percent-encoded, and answers 400 for a URL that is not UTF-8', async () => {
    const t = app();
    const odd = 'id with / slash, spaces & ünïcödé ✓';
    await storeAll(t, [message({ message_id: odd })]);
    expect((await eraseMessage(t, odd)).statusCode).toBe(204);
    expect((await getMessageDetail(t, odd)).statusCode).toBe(404);
    // A message whose id is "export" can be erased (only GET /messages/export is the export).
    await storeAll(t, [message({ message_id: 'export' })]);
    expect((await eraseMessage(t, 'export')).statusCode).toBe(204);
    expect((await erase(t, '/messages/%ED%A0%80')).statusCode).toBe(400);
  });

  it('removes the message and its status events from the feed, and nothing else', async () => {
    const t = app();
    await storeInbox(t);
    const events = async () =>
      (await t.app.inject({ method: 'GET', url: '/feed?limit=1000' })).json<{
        data: { type: string; data: { message_id?: string } }[];
      }>().data;
    const before = await events();
    expect(before.filter((e) => e.data.message_id === 'wamid.w1').map((e) => e.type)).toEqual([
      'message.created',
      'status.created',
    ]);
    await eraseMessage(t, 'wamid.w1');
    expect(await events()).toEqual(before.filter((e) => e.data.message_id !== 'wamid.w1'));
  });

  it('logs one line with the id and how many rows went, never the text, and counts them', async () => {
    const t = app();
    await storeInbox(t);
    const res = await eraseMessage(t, 'wamid.w1');
    const lines = logLinesOf(t, res).filter((l) => l.msg === 'message erased');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'INFO', erased: 'message', message_id: 'wamid.w1', messages: 1, statuses: 1 });
    expect(JSON.stringify(logLinesOf(t, res))).not.toContain('From WhatsApp');
    expect(requestLine(t, res)).toMatchObject({ method: 'DELETE', status: 204 });
    const samples = await scrape(t);
    expect(sampleValue(samples, 'erased_total', { kind: 'messages' })).toBe(1);
    expect(sampleValue(samples, 'erased_total', { kind: 'statuses' })).toBe(1);
    expect(sampleValue(samples, 'erased_total', { kind: 'dead_letters' })).toBe(0);
    expect(sampleValue(samples, 'http_requests_total', { path: '/messages/:message_id', status: '204' })).toBe(1);
  });

  it('lets the same message be stored again afterwards, as new', async () => {
    const t = app();
    await storeAll(t, [message({ message_id: 'again', text: 'first' })]);
    await eraseMessage(t, 'again');
    await storeAll(t, [message({ message_id: 'again', text: 'second' })]);
    expect((await snapshot(t)).map((m) => [m.message_id, m.text])).toEqual([['again', 'second']]);
  });
});

describe('DELETE /conversations', () => {
  const app = useTestApp(ENV);

  it('erases every message from a sender and answers how many', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t);
    const res = await erase(t, `/conversations?from=${encodeURIComponent(ASHA)}`);
    expect(res.statusCode).toBe(200);
    const gone = before.filter((m) => m.from === ASHA);
    expect(gone.length).toBe(5);
    expect(res.json()).toEqual({ deleted: gone.length });
    await expectReadsExact(
      t,
      before.filter((m) => m.from !== ASHA),
      WORDS,
    );
    // Their statuses went with them; statuses of messages never received stay.
    expect((await getMessageDetail(t, 'wamid.w1')).statusCode).toBe(404);
    expect((await getMessageDetail(t, 'wamid.out-1')).statusCode).toBe(200);
  });

  it('with `to`, erases that conversation only', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t);
    const res = await erase(t, `/conversations?from=${encodeURIComponent(ASHA)}&to=${encodeURIComponent(DESK)}`);
    expect(res.json()).toEqual({ deleted: 1 });
    await expectReadsExact(
      t,
      before.filter((m) => !(m.from === ASHA && m.to === DESK)),
      WORDS,
    );
    // Then everything, one conversation at a time, down to an empty inbox.
    for (const m of await snapshot(t))
      await erase(t, `/conversations?from=${encodeURIComponent(m.from)}&to=${encodeURIComponent(m.to)}`);
    await expectReadsExact(t, [], WORDS);
  });

  it('answers {"deleted": 0} when nothing matches, and changes nothing', async () => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t);
    for (const query of ['from=%2B10000000000', `from=${encodeURIComponent(CARA)}&to=${encodeURIComponent(SHOP)}`]) {
      const res = await erase(t, `/conversations?${query}`);
      expect(res.statusCode, query).toBe(200);
      expect(res.json()).toEqual({ deleted: 0 });
    }
    await expectReadsExact(t, before, WORDS);
  });

  it('reads a leading space as + (a raw + in a query string), as the reads do', async () => {
    const t = app();
    await storeInbox(t);
    const res = await erase(t, `/conversations?from=${BEN}`);
    expect(res.json()).toEqual({ deleted: 2 });
  });

  it.each([
    ['', ['query.from']],
    ['?to=%2B14155550100', ['query.from']],
    ['?from=', ['query.from']],
    ['?from=919876543210', ['query.from']],
    ['?from=%2B91-98765', ['query.from']],
    ['?from=%2B919876543210&to=shop', ['query.to']],
    ['?from=%2B919876543210&from=%2B447700900123', ['query.from']],
    ['?from=abc&to=def', ['query.from', 'query.to']],
  ])('answers 422 for %j naming %j, and erases nothing', async (query, locations) => {
    const t = app();
    await storeInbox(t);
    const before = await snapshot(t);
    const res = await erase(t, `/conversations${query}`);
    expectValidationShape(res);
    expect(failingLocations(res)).toEqual(locations);
    expect(await snapshot(t)).toEqual(before);
  });

  it('says "missing" for an absent from, and the pattern for a malformed one', async () => {
    const t = app();
    const missing = (await erase(t, '/conversations')).json<{ detail: { type: string }[] }>();
    expect(missing.detail.map((d) => d.type)).toEqual(['missing']);
    const malformed = (await erase(t, '/conversations?from=123')).json<{ detail: { type: string }[] }>();
    expect(malformed.detail.map((d) => d.type)).toEqual(['string_pattern_mismatch']);
  });

  it('logs one line with the numbers and counts, never a text, and counts the rows', async () => {
    const t = app();
    await storeInbox(t);
    // The two WhatsApp messages, one of them with a status.
    const res = await erase(t, `/conversations?from=${encodeURIComponent(ASHA)}&to=${encodeURIComponent(BUSINESS)}`);
    expect(res.json()).toEqual({ deleted: 2 });
    const lines = logLinesOf(t, res).filter((l) => l.msg === 'conversation erased');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      erased: 'conversation',
      from: ASHA,
      to: BUSINESS,
      messages: 2,
      statuses: 1,
      dead_letters: 0,
    });
    const logged = JSON.stringify(logLinesOf(t, res));
    for (const text of ['parcel', 'From WhatsApp', 'Asha Rao']) expect(logged).not.toContain(text);
    const samples = await scrape(t);
    expect(sampleValue(samples, 'erased_total', { kind: 'messages' })).toBe(2);
    expect(sampleValue(samples, 'erased_total', { kind: 'statuses' })).toBe(1);
  });

  it('erases a WhatsApp sender whose envelope also held unreadable items, leaving the dead letters', async () => {
    const t = app();
    await postEnvelope(t, JSON.parse(whatsappFixture('mixed-unreadable').toString('utf8')) as object);
    const deadLetters = async () =>
      (await t.app.inject({ method: 'GET', url: '/dead-letters?limit=100' })).json<{ total: number }>().total;
    const kept = await deadLetters();
    expect(kept).toBeGreaterThan(0);
    const before = await snapshot(t);
    const res = await erase(t, `/conversations?from=${encodeURIComponent(ASHA)}`);
    expect(res.json()).toEqual({ deleted: 2 });
    await expectReadsExact(
      t,
      before.filter((m) => m.from !== ASHA),
      [],
    );
    expect(await deadLetters()).toBe(kept);
  });
});
