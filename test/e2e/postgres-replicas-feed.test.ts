// The feed across replicas (SPEC C.3), end to end: two real server processes on one PostgreSQL
// database. A client following GET /events on one replica receives what was posted to either,
// each event once, in position order, exactly as GET /feed lists it; a reader paging through
// GET /feed?after=N while both replicas take webhooks at once ends with every acknowledged message,
// no position twice and none skipped (a write that commits later never shows a smaller position);
// and a stream dropped half-way and resumed on the other replica with Last-Event-ID misses nothing
// and repeats nothing.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/postgres.js';
import { jsonLines, type RunningServer, startServer } from '../helpers/server.js';
import { hmacHex, metaSignature } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { EventStream, getJson, message, metricValue, runPool, type ServerSentEvent } from './client.js';

const SECRET = 'e2e-replicas-feed-secret';
const APP_SECRET = 'e2e-replicas-feed-meta-secret';
const TOKEN = 'e2e-replicas-feed-read-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** Long enough for a loaded two-core machine; the contract's 1 s is not what these tests measure. */
const ARRIVAL_TIMEOUT_MS = 60_000;

interface FeedItem {
  position: number;
  type: string;
  received_at: string;
  data: Record<string, unknown>;
}

interface FeedPage {
  data: FeedItem[];
  next_after: number;
}

/** One GET /feed page, with the read token. */
async function feedPage(baseUrl: string, after: number, limit: number): Promise<FeedPage> {
  const { status, json } = await getJson(`${baseUrl}/feed?after=${after}&limit=${limit}`, AUTH);
  if (status !== 200) throw new Error(`GET /feed?after=${after} answered ${status}: ${JSON.stringify(json)}`);
  return json as FeedPage;
}

/** Every event after `after`, page by page. */
async function feedAfter(baseUrl: string, after: number): Promise<FeedItem[]> {
  const items: FeedItem[] = [];
  for (let next = after; ; ) {
    const page = await feedPage(baseUrl, next, 1000);
    if (page.data.length === 0) return items;
    items.push(...page.data);
    next = page.next_after;
  }
}

async function feedHead(baseUrl: string): Promise<number> {
  return (await feedAfter(baseUrl, 0)).at(-1)?.position ?? 0;
}

/** What a stream delivered, in the form of the feed: each event's id, event name and parsed data. */
function asFeed(events: readonly ServerSentEvent[]): { id: number; event: string | undefined; item: FeedItem }[] {
  return events.map((e) => ({ id: Number(e.id), event: e.event, item: JSON.parse(e.data) as FeedItem }));
}

function expectedFromFeed(items: readonly FeedItem[]): { id: number; event: string; item: FeedItem }[] {
  return items.map((item) => ({ id: item.position, event: item.type, item }));
}

/** Strictly increasing, hence no position twice. */
function isStrictlyIncreasing(values: readonly number[]): boolean {
  return values.every((value, i) => i === 0 || value > (values[i - 1] ?? Number.POSITIVE_INFINITY));
}

/** One webhook delivery: the bytes and headers of one of the two signing schemes the tests use. */
interface Delivery {
  readonly body: string;
  readonly headers: Record<string, string>;
  /** What it stores the first time: message ids, `message_id/status` keys and dead letters' item ids. */
  readonly messageIds: readonly string[];
  readonly statusKeys: readonly string[];
  readonly deadLetterIds: readonly string[];
}

function specDelivery(id: string, sender: number): Delivery {
  const body = JSON.stringify({ ...message(id), from: `+91987654${String(sender).padStart(4, '0')}` });
  return { body, headers: { 'x-signature': hmacHex(SECRET, body) }, messageIds: [id], statusKeys: [], deadLetterIds: [] };
}

/**
 * A WhatsApp envelope with one text message and the delivery statuses of earlier ones, and with
 * `broken` an unreadable message item too (no `from`), which becomes a dead letter.
 */
