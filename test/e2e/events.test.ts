// GET /events against the real server over real HTTP: the text/event-stream is read and parsed
// by client.ts's EventStream, as a browser's EventSource would, its field lines and comments kept.
// Each event carries its position as id, its type as event and the GET /feed item as data; the
// stream starts at the current end, or resumes after ?after= or Last-Event-ID (the header wins); a
// bad start or filter is a 422 before any stream; SSE_MAX_CLIENTS bounds the subscribers;
// heartbeats keep an idle stream open; a client that leaves leaves nothing behind; SIGTERM ends
// every stream and the process exits 0.

import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { metaSignature } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { EventStream, getJson, message, metricValue, postWebhook, type ServerSentEvent } from './client.js';

const SECRET = 'e2e-events-secret';
const APP_SECRET = 'e2e-events-meta-secret';

interface FeedItem {
  position: number;
  type: string;
  received_at: string;
  data: Record<string, unknown>;
}

/** Every event of the feed after `after` (with optional filters), read page by page. */
async function feedAfter(baseUrl: string, after: number, filters = ''): Promise<FeedItem[]> {
  const items: FeedItem[] = [];
  let next = after;
  for (;;) {
    const { status, json } = await getJson(`${baseUrl}/feed?after=${next}&limit=1000${filters}`);
    if (status !== 200) throw new Error(`GET /feed answered ${status}: ${JSON.stringify(json)}`);
    const page = json as { data: FeedItem[]; next_after: number };
    if (page.data.length === 0) return items;
    items.push(...page.data);
    next = page.next_after;
  }
}

async function feedHead(baseUrl: string): Promise<number> {
  return (await feedAfter(baseUrl, 0)).at(-1)?.position ?? 0;
}

async function store(baseUrl: string, id: string): Promise<void> {
  const res = await postWebhook(baseUrl, SECRET, message(id));
  if (res.status !== 200) throw new Error(`webhook ${id} answered ${res.status}`);
}

