// GET /messages/export: NDJSON lines are the GET /messages/{message_id} objects without statuses,
// CSV parses back (RFC 4180) to the same rows, every filter gives what the /messages listing
// walked by cursor gives, a bad parameter is a 422 before any byte, and the body is read from the
// store one chunk at a time: only as fast as the client takes it, and not at all once it leaves.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { EXPORT_CHUNK_ROWS, EXPORT_FIRST_CHUNK_ROWS } from '../../src/http/export.js';
import { instantKey } from '../../src/ingest/timestamp.js';
import { createLogger } from '../../src/observability/logger.js';
import { CSV_COLUMNS } from '../../src/store/export-format.js';
import { type MessageStore, type IncomingMessage as StoreMessage, StoreUnavailable } from '../../src/store/store.js';
import type { TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/server.js';
import { metaSignature, standardWebhooksHeaders, whsecSecret } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import {
  expectValidationShape,
  getMessageDetail,
  logLinesOf,
  message,
  parseSamples,
  postWebhook,
  requestLine,
  sampleValue,
  scrape,
  storeAll,
  useTestApp,
  whatsappFixture,
} from './support.js';

const APP_SECRET = 'meta-app-secret';
const STANDARD_SECRET = whsecSecret('standard-webhooks key for exports');
const ENV = { WHATSAPP_APP_SECRET: APP_SECRET, STANDARD_WEBHOOKS_SECRET: STANDARD_SECRET };
const FILENAME = /^attachment; filename="messages-\d{8}T\d{6}Z\.(ndjson|csv)"$/;

function getExport(t: TestApp, query = '', headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url: `/messages/export${query}`, headers });
}

async function exported(t: TestApp, query = ''): Promise<LightMyRequestResponse> {
  const res = await getExport(t, query);
  if (res.statusCode !== 200) throw new Error(`GET /messages/export${query} answered ${res.statusCode}: ${res.body}`);
  return res;
}

/** The NDJSON body as objects, checking that every line ends with LF. */
function ndjson(body: string): Record<string, unknown>[] {
  if (body === '') return [];
  expect(body.endsWith('\n')).toBe(true);
  return body
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The CSV body as records, read by an RFC 4180 parser that is not the writer. */
function csv(body: string): string[][] {
  return parse(body, { relax_quotes: false, relax_column_count: false }) as string[][];
}

async function postEnvelope(t: TestApp, body: string | Buffer | object): Promise<void> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
  if (res.statusCode !== 200) throw new Error(`envelope answered ${res.statusCode}: ${res.body}`);
}

/** Messages of every source, out of order, with texts that CSV must quote. */
async function storeVaried(t: TestApp): Promise<void> {
  await storeAll(t, [
    message({ message_id: 'comma', ts: '2025-01-15T10:00:03Z', text: 'one, two, three' }),
    message({ message_id: 'quotes', ts: '2025-01-15T10:00:01Z', text: 'she said "hi" and ""left""' }),
    message({ message_id: 'newlines', ts: '2025-01-15T10:00:02Z', text: 'line one\nline two\r\nline three\rend' }),
    message({ message_id: 'null-text', from: '+447700900123', ts: '2025-01-14T08:00:00Z', text: null }),
    message({ message_id: 'empty-text', from: '+447700900123', ts: '2025-01-14T08:00:00.5Z', text: '' }),
    message({ message_id: 'unicode', to: '+14155550199', ts: '2025-01-16T00:00:00Z', text: 'नमस्ते 👋🏽 — ünïcödé' }),
    message({ message_id: 'id, with "quotes"', ts: '2025-01-15T10:00:00Z', text: 'x' }),
    // A later delivery with an earlier ts: the export is oldest first by ts, not by arrival.
    message({ message_id: 'late', ts: '2024-12-31T23:59:59.999Z', text: 'arrived last, sent first', extra: { kept: true } }),
  ]);
  const raw = JSON.stringify(message({ message_id: 'std-1', ts: '2025-01-15T11:00:00Z', text: 'standard' }));
  const res = await postWebhook(t, raw, standardWebhooksHeaders(STANDARD_SECRET, raw, 'msg_export_1'));
  expect(res.statusCode).toBe(200);
  await postEnvelope(t, whatsappFixture('image-with-caption'));
  await postEnvelope(t, whatsappFixture('statuses'));
  await postEnvelope(
    t,
    whatsappEnvelope({
      contacts: [{ profile: { name: 'Asha Rao' }, wa_id: '919876543210' }],
      messages: [
        { from: '919876543210', id: 'wamid.export-1', timestamp: '1736935200', type: 'text', text: { body: 'Hi, "you"' } },
      ],
      statuses: [{ id: 'wamid.export-1', status: 'read', timestamp: '1736935300', recipient_id: '919876543210' }],
    }),
  );
}

