// GET /feed through app.inject, fed by real signed webhooks of every kind (X-Signature, Standard
// Webhooks, WhatsApp envelopes with statuses and dead letters): one event per stored message,
// status and dead letter, positions strictly increasing in commit order, each event's data in the
// shape of the read it mirrors, next_after, paging, the filters, 422s, redeliveries and auth.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { metaSignature, standardWebhooksHeaders, whsecSecret } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import {
  allDeadLetters,
  expectValidationShape,
  failingLocations,
  getMessageDetail,
  message,
  postWebhook,
  sampleValue,
  scrape,
  useTestApp,
  whatsappFixture,
} from './support.js';

const APP_SECRET = 'meta-app-secret';
const STANDARD_SECRET = whsecSecret('standard-webhooks key for feeds');
const ENV = { WHATSAPP_APP_SECRET: APP_SECRET, STANDARD_WEBHOOKS_SECRET: STANDARD_SECRET };
const TYPES = ['message.created', 'status.created', 'dead_letter.created'] as const;
type EventType = (typeof TYPES)[number];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

interface FeedItem {
  position: number;
  type: EventType;
  received_at: string;
  data: Record<string, unknown>;
}
interface FeedPage {
  data: FeedItem[];
  next_after: number;
}

function getFeed(t: TestApp, query = '', headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url: `/feed${query}`, headers });
}

async function feed(t: TestApp, query = ''): Promise<FeedPage> {
  const res = await getFeed(t, query);
  if (res.statusCode !== 200) throw new Error(`GET /feed${query} answered ${res.statusCode}: ${res.body}`);
  const body = res.json<FeedPage>();
  expect(Object.keys(body).sort()).toEqual(['data', 'next_after']);
  return body;
}

/** Every event, read page by page as a follower would, passing each next_after back. */
async function wholeFeed(t: TestApp, limit = 1000, extra = ''): Promise<FeedItem[]> {
  const all: FeedItem[] = [];
  let after = 0;
  for (;;) {
    const page = await feed(t, `?after=${after}&limit=${limit}${extra}`);
    all.push(...page.data);
    if (page.data.length === 0) {
      expect(page.next_after).toBe(after);
      return all;
    }
    expect(page.next_after).toBe(page.data.at(-1)?.position);
    after = page.next_after;
  }
}

function postEnvelope(t: TestApp, body: string | Buffer | object): Promise<LightMyRequestResponse> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
}

function postStandard(t: TestApp, body: object, id: string): Promise<LightMyRequestResponse> {
  const raw = JSON.stringify(body);
  return postWebhook(t, raw, standardWebhooksHeaders(STANDARD_SECRET, raw, id));
}

async function ok(res: Promise<LightMyRequestResponse>): Promise<void> {
  const answered = await res;
  if (answered.statusCode !== 200) throw new Error(`webhook answered ${answered.statusCode}: ${answered.body}`);
}

const textMessage = (id: string, body: string, from = '919876543210', timestamp = '1736935200') => ({
  from,
  id,
  timestamp,
  type: 'text',
  text: { body },
});

/**
 * One of each source, then two WhatsApp envelopes: one with messages, a status and dead letters,
 * one with statuses only. Returns how many events of each type they make.
 */
async function storeEveryKind(t: TestApp): Promise<Record<EventType, number>> {
  await ok(t.postSigned(message({ message_id: 'spec-1', text: 'Hello from X-Signature', extra: { kept: true } })));
  await ok(
    postStandard(t, message({ message_id: 'std-1', from: '+447700900123', to: '+14155550199', text: null }), 'msg_feed_1'),
  );
  await ok(postEnvelope(t, whatsappFixture('mixed-unreadable')));
  await ok(postEnvelope(t, whatsappFixture('statuses')));
  await ok(
    postEnvelope(
      t,
      whatsappEnvelope({
        messages: [textMessage('wamid.feed-1', 'Hi')],
        statuses: [{ id: 'wamid.feed-out', status: 'sent', timestamp: '1736935300', recipient_id: '919876543210' }],
      }),
    ),
  );
  // spec-1, std-1, three of mixed-unreadable, wamid.feed-1; one status of mixed-unreadable, four of
  // statuses, one of the last; nine dead letters in mixed-unreadable.
  return { 'message.created': 6, 'status.created': 6, 'dead_letter.created': 9 };
}