async function postEnvelope(baseUrl: string, envelope: object): Promise<void> {
  const raw = JSON.stringify(envelope);
  const response = await fetch(`${baseUrl}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature(APP_SECRET, raw) },
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`envelope answered ${response.status}`);
}

const sseClients = (baseUrl: string) => metricValue(baseUrl, 'sse_clients');

/** What each event parses to: its id, type and feed item. */
function parsed(events: readonly ServerSentEvent[]): { id: number; event: string | undefined; item: FeedItem }[] {
  return events.map((e) => ({ id: Number(e.id), event: e.event, item: JSON.parse(e.data) as FeedItem }));
}

describe('GET /events: the feed as Server-Sent Events', () => {
  const tmp = tempDir();
  let server: RunningServer;
  const streams: EventStream[] = [];
  const open = async (urlPath: string, headers: Record<string, string> = {}): Promise<EventStream> => {
    const stream = await EventStream.open(server.baseUrl, urlPath, headers);
    streams.push(stream);
    return stream;
  };

  beforeAll(async () => {
    server = await startServer({
      runner: 'node',
      cwd: tmp.dir,
      env: {
        WEBHOOK_SECRET: SECRET,
        WHATSAPP_APP_SECRET: APP_SECRET,
        DATABASE_URL: `sqlite:///${path.join(tmp.dir, 'events.db')}`,
      },
    });
    for (const id of ['before-1', 'before-2', 'before-3']) await store(server.baseUrl, id);
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await waitFor('every stream to be let go of', async () => (await sseClients(server.baseUrl)) === 0);
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('without after it starts at the current end; a new webhook arrives as id, event and data', async () => {
    const head = await feedHead(server.baseUrl);
    expect(head).toBeGreaterThan(0);
    const stream = await open('/events');
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toMatch(/no-cache/);
    await waitFor('the subscriber to be counted', async () => (await sseClients(server.baseUrl)) === 1);

    await store(server.baseUrl, 'live-1');
    const [event] = await stream.waitForEvents(1, 'the new message');
    const [item] = await feedAfter(server.baseUrl, head);
    expect(item?.data.message_id).toBe('live-1');
    expect(event?.lines).toEqual([`id: ${item?.position}`, 'event: message.created', `data: ${event?.data}`]);
    expect(JSON.parse(event?.data ?? '')).toEqual(item);

    // Each later commit arrives, in order, and none of the earlier ones ever does.
    await store(server.baseUrl, 'live-2');
    await store(server.baseUrl, 'live-3');
    await stream.waitForEvents(3);
    const items = await feedAfter(server.baseUrl, head);
    expect(parsed(stream.events)).toEqual(items.map((i) => ({ id: i.position, event: i.type, item: i })));
  });

  it('resumes after ?after=, and after Last-Event-ID, which wins over ?after=', async () => {
    const all = await feedAfter(server.baseUrl, 0);
    expect(all.length).toBeGreaterThanOrEqual(3);
    const [first, second] = all;
    const last = all.at(-1);
    if (first === undefined || second === undefined || last === undefined) throw new Error('too few events');

    const byQuery = await open(`/events?after=${first.position}`);
    const byHeader = await open(`/events?after=${first.position}`, { 'last-event-id': String(second.position) });
    const headerOnly = await open('/events', { 'last-event-id': String(last.position) });
    const fromZero = await open('/events?after=0');
    for (const stream of [byQuery, byHeader, headerOnly, fromZero]) expect(stream.status).toBe(200);
    await byQuery.waitForEvents(all.length - 1);
    await byHeader.waitForEvents(all.length - 2);
    await fromZero.waitForEvents(all.length);

    await store(server.baseUrl, 'resumed');
    const everything = await feedAfter(server.baseUrl, 0);
    const positions = everything.map((item) => item.position);
    const newest = positions.at(-1) ?? 0;
    await waitFor('the new message on every stream', () =>
      [byQuery, byHeader, headerOnly, fromZero].every((s) => s.ids.at(-1) === newest),
    );
    expect(fromZero.ids).toEqual(positions);
    expect(byQuery.ids).toEqual(positions.filter((p) => p > first.position));
    expect(byHeader.ids).toEqual(positions.filter((p) => p > second.position));
    expect(headerOnly.ids).toEqual(positions.filter((p) => p > last.position));
    expect(parsed(fromZero.events).map((e) => e.item)).toEqual(everything);
  });

  it.each([
    ['?after=-1', {}, ['query.after']],
    ['?after=abc', {}, ['query.after']],
    ['?after=1.5', {}, ['query.after']],
    ['?after=', {}, ['query.after']],
    ['', { 'last-event-id': 'x' }, ['header.last-event-id']],
    ['', { 'last-event-id': '-5' }, ['header.last-event-id']],
    ['', { 'last-event-id': '1.0' }, ['header.last-event-id']],
    ['?after=3', { 'last-event-id': 'abc' }, ['header.last-event-id']],
    ['?after=x', { 'last-event-id': '3' }, ['query.after']],
    ['?types=message', {}, ['query.types']],
    ['?types=message.created,nope', {}, ['query.types']],
    ['?to=nobody', {}, ['query.to']],
    ['?after=1&after=2', {}, ['query.after']],
  ] as [string, Record<string, string>, string[]][])('%s %j is a 422 before any stream starts', async (query, headers, locs) => {
    const stream = await open(`/events${query}`, headers);
    expect(stream.status).toBe(422);
    expect(stream.headers['content-type']).toMatch(/^application\/json/);
    await waitFor('the whole answer', () => stream.ended);
    const body = JSON.parse(stream.body) as { detail: { loc: string[]; msg: string; type: string }[] };
    expect(body.detail.map((d) => d.loc.join('.'))).toEqual(locs);
    for (const d of body.detail) expect(d.msg).not.toBe('');
    expect(stream.events).toEqual([]);
  });

  it('types, from and to filter the stream as they filter GET /feed, caught up and live', async () => {
    const head = await feedHead(server.baseUrl);
    const filters = {
      types: '&types=message.created,status.created',
      from: '&from=%2B447700900123',
      to: '&to=%2B15550100200',
    };
    const opened = {
      types: await open(`/events?after=${head}${filters.types}`),
      from: await open(`/events?after=${head}${filters.from}`),
      to: await open(`/events?after=${head}${filters.to}`),
    };
    const text = (id: string, from: string) => ({ from, id, timestamp: '1736935200', type: 'text', text: { body: id } });
    // Before the streams have caught up, and after: some from each sender to each business
    // number, statuses, and a dead letter.
    await postEnvelope(
      server.baseUrl,
      whatsappEnvelope({
        messages: [text('wamid.f1', '919876543210'), text('wamid.f2', '447700900123'), { id: 'wamid.dead-1' }],
        statuses: [{ id: 'wamid.f1', status: 'read', timestamp: '1736935470', recipient_id: '919876543210' }],
      }),
    );
    await postEnvelope(server.baseUrl, whatsappEnvelope({ messages: [text('wamid.f3', '919876543210')] }, '15550100200'));
    await postEnvelope(
      server.baseUrl,
      whatsappEnvelope({
        messages: [text('wamid.f4', '447700900123'), { id: 'wamid.dead-2' }],
        statuses: [{ id: 'wamid.f4', status: 'delivered', timestamp: '1736935471', recipient_id: '447700900123' }],
      }),
    );
    // A last message that every filter keeps: once it has arrived, everything before it has.
    await postEnvelope(server.baseUrl, whatsappEnvelope({ messages: [text('wamid.last', '447700900123')] }, '15550100200'));
    const newest = await feedHead(server.baseUrl);

    for (const [name, filter] of Object.entries(filters) as [keyof typeof filters, string][]) {
      const stream = opened[name];
      await waitFor(`the last message on the ${name} stream`, () => stream.ids.at(-1) === newest);
      const expected = await feedAfter(server.baseUrl, head, filter);
      expect(
        parsed(stream.events).map((e) => e.item),
        name,
      ).toEqual(expected);
    }
    const items = (name: keyof typeof filters) => parsed(opened[name].events).map((e) => e.item);
    expect(new Set(items('types').map((i) => i.type))).toEqual(new Set(['message.created', 'status.created']));
    expect(items('from').map((i) => i.data.message_id)).toEqual(['wamid.f2', 'wamid.f4', 'wamid.last']);
    expect(items('to').map((i) => i.data.message_id)).toEqual(['wamid.f3', 'wamid.last']);
  });

  it('sends a comment line while nothing happens, so that proxies keep the stream open', async () => {
    const stream = await open('/events');
    expect(stream.status).toBe(200);
    await waitFor('a heartbeat comment', () => stream.comments.length > 0, 20_000);
    expect(stream.events).toEqual([]);
    expect(stream.ended).toBe(false);
  });

  it('a client that disconnects mid-stream leaves nothing behind, and the others go on', async () => {
    const head = await feedHead(server.baseUrl);
    const endedBefore = await metricValue(server.baseUrl, 'http_requests_total{path="/events",status="200"}');
    const leaving = await open(`/events?after=${head}`);
    const staying = await open(`/events?after=${head}`);
    await waitFor('both subscribers to be counted', async () => (await sseClients(server.baseUrl)) === 2);
    await store(server.baseUrl, 'before-leaving');
    await leaving.waitForEvents(1);
    leaving.close();
    await waitFor('the subscriber to be let go of', async () => (await sseClients(server.baseUrl)) === 1);
    // The stream the client ended is counted (and logged) like any request, once.
    expect(await metricValue(server.baseUrl, 'http_requests_total{path="/events",status="200"}')).toBe(
      (Number.isNaN(endedBefore) ? 0 : endedBefore) + 1,
    );
    await store(server.baseUrl, 'after-leaving');
    await staying.waitForEvents(2);
    expect(parsed(staying.events).map((e) => e.item.data.message_id)).toEqual(['before-leaving', 'after-leaving']);
    expect(leaving.events).toHaveLength(1);

    // Many clients that come and go, some before their first event, some before any answer,
    // leave the count at the rest.
    for (let round = 0; round < 10; round++) {
      const s = await EventStream.open(server.baseUrl, `/events?after=${round % 2 === 0 ? 0 : head}`);
      expect(s.status).toBe(200);
      s.close();
      EventStream.abandon(server.baseUrl, round % 2 === 0 ? '/events' : '/events?after=0');
    }
    staying.close();
    await waitFor('every subscriber to be let go of', async () => (await sseClients(server.baseUrl)) === 0);
    expect((await getJson(`${server.baseUrl}/health/ready`)).status).toBe(200);
  });
});