/** Every message_id of the /messages listing with these filters, walked page by page by cursor. */
async function listedIds(t: TestApp, filters: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor = '';
  for (;;) {
    const res = await t.app.inject({
      method: 'GET',
      url: `/messages?limit=3&cursor=${encodeURIComponent(cursor)}${filters === '' ? '' : `&${filters}`}`,
    });
    expect(res.statusCode, filters).toBe(200);
    const page = res.json<{ data: { message_id: string }[]; next_cursor: string | null }>();
    ids.push(...page.data.map((m) => m.message_id));
    if (page.next_cursor === null) return ids;
    cursor = page.next_cursor;
  }
}

describe('GET /messages/export', () => {
  const app = useTestApp(ENV);

  it('is NDJSON by default: one line per message, oldest first, each the GET /messages/{message_id} object without statuses', async () => {
    const t = app();
    await storeVaried(t);
    const res = await exported(t);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(String(res.headers['content-disposition'])).toMatch(FILENAME);
    expect(String(res.headers['content-disposition'])).toContain('.ndjson"');
    expect(res.headers['cache-control']).toBe('no-store');
    const lines = ndjson(res.body);
    expect(lines.map((line) => line.message_id)).toEqual(await listedIds(t, ''));
    expect(lines.length).toBe(11);
    for (const line of lines) {
      const detail = await getMessageDetail(t, String(line.message_id));
      const { statuses, ...withoutStatuses } = detail.json<Record<string, unknown>>();
      expect(Array.isArray(statuses)).toBe(true);
      // The same keys in the same order, and the same values.
      expect(Object.keys(line)).toEqual(Object.keys(withoutStatuses));
      expect(line).toEqual(withoutStatuses);
    }
    expect(lines[0]).toMatchObject({
      message_id: 'late',
      source: 'spec',
      raw: message({
        message_id: 'late',
        ts: '2024-12-31T23:59:59.999Z',
        text: 'arrived last, sent first',
        extra: { kept: true },
      }),
    });
    // format=ndjson says the same.
    expect((await exported(t, '?format=ndjson')).body).toBe(res.body);
  });

  it('CSV: the header, then one RFC 4180 record per message that parses back to the same fields', async () => {
    const t = app();
    await storeVaried(t);
    const res = await exported(t, '?format=csv');
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(String(res.headers['content-disposition'])).toMatch(FILENAME);
    expect(String(res.headers['content-disposition'])).toContain('.csv"');
    // Records end with CRLF; quotes are doubled; a field with a comma, quote, CR or LF is quoted.
    expect(res.body.startsWith('message_id,from,to,ts,text,type,source,received_at\r\n')).toBe(true);
    expect(res.body.endsWith('\r\n')).toBe(true);
    expect(res.body).toContain(',"she said ""hi"" and """"left""""",');
    expect(res.body).toContain(',"one, two, three",');
    expect(res.body).toContain(',"line one\nline two\r\nline three\rend",');
    expect(res.body).toContain('"id, with ""quotes"""');

    const [header, ...records] = csv(res.body);
    expect(header).toEqual([...CSV_COLUMNS]);
    const lines = ndjson((await exported(t)).body);
    expect(records).toEqual(
      lines.map((line) => CSV_COLUMNS.map((column) => (line[column] === null ? '' : String(line[column])))),
    );
    // null is an empty field, an empty string "" (a parser may read both as empty).
    const nullRecord = res.body.split('\r\n').find((record) => record.startsWith('null-text,'));
    const emptyRecord = res.body.split('\r\n').find((record) => record.startsWith('empty-text,'));
    expect(nullRecord).toMatch(/^null-text,\+447700900123,\+14155550100,2025-01-14T08:00:00Z,,,spec,/);
    expect(emptyRecord).toMatch(/^empty-text,\+447700900123,\+14155550100,2025-01-14T08:00:00\.5Z,"",,spec,/);
  });

  it('every filter and combination gives the /messages listing walked by cursor, in NDJSON and CSV', async () => {
    const t = app();
    await storeVaried(t);
    const filters = [
      '',
      'from=%2B919876543210',
      'from=+447700900123',
      'to=%2B14155550199',
      'type=image',
      'type=text',
      'since=2025-01-15T10:00:01Z',
      'until=2025-01-15T10:00:01Z',
      'since=2025-01-14T00:00:00Z&until=2025-01-15T10:00:02.5Z',
      'q=LINE',
      'q=%22',
      'q=',
      'from=%2B919876543210&to=%2B14155550100&since=2025-01-15T00:00:00Z&q=o',
      'from=%2B919876543210&type=text&until=2030-01-01T00:00:00Z',
      'from=%2B10000000000',
    ];
    for (const filter of filters) {
      const expected = await listedIds(t, filter);
      const lines = ndjson((await exported(t, `?${filter}`)).body);
      expect(
        lines.map((line) => line.message_id),
        filter,
      ).toEqual(expected);
      const [, ...records] = csv((await exported(t, `?format=csv&${filter}`)).body);
      expect(
        records.map((record) => record[0]),
        filter,
      ).toEqual(expected);
    }
  });

  it('an empty export is an empty NDJSON body, or a CSV header alone', async () => {
    const t = app();
    expect((await exported(t)).body).toBe('');
    expect((await exported(t, '?format=csv')).body).toBe(`${CSV_COLUMNS.join(',')}\r\n`);
  });

  it('reads a large export in chunks of at most 1,000, every message once, in order', async () => {
    const t = app();
    const count = EXPORT_CHUNK_ROWS * 2 + 345;
    // Every ts shared by ten messages, so that chunks end inside a run of equal instants.
    const messages: StoreMessage[] = Array.from({ length: count }, (_, i) => {
      const ts = new Date(Date.UTC(2025, 0, 1) + Math.floor(i / 10) * 1000).toISOString();
      return {
        messageId: `bulk-${String((i * 7919) % count).padStart(5, '0')}`,
        from: '+15550000000',
        to: '+14155550100',
        ts,
        tsKey: instantKey(ts) ?? '',
        text: `number ${i}`,
      };
    });
    for (let i = 0; i < count; i += 500) await t.store.insertMany(messages.slice(i, i + 500));
    const counted = await countingApp(t);
    try {
      const res = await counted.app.inject({ method: 'GET', url: '/messages/export' });
      const lines = ndjson(res.body);
      const sorted = [...messages].sort((a, b) =>
        a.tsKey !== b.tsKey ? (a.tsKey < b.tsKey ? -1 : 1) : a.messageId < b.messageId ? -1 : 1,
      );
      expect(lines.map((line) => line.message_id)).toEqual(sorted.map((m) => m.messageId));
      // A first small read, then the most a read takes: these rows are small.
      expect(counted.limits).toEqual([EXPORT_FIRST_CHUNK_ROWS, EXPORT_CHUNK_ROWS, EXPORT_CHUNK_ROWS, EXPORT_CHUNK_ROWS]);
      const done = await waitFor('the export line', () => counted.logs.find((line) => line.msg === 'export finished'));
      expect(done).toMatchObject({ format: 'ndjson', messages: count, reads: 4, bytes: Buffer.byteLength(res.body) });
      expect(sampleValue(await scrapeApp(counted.app), 'exported_messages_total', { format: 'ndjson' })).toBe(count);
    } finally {
      await counted.close();
    }
  });

  it('answers 422 before any byte, with the same issues as GET /messages for the same filters', async () => {
    const t = app();
    await storeVaried(t);
    const cases = [
      ['?to=12345&since=yesterday', ['query.to', 'query.since']],
      ['?type=&until=2025-02-30T00:00:00Z', ['query.type', 'query.until']],
      ['?from=%2B1&from=%2B2', ['query.from']],
      ['?q=a&q=b', ['query.q']],
    ] as const;
    for (const [query, locations] of cases) {
      const res = await getExport(t, query);
      const body = expectValidationShape(res);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(
        body.detail.map((d) => d.loc.join('.')),
        query,
      ).toEqual(locations);
      const listing = await t.app.inject({ method: 'GET', url: `/messages${query}` });
      expect(res.json(), query).toEqual(listing.json());
    }
    const format = await getExport(t, '?format=xml&since=nope');
    expect(expectValidationShape(format).detail.map((d) => [d.loc.join('.'), d.type])).toEqual([
      ['query.format', 'enum'],
      ['query.since', 'datetime_format'],
    ]);
    expect((await getExport(t, '?format=ndjson&format=csv')).statusCode).toBe(422);
    expect((await getExport(t, '?format=CSV')).statusCode).toBe(422);
  });

  it('ignores the paging parameters of /messages: an export is everything that matches', async () => {
    const t = app();
    await storeVaried(t);
    const all = (await exported(t)).body;
    expect((await exported(t, '?limit=1&offset=5&order=desc&include=raw')).body).toBe(all);
  });

  it('answers HEAD with the headers alone, reading nothing', async () => {
    const t = app();
    await storeVaried(t);
    const counted = await countingApp(t);
    try {
      const res = await counted.app.inject({ method: 'HEAD', url: '/messages/export?format=csv' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(res.body).toBe('');
      expect(counted.limits).toEqual([]);
    } finally {
      await counted.close();
    }
  });

  it('logs one request line and one export line, and counts the messages by format', async () => {
    const t = app();
    await storeVaried(t);
    const res = await exported(t, '?format=csv&from=%2B919876543210');
    const [, ...records] = csv(res.body);
    expect(requestLine(t, res)).toMatchObject({ method: 'GET', path: '/messages/export', status: 200 });
    // Written once the body has been sent, which may be just after the response arrived.
    await waitFor('the export line', () => logLinesOf(t, res).some((line) => String(line.msg).startsWith('export')));
    const lines = logLinesOf(t, res).filter((line) => String(line.msg).startsWith('export'));
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'export finished', format: 'csv', messages: records.length, reads: 1 }),
    ]);
    const samples = await scrape(t);
    expect(sampleValue(samples, 'exported_messages_total', { format: 'csv' })).toBe(records.length);
    expect(sampleValue(samples, 'exported_messages_total', { format: 'ndjson' })).toBe(0);
    expect(sampleValue(samples, 'http_requests_total', { path: '/messages/export', status: '200' })).toBe(1);
  });
});