function whatsappDelivery(id: string, statuses: readonly { id: string; status: string }[], broken: boolean): Delivery {
  const brokenId = `${id}-broken`;
  const body = JSON.stringify(
    whatsappEnvelope({
      contacts: [{ profile: { name: 'Asha Rao' }, wa_id: '447700900123' }],
      messages: [
        { from: '447700900123', id, timestamp: '1736935200', type: 'text', text: { body: `hi ${id}` } },
        ...(broken ? [{ id: brokenId, timestamp: '1736935200', type: 'text', text: { body: 'no sender' } }] : []),
      ],
      statuses: statuses.map((s) => ({ id: s.id, status: s.status, timestamp: '1736935470', recipient_id: '447700900123' })),
    }),
  );
  return {
    body,
    headers: { 'x-hub-signature-256': metaSignature(APP_SECRET, body) },
    messageIds: [id],
    statusKeys: statuses.map((s) => `${s.id}/${s.status}`),
    deadLetterIds: broken ? [brokenId] : [],
  };
}

async function deliver(server: RunningServer, delivery: Delivery): Promise<number> {
  const response = await fetch(`${server.baseUrl}/webhook`, {
    method: 'POST',
    body: delivery.body,
    headers: { 'content-type': 'application/json', ...delivery.headers },
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * `count` distinct deliveries named after `tag`: mostly spec messages from a few senders, every
 * fifth a WhatsApp message carrying `delivered` for the previous WhatsApp message and `read` for
 * the one before it, every tenth with an unreadable item besides (a dead letter).
 */
function deliveries(tag: string, count: number): Delivery[] {
  const out: Delivery[] = [];
  const whatsappIds: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 5 === 4) {
      const id = `wamid.${tag}-${String(i).padStart(4, '0')}`;
      const [previous, beforeThat] = [whatsappIds.at(-1), whatsappIds.at(-2)];
      out.push(
        whatsappDelivery(
          id,
          [
            ...(previous === undefined ? [] : [{ id: previous, status: 'delivered' }]),
            ...(beforeThat === undefined ? [] : [{ id: beforeThat, status: 'read' }]),
          ],
          i % 10 === 9,
        ),
      );
      whatsappIds.push(id);
    } else {
      out.push(specDelivery(`${tag}-${String(i).padStart(4, '0')}`, i % 7));
    }
  }
  return out;
}

interface LoadResult {
  readonly messageIds: Set<string>;
  readonly statusKeys: Set<string>;
  readonly deadLetterIds: Set<string>;
  readonly failures: string[];
}

/**
 * Sends every delivery to one replica, alternating, and every fourth one again to the other (a
 * redelivery, which must add no event), from `clients` concurrent clients. `onAcknowledged`
 * runs after each 200 (the count of 200s so far).
 */
async function load(
  replicas: readonly [RunningServer, RunningServer],
  items: readonly Delivery[],
  clients: number,
  onAcknowledged: (acknowledged: number) => void = () => {},
): Promise<LoadResult> {
  const [a, b] = replicas;
  const sends = items.flatMap((delivery, i) => {
    const first = { delivery, server: i % 2 === 0 ? a : b };
    return i % 4 === 0 ? [first, { delivery, server: i % 2 === 0 ? b : a }] : [first];
  });
  const result: LoadResult = { messageIds: new Set(), statusKeys: new Set(), deadLetterIds: new Set(), failures: [] };
  let acknowledged = 0;
  await runPool(sends, clients, async ({ delivery, server }) => {
    const status = await deliver(server, delivery);
    if (status !== 200) {
      result.failures.push(`${delivery.messageIds.join(',')} at ${server.baseUrl}: ${status}`);
      return;
    }
    for (const id of delivery.messageIds) result.messageIds.add(id);
    for (const key of delivery.statusKeys) result.statusKeys.add(key);
    for (const id of delivery.deadLetterIds) result.deadLetterIds.add(id);
    onAcknowledged(++acknowledged);
  });
  return result;
}

/** message.created events this replica added to the feed, from its /metrics. */
const messagesCreated = (server: RunningServer) => metricValue(server.baseUrl, 'feed_events_total{type="message.created"}');

function messageIdsOf(items: readonly FeedItem[]): string[] {
  return items.filter((item) => item.type === 'message.created').map((item) => String(item.data.message_id));
}

function deadLetterIdsOf(items: readonly FeedItem[]): string[] {
  return items.filter((item) => item.type === 'dead_letter.created').map((item) => String(item.data.item_id));
}

function statusKeysOf(items: readonly FeedItem[]): string[] {
  return items
    .filter((item) => item.type === 'status.created')
    .map((item) => `${String(item.data.message_id)}/${String(item.data.status)}`);
}

describe('the feed across two servers on one PostgreSQL database', () => {
  const database = useTestDatabase('e2e-replicas-feed');
  let a: RunningServer;
  let b: RunningServer;
  const streams: EventStream[] = [];
  const open = async (server: RunningServer, urlPath: string, headers: Record<string, string> = {}) => {
    const stream = await EventStream.open(server.baseUrl, urlPath, { ...AUTH, ...headers });
    streams.push(stream);
    return stream;
  };

  beforeAll(async () => {
    const db = await database();
    await db.reset();
    const env = {
      WEBHOOK_SECRET: SECRET,
      WHATSAPP_APP_SECRET: APP_SECRET,
      API_TOKEN: TOKEN,
      DATABASE_URL: db.url,
      PG_POOL_MAX: '4',
    };
    const started = await Promise.all([startServer({ runner: 'node', env }), startServer({ runner: 'node', env })]);
    [a, b] = started;
  });
  afterAll(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await Promise.all([a, b].filter((s) => s !== undefined).map((s) => s.cleanup()));
  });

  it('a client following /events on A receives what is posted to B and to A, once each, in position order, as /feed lists it', async () => {
    const head = await feedHead(a.baseUrl);
    const stream = await open(a, `/events?after=${head}`);
    expect(stream.status).toBe(200);

    // One at a time, then all at once; B takes most, so that the stream mostly carries another
    // replica's commits.
    const items = deliveries('follow', 60);
    for (const [i, delivery] of items.slice(0, 20).entries()) expect(await deliver(i % 3 === 0 ? a : b, delivery)).toBe(200);
    const rest = await load([b, b], items.slice(20, 40), 6);
    const mixed = await load([b, a], items.slice(40), 6);
    expect([...rest.failures, ...mixed.failures]).toEqual([]);

    const [feedA, feedB] = await Promise.all([feedAfter(a.baseUrl, head), feedAfter(b.baseUrl, head)]);
    expect(feedB).toEqual(feedA);
    const newest = feedA.at(-1)?.position ?? 0;
    await stream.waitForPosition(newest, 'the newest event on the stream', ARRIVAL_TIMEOUT_MS);

    expect(isStrictlyIncreasing(stream.events.map((e) => Number(e.id)))).toBe(true);
    expect(asFeed(stream.events)).toEqual(expectedFromFeed(feedA));
    // Each message, status and dead letter once, though some deliveries were sent twice.
    expect(messageIdsOf(feedA).sort()).toEqual(items.flatMap((d) => d.messageIds).sort());
    expect(statusKeysOf(feedA).sort()).toEqual(items.flatMap((d) => d.statusKeys).sort());
    expect(deadLetterIdsOf(feedA).sort()).toEqual(items.flatMap((d) => d.deadLetterIds).sort());
    expect(new Set(feedA.map((item) => item.type))).toEqual(
      new Set(['message.created', 'status.created', 'dead_letter.created']),
    );
  });

  it('a reader polling /feed?after=N on A while both replicas take webhooks at once sees every acknowledged message once, in order, without a gap', async () => {
    const start = await feedHead(a.baseUrl);
    const createdBefore = await Promise.all([a, b].map(messagesCreated));
    let loading = true;
    const seen: FeedItem[] = [];
    const outOfOrder: string[] = [];
    let pages = 0;
    const reader = (async () => {
      for (let after = start; ; ) {
        // Read before asking: an empty page asked for after the last acknowledgement is the end.
        const finished = !loading;
        const page = await feedPage(a.baseUrl, after, 50);
        pages++;
        for (const item of page.data) {
          const previous = seen.at(-1)?.position ?? after;
          if (item.position <= previous) outOfOrder.push(`${item.position} after ${previous}`);
          seen.push(item);
        }
        const expectedNext = page.data.at(-1)?.position ?? after;
        if (page.next_after !== expectedNext)
          outOfOrder.push(`next_after ${page.next_after} for a page ending at ${expectedNext}`);
        after = page.next_after;
        if (page.data.length === 0) {
          if (finished) return;
          await sleep(5);
        }
      }
    })();

    const items = deliveries('poll', 300);
    let result: LoadResult;
    try {
      result = await load([a, b], items, 12);
    } finally {
      loading = false;
    }
    await reader;
    expect(result.failures).toEqual([]);

    const final = await feedAfter(b.baseUrl, start);
    expect(outOfOrder).toEqual([]);
    // Every event the final feed holds, the reader met, once, in the same order, with the same
    // data: none committed with a position below one it had already passed.
    expect(seen.map((item) => item.position)).toEqual(final.map((item) => item.position));
    expect(seen).toEqual(final);
    expect(new Set(messageIdsOf(seen))).toEqual(result.messageIds);
    expect(messageIdsOf(seen)).toHaveLength(result.messageIds.size);
    expect(new Set(statusKeysOf(seen))).toEqual(result.statusKeys);
    expect(statusKeysOf(seen)).toHaveLength(result.statusKeys.size);
    expect(deadLetterIdsOf(seen).sort()).toEqual([...result.deadLetterIds].sort());
    expect(result.messageIds.size).toBe(items.length);
    // The reader really read while the writes went on, not only once at the end, and both
    // replicas committed a share of the events it read.
    expect(pages).toBeGreaterThan(2);
    const createdAfter = await Promise.all([a, b].map(messagesCreated));
    expect(createdAfter.map((n, i) => n - (createdBefore[i] ?? 0)).every((n) => n > 0)).toBe(true);
  });

  it('a stream on A dropped half-way and resumed on B with Last-Event-ID misses nothing and repeats nothing', async () => {
    const start = await feedHead(a.baseUrl);
    const first = await open(a, `/events?after=${start}`);
    expect(first.status).toBe(200);

    const items = deliveries('resume', 300);
    let resumed: EventStream | undefined;
    let lastId: number | undefined;
    let reopening: Promise<void> | undefined;
    const result = await load([a, b], items, 12, (acknowledged) => {
      // Drop the first stream once it has something, while writes are still going on, and
      // reconnect as a browser's EventSource does: the original URL, with the last id received.
      if (reopening !== undefined || acknowledged < 120 || first.events.length === 0) return;
      first.close();
      lastId = first.lastId;
      reopening = open(b, `/events?after=${start}`, { 'last-event-id': String(lastId) }).then((stream) => {
        resumed = stream;
      });
    });
    expect(result.failures).toEqual([]);
    expect(reopening).toBeDefined();
    await reopening;
    if (resumed === undefined || lastId === undefined) throw new Error('the stream was never resumed');
    expect(resumed.status).toBe(200);

    const final = await feedAfter(a.baseUrl, start);
    const newest = final.at(-1)?.position ?? 0;
    expect(lastId).toBeLessThan(newest);
    await resumed.waitForPosition(newest, 'the newest event on the resumed stream', ARRIVAL_TIMEOUT_MS);

    const both = [...first.events, ...resumed.events];
    expect(isStrictlyIncreasing(both.map((e) => Number(e.id)))).toBe(true);
    expect(Number(resumed.events[0]?.id)).toBeGreaterThan(lastId);
    expect(asFeed(both)).toEqual(expectedFromFeed(final));
    expect(new Set(messageIdsOf(final))).toEqual(result.messageIds);
    expect(new Set(statusKeysOf(final))).toEqual(result.statusKeys);
    expect(new Set(deadLetterIdsOf(final))).toEqual(result.deadLetterIds);

    // Neither replica logged an error during this file's tests.
    for (const server of [a, b]) {
      expect(jsonLines(server.stdout).filter((l) => l.level === 'ERROR' || l.level === 'CRITICAL')).toEqual([]);
    }
  });
});