describe('GET /events: SSE_MAX_CLIENTS and shutdown', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  const streams: EventStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    for (const s of servers.splice(0)) await s.cleanup();
  });
  afterAll(() => tmp.cleanup());

  const start = async (name: string, env: Record<string, string> = {}): Promise<RunningServer> => {
    const s = await startServer({
      runner: 'node',
      cwd: tmp.dir,
      env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${path.join(tmp.dir, `${name}.db`)}`, ...env },
    });
    servers.push(s);
    return s;
  };
  const open = async (s: RunningServer, urlPath = '/events'): Promise<EventStream> => {
    const stream = await EventStream.open(s.baseUrl, urlPath);
    streams.push(stream);
    return stream;
  };

  it('SSE_MAX_CLIENTS=2: a third subscriber gets 503 with Retry-After, and a place frees when one leaves', async () => {
    const s = await start('max-clients', { SSE_MAX_CLIENTS: '2' });
    const [a, b] = [await open(s), await open(s)];
    expect([a?.status, b?.status]).toEqual([200, 200]);
    const third = await open(s);
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    expect(third.headers['content-type']).toMatch(/^application\/json/);
    await waitFor('the whole answer', () => third.ended);
    expect(Object.keys(JSON.parse(third.body) as object)).toEqual(['detail']);
    expect(await sseClients(s.baseUrl)).toBe(2);

    a?.close();
    await waitFor('the subscriber to be let go of', async () => (await sseClients(s.baseUrl)) === 1);
    const fourth = await open(s);
    expect(fourth.status).toBe(200);
    await store(s.baseUrl, 'to-both');
    await fourth.waitForEvents(1);
    await b?.waitForEvents(1);

    // Many at once: exactly two get a stream.
    for (const stream of streams.splice(0)) stream.close();
    await waitFor('every subscriber to be let go of', async () => (await sseClients(s.baseUrl)) === 0);
    const rush = await Promise.all(Array.from({ length: 6 }, () => open(s, '/events?after=0')));
    expect(rush.map((r) => r.status).sort()).toEqual([200, 200, 503, 503, 503, 503]);
    expect(await sseClients(s.baseUrl)).toBe(2);
  });

  it('SIGTERM with streams open: every stream ends and the process exits 0', async () => {
    // A grace period far beyond the test: were the streams to hold the close open, it would time out.
    const s = await start('shutdown', { SHUTDOWN_GRACE_MS: '3600000' });
    for (const id of ['s-1', 's-2']) await store(s.baseUrl, id);
    const live = await open(s);
    const resumed = await open(s, '/events?after=0');
    await resumed.waitForEvents(2);
    await waitFor('both subscribers to be counted', async () => (await sseClients(s.baseUrl)) === 2);

    s.signal('SIGTERM');
    await waitFor('both streams to end', () => live.ended && resumed.ended, 60_000);
    expect(await s.exited).toBe(0);
    const lines = jsonLines(s.stdout);
    expect(lines.some((line) => line.msg === 'stopped')).toBe(true);
    expect(lines.some((line) => String(line.msg).startsWith('shutdown grace period over'))).toBe(false);
    expect(resumed.ids).toHaveLength(2);
  });
});