describe('GET /messages/export when the database fails', () => {
  const app = useTestApp();

  it('answers 503 as JSON, with no export header, when the first read fails', async () => {
    const t = app();
    await storeAll(t, [message()]);
    const failing = await countingApp(t, 1);
    try {
      const res = await failing.app.inject({ method: 'GET', url: '/messages/export?format=csv' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(res.json()).toEqual({ detail: 'database unavailable; retry later' });
    } finally {
      await failing.close();
    }
  });

  it('cuts the connection when a later read fails, so the client cannot take the export for complete', async () => {
    const t = app();
    await t.store.insertMany(
      Array.from({ length: 300 }, (_, i) => {
        const ts = new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString();
        return { messageId: `m-${i}`, from: '+15550000000', to: '+14155550100', ts, tsKey: instantKey(ts) ?? '', text: 'x' };
      }),
    );
    const failing = await countingApp(t, 2);
    try {
      const address = await failing.app.listen({ host: '127.0.0.1', port: 0 });
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${address}/messages/export`, resolve);
        req.once('error', reject);
        req.end();
      });
      expect(response.statusCode).toBe(200);
      let received = '';
      const ended = await new Promise<'complete' | 'cut'>((resolve) => {
        response.on('data', (piece: Buffer) => {
          received += piece.toString('utf8');
        });
        response.once('end', () => resolve('complete'));
        response.once('error', () => resolve('cut'));
        response.once('aborted', () => resolve('cut'));
      });
      expect(ended).toBe('cut');
      // The first chunk arrived; nothing after it.
      expect(ndjson(received.slice(0, received.lastIndexOf('\n') + 1))).toHaveLength(EXPORT_FIRST_CHUNK_ROWS);
      const line = await waitFor('the export line', () => failing.logs.find((l) => String(l.msg).startsWith('export')));
      expect(line).toMatchObject({
        level: 'ERROR',
        msg: 'export failed after it began: the response was cut short',
        messages: 100,
      });
      expect(JSON.stringify(line)).toContain('connection lost');
    } finally {
      await failing.close();
    }
  });
});

describe('GET /messages/export with API_TOKEN set', () => {
  const app = useTestApp({ API_TOKEN: 'read-token', ADMIN_TOKEN: 'admin-token' });

  it('needs the read token, as every read does (the admin token is not one)', async () => {
    const t = app();
    await storeAll(t, [message()]);
    const missing = await getExport(t);
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="webhook-inbox"');
    expect((await getExport(t, '', { authorization: 'Bearer admin-token' })).statusCode).toBe(401);
    // The token is checked before the parameters.
    expect((await getExport(t, '?format=xml')).statusCode).toBe(401);
    const ok = await getExport(t, '', { authorization: 'Bearer read-token' });
    expect(ok.statusCode).toBe(200);
    expect(ndjson(ok.body).map((line) => line.message_id)).toEqual(['m1']);
  });
});

describe('GET /messages/export over a real socket', () => {
  const app = useTestApp();

  it('reads ahead of a client that stops reading by a few chunks at most, and stops reading when it leaves', async () => {
    const t = app();
    // About 4 kB a line: each chunk holds about 250 lines (a megabyte), 32 chunks in all, far more
    // than the socket buffers between server and client can take while the client reads nothing.
    const count = 8000;
    const text = 'x'.repeat(4000);
    for (let i = 0; i < count; i += 500) {
      await t.store.insertMany(
        Array.from({ length: Math.min(500, count - i) }, (_, j) => {
          const ts = new Date(Date.UTC(2025, 0, 1) + (i + j) * 1000).toISOString();
          return { messageId: `big-${i + j}`, from: '+15550000000', to: '+14155550100', ts, tsKey: instantKey(ts) ?? '', text };
        }),
      );
    }
    const counted = await countingApp(t);
    try {
      const address = await counted.app.listen({ host: '127.0.0.1', port: 0 });
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${address}/messages/export`, resolve);
        req.once('error', reject);
        req.end();
      });
      expect(response.statusCode).toBe(200);
      // Take one piece, then stop reading.
      await new Promise<void>((resolve) => response.once('data', () => resolve()));
      response.pause();
      const stalled = await settled(() => counted.limits.length);
      const chunks = Math.ceil(count / 240);
      expect(stalled).toBeLessThan(chunks / 3);

      // Leave: the reads stop at once (the one in flight, if any, is the last).
      response.destroy();
      const line = await waitFor('the export line', () => counted.logs.find((l) => String(l.msg).startsWith('export')));
      expect(line).toMatchObject({ msg: 'export stopped: the client left before the end', format: 'ndjson' });
      expect(Number(line.messages)).toBeLessThan(count);
      const reads = counted.limits.length;
      expect(reads).toBeLessThanOrEqual(stalled + 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(counted.limits.length).toBe(reads);
      expect(line.reads).toBe(reads);
      // The request is logged and counted once, as the 200 it began as.
      const requestLines = counted.logs.filter((l) => l.msg === 'request completed' && l.path === '/messages/export');
      expect(requestLines).toEqual([expect.objectContaining({ status: 200 })]);
      expect(sampleValue(await scrapeApp(counted.app), 'exported_messages_total', { format: 'ndjson' })).toBe(line.messages);
    } finally {
      await counted.close();
    }
  });
});