function expectStrictlyIncreasing(items: readonly FeedItem[]): void {
  const positions = items.map((item) => item.position);
  for (const position of positions) {
    expect(Number.isSafeInteger(position)).toBe(true);
    expect(position).toBeGreaterThan(0);
  }
  for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThan(positions[i - 1] ?? 0);
}

describe('GET /feed: every stored event, in commit order', () => {
  const app = useTestApp(ENV);

  it('is empty at first: no events, and next_after is after', async () => {
    const t = app();
    expect(await feed(t)).toEqual({ data: [], next_after: 0 });
    expect(await feed(t, '?after=0')).toEqual({ data: [], next_after: 0 });
    expect(await feed(t, '?after=123456')).toEqual({ data: [], next_after: 123456 });
  });

  it('holds one event per message, status and dead letter stored, each kind of webhook included', async () => {
    const t = app();
    const counts = await storeEveryKind(t);
    const items = await wholeFeed(t);
    expectStrictlyIncreasing(items);
    for (const type of TYPES) expect(items.filter((item) => item.type === type).length, type).toBe(counts[type]);
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['data', 'position', 'received_at', 'type']);
      expect(item.received_at).toMatch(ISO_UTC);
    }
    // The default page is the first 100, oldest first.
    expect((await feed(t)).data).toEqual(items);
  });

  it('orders events by commit: each webhook’s events come after those of the webhook before it', async () => {
    const t = app();
    await ok(t.postSigned(message({ message_id: 'first' })));
    await ok(postEnvelope(t, whatsappEnvelope({ messages: [{ id: 'wamid.dead' }] })));
    await ok(postStandard(t, message({ message_id: 'third' }), 'msg_third'));
    await ok(
      postEnvelope(
        t,
        whatsappEnvelope({ statuses: [{ id: 'first', status: 'read', timestamp: '1736935470', recipient_id: '919876543210' }] }),
      ),
    );
    // Sent with an older ts than every other: the feed is in commit order, not ts order.
    await ok(t.postSigned(message({ message_id: 'late', ts: '2001-01-01T00:00:00Z' })));
    const items = await wholeFeed(t);
    expectStrictlyIncreasing(items);
    expect(items.map((item) => [item.type, item.data.message_id ?? item.data.item_id])).toEqual([
      ['message.created', 'first'],
      ['dead_letter.created', 'wamid.dead'],
      ['message.created', 'third'],
      ['status.created', 'first'],
      ['message.created', 'late'],
    ]);
    const times = items.map((item) => Date.parse(item.received_at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('message.created data is GET /messages/{message_id} without statuses, for every source', async () => {
    const t = app();
    await storeEveryKind(t);
    const items = (await wholeFeed(t)).filter((item) => item.type === 'message.created');
    expect(items.map((item) => item.data.source)).toEqual(['spec', 'standard', 'whatsapp', 'whatsapp', 'whatsapp', 'whatsapp']);
    for (const item of items) {
      const detail = await getMessageDetail(t, String(item.data.message_id));
      expect(detail.statusCode).toBe(200);
      const { statuses, ...withoutStatuses } = detail.json<Record<string, unknown>>();
      expect(Array.isArray(statuses)).toBe(true);
      expect(item.data).toEqual(withoutStatuses);
      expect(item.received_at).toBe(item.data.received_at);
    }
    // What the signed body held, unknown fields included.
    expect(items[0]?.data).toMatchObject({
      message_id: 'spec-1',
      text: 'Hello from X-Signature',
      raw: message({ message_id: 'spec-1', text: 'Hello from X-Signature', extra: { kept: true } }),
    });
    expect(items[1]?.data).toMatchObject({ message_id: 'std-1', from: '+447700900123', to: '+14155550199', text: null });
  });

  it('status.created data is the status with its message_id, exactly as GET /messages/{message_id} lists it', async () => {
    const t = app();
    await storeEveryKind(t);
    const items = (await wholeFeed(t)).filter((item) => item.type === 'status.created');
    expect(items).toHaveLength(6);
    for (const item of items) {
      expect(Object.keys(item.data).sort()).toEqual(['errors', 'message_id', 'recipient_id', 'status', 'ts']);
      const { message_id: id, ...status } = item.data;
      const detail = await getMessageDetail(t, String(id));
      expect(detail.statusCode).toBe(200);
      expect(detail.json<{ statuses: unknown[] }>().statuses).toContainEqual(status);
    }
    const failed = items.find((item) => item.data.status === 'failed');
    expect(failed?.data).toEqual({
      message_id: 'wamid.HBgLMTY1MDU1NTAxOTkVAgARGBI0RjNFMkQxQzBCOUE4Rjc2RTUA',
      status: 'failed',
      ts: '2025-01-15T10:05:00Z',
      recipient_id: '16505550199',
      errors: [
        {
          code: 131026,
          title: 'Message undeliverable',
          message: 'Message undeliverable',
          error_data: { details: 'Unable to deliver the message to the recipient.' },
        },
      ],
    });
    expect(items.find((item) => item.data.message_id === 'wamid.feed-out')?.data).toEqual({
      message_id: 'wamid.feed-out',
      status: 'sent',
      ts: '2025-01-15T10:01:40Z',
      recipient_id: '919876543210',
      errors: null,
    });
  });

  it('dead_letter.created data is the GET /dead-letters item, one event for each', async () => {
    const t = app();
    await storeEveryKind(t);
    const items = (await wholeFeed(t)).filter((item) => item.type === 'dead_letter.created');
    const letters = await allDeadLetters(t);
    expect(letters).toHaveLength(9);
    expect(items.map((item) => item.data)).toEqual(letters);
    for (const item of items) expect(item.received_at).toBe(item.data.received_at);
  });

  it('counts the dead letter events appended in /metrics, a redelivered one not again', async () => {
    const t = app();
    await ok(postEnvelope(t, whatsappFixture('mixed-unreadable')));
    const dead = async () => sampleValue(await scrape(t), 'feed_events_total', { type: 'dead_letter.created' });
    expect(await dead()).toBe(9);
    await ok(postEnvelope(t, whatsappFixture('mixed-unreadable')));
    expect(await dead()).toBe(9);
    await ok(postEnvelope(t, whatsappEnvelope({ messages: [{ id: 'wamid.one-more' }] })));
    expect(await dead()).toBe(10);
  });

  it('a redelivery adds no event: the same message, envelope or Standard Webhooks delivery again', async () => {
    const t = app();
    await storeEveryKind(t);
    const before = await wholeFeed(t);
    await ok(t.postSigned(message({ message_id: 'spec-1', text: 'Hello from X-Signature', extra: { kept: true } })));
    await ok(t.postSigned(message({ message_id: 'spec-1', text: 'another text, same id' })));
    await ok(postEnvelope(t, whatsappFixture('mixed-unreadable')));
    await ok(postEnvelope(t, whatsappFixture('statuses')));
    await ok(
      postStandard(t, message({ message_id: 'std-1', from: '+447700900123', to: '+14155550199', text: null }), 'msg_feed_2'),
    );
    expect(await wholeFeed(t)).toEqual(before);
    const last = before.at(-1)?.position ?? 0;
    expect(await feed(t, `?after=${last}`)).toEqual({ data: [], next_after: last });
  });

  it('counts the message and status events appended in /metrics, and shows the newest position and its time', async () => {
    const t = app();
    const empty = await scrape(t);
    for (const type of TYPES) expect(sampleValue(empty, 'feed_events_total', { type })).toBe(0);
    expect(sampleValue(empty, 'feed_head_position')).toBe(0);
    expect(sampleValue(empty, 'feed_head_received_at_seconds')).toBe(0);
    const counts = await storeEveryKind(t);
    const samples = await scrape(t);
    for (const type of ['message.created', 'status.created'] as const) {
      expect(sampleValue(samples, 'feed_events_total', { type }), type).toBe(counts[type]);
    }
    const items = await wholeFeed(t);
    const newest = items.at(-1);
    expect(sampleValue(samples, 'feed_head_position')).toBe(newest?.position);
    expect(sampleValue(samples, 'feed_head_received_at_seconds')).toBe(Date.parse(newest?.received_at ?? '') / 1000);
  });
});

describe('GET /feed: after, limit and next_after', () => {
  const app = useTestApp(ENV);

  it('pages: limit L gives the L oldest after `after`, next_after the last position returned', async () => {
    const t = app();
    await storeEveryKind(t);
    const items = await wholeFeed(t);
    expect(items.length).toBe(21);
    for (const limit of [1, 2, 5, 20, 21, 1000]) expect(await wholeFeed(t, limit), `limit ${limit}`).toEqual(items);
    const third = items[2]?.position ?? 0;
    const page = await feed(t, `?after=${third}&limit=4`);
    expect(page.data).toEqual(items.slice(3, 7));
    expect(page.next_after).toBe(items[6]?.position);
    // after needs no event at that position: it is a place in the order.
    const between = await feed(t, `?after=${third}&limit=1`);
    expect(between.data[0]).toEqual(items[3]);
    const last = items.at(-1)?.position ?? 0;
    expect(await feed(t, `?after=${last}&limit=1000`)).toEqual({ data: [], next_after: last });
    expect(await feed(t, `?after=${last + 1000}`)).toEqual({ data: [], next_after: last + 1000 });
    expect((await feed(t, '?limit=1')).data).toEqual(items.slice(0, 1));
  });

  it('a follower that passes next_after back sees each new event once, whenever it arrives', async () => {
    const t = app();
    let after = 0;
    const seen: FeedItem[] = [];
    for (let i = 0; i < 5; i++) {
      await ok(t.postSigned(message({ message_id: `follow-${i}` })));
      const page = await feed(t, `?after=${after}`);
      seen.push(...page.data);
      after = page.next_after;
      const again = await feed(t, `?after=${after}`);
      expect(again).toEqual({ data: [], next_after: after });
    }
    expect(seen.map((item) => item.data.message_id)).toEqual(['follow-0', 'follow-1', 'follow-2', 'follow-3', 'follow-4']);
    expectStrictlyIncreasing(seen);
  });

  it.each([
    ['?limit=0', 'query.limit'],
    ['?limit=1001', 'query.limit'],
    ['?limit=-1', 'query.limit'],
    ['?limit=abc', 'query.limit'],
    ['?limit=1.5', 'query.limit'],
    ['?limit=', 'query.limit'],
    ['?limit=1&limit=2', 'query.limit'],
    ['?after=-1', 'query.after'],
    ['?after=abc', 'query.after'],
    ['?after=1.5', 'query.after'],
    ['?after=', 'query.after'],
    ['?after=1e3', 'query.after'],
    ['?after=99999999999999999999', 'query.after'],
    ['?after=1&after=2', 'query.after'],
    ['?types=message', 'query.types'],
    ['?types=message.created,unknown', 'query.types'],
    ['?types=Message.Created', 'query.types'],
    ['?types=message.created,', 'query.types'],
    ['?to=14155550100', 'query.to'],
    ['?to=someone', 'query.to'],
  ])('%s is a 422 naming %s', async (query, loc) => {
    const t = app();
    const res = await getFeed(t, query);
    expectValidationShape(res);
    expect(failingLocations(res)).toEqual([loc]);
  });

  it('names every bad parameter of one request', async () => {
    const t = app();
    const res = await getFeed(t, '?after=-1&limit=0&types=nope');
    expectValidationShape(res);
    expect(failingLocations(res).sort()).toEqual(['query.after', 'query.limit', 'query.types']);
  });
});

describe('GET /feed: types, from and to', () => {
  const app = useTestApp(ENV);

  it('types keeps the events of those types; from and to keep only message events of that sender or recipient', async () => {
    const t = app();
    await storeEveryKind(t);
    const all = await wholeFeed(t);
    const only = (keep: (item: FeedItem) => boolean) => all.filter(keep);
    const cases: [string, FeedItem[]][] = [
      ['&types=message.created', only((i) => i.type === 'message.created')],
      ['&types=status.created', only((i) => i.type === 'status.created')],
      ['&types=dead_letter.created', only((i) => i.type === 'dead_letter.created')],
      ['&types=dead_letter.created,status.created', only((i) => i.type !== 'message.created')],
      [`&types=${TYPES.join(',')}`, all],
      ['&types=', all],
      ['&from=%2B447700900123', only((i) => i.type === 'message.created' && i.data.from === '+447700900123')],
      // A + sent raw arrives as a space, read back as +.
      ['&from=+919876543210', only((i) => i.type === 'message.created' && i.data.from === '+919876543210')],
      ['&to=%2B14155550199', only((i) => i.type === 'message.created' && i.data.to === '+14155550199')],
      ['&to=+15550783881', only((i) => i.type === 'message.created' && i.data.to === '+15550783881')],
      [
        '&from=%2B919876543210&to=%2B15550783881',
        only((i) => i.type === 'message.created' && i.data.from === '+919876543210' && i.data.to === '+15550783881'),
      ],
      ['&from=%2B919876543210&types=status.created', []],
      ['&from=%2B10000000000', []],
    ];
    for (const [query, expected] of cases) {
      expect(await wholeFeed(t, 1000, query), query).toEqual(expected);
      expect(await wholeFeed(t, 2, query), `${query} by pages of 2`).toEqual(expected);
    }
    // Sanity: the filters above do select something.
    expect(cases.filter(([, expected]) => expected.length > 0).length).toBeGreaterThanOrEqual(10);
  });

  it('with a filter, next_after is the last position returned, or after when none is', async () => {
    const t = app();
    await storeEveryKind(t);
    const statuses = (await wholeFeed(t)).filter((item) => item.type === 'status.created');
    const page = await feed(t, '?types=status.created&limit=2');
    expect(page).toEqual({ data: statuses.slice(0, 2), next_after: statuses[1]?.position });
    const last = statuses.at(-1)?.position ?? 0;
    expect(await feed(t, `?types=status.created&after=${last}`)).toEqual({ data: [], next_after: last });
  });
});

describe('GET /feed and GET /events with API_TOKEN set', () => {
  const app = useTestApp({ ...ENV, API_TOKEN: 'feed-token' });

  it('answer 401 without the bearer token, before looking at the parameters; /feed answers 200 with it', async () => {
    const t = app();
    await ok(t.postSigned(message({ message_id: 'secret-text', text: 'not for strangers' })));
    for (const url of ['/feed', '/feed?after=-1', '/events', '/events?after=-1']) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'feed-token' }]) {
        const res = await t.app.inject({ method: 'GET', url, headers });
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="webhook-inbox"/);
        expect(res.body).not.toContain('not for strangers');
      }
    }
    const res = await getFeed(t, '', { authorization: 'Bearer feed-token' });
    expect(res.statusCode).toBe(200);
    expect(res.json<FeedPage>().data.map((item) => item.data.message_id)).toEqual(['secret-text']);
  });

  it('/events with the token still checks its parameters before any stream starts', async () => {
    const t = app();
    const res = await t.app.inject({
      method: 'GET',
      url: '/events?types=nope',
      headers: { authorization: 'Bearer feed-token', 'last-event-id': 'x' },
    });
    expectValidationShape(res);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(failingLocations(res).sort()).toEqual(['header.last-event-id', 'query.types']);
  });
});