/** Polls `read` until it has not changed for 400 ms; returns its value then. */
async function settled(read: () => number): Promise<number> {
  let last = read();
  let since = Date.now();
  const deadline = Date.now() + 20_000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= 400) return now;
    if (Date.now() > deadline) throw new Error('the reads never settled');
  }
}

async function scrapeApp(app: FastifyInstance) {
  return parseSamples((await app.inject({ method: 'GET', url: '/metrics' })).body);
}

interface CountingApp {
  readonly app: FastifyInstance;
  /** The `limit` of every exportChunk call, in order. */
  readonly limits: number[];
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A second app built by the same buildApp over the test app's store, that records each read of
 * an export (failing the `failAt`th) and keeps its own log lines. Closing it leaves the store open
 * (the test app closes it).
 */
async function countingApp(t: TestApp, failAt?: number): Promise<CountingApp> {
  const limits: number[] = [];
  const store: MessageStore = new Proxy(t.store, {
    get(target, property) {
      if (property === 'exportChunk') {
        return async (...args: Parameters<MessageStore['exportChunk']>) => {
          limits.push(args[1].limit);
          // The database fails at this read (counted from 1).
          if (limits.length === failAt) throw new StoreUnavailable('connection lost');
          return target.exportChunk(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line));
      callback();
    },
  });
  const app = await buildApp({ config: t.config, store, logger: createLogger('debug', sink) });
  return { app, limits, logs, close: () => app.close() };
}
