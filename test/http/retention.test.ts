// RETENTION_DAYS on a real store: a pass removes exactly the messages, statuses and dead letters
// received before the cutoff, in small batches, and every count read afterwards agrees with what
// is left; the app runs the task when RETENTION_DAYS is set and stops it when it closes; the
// oldest_received_at_seconds gauge follows what is kept.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { instantKey } from '../../src/ingest/timestamp.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { RetentionTask } from '../../src/retention/task.js';
import type { TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/server.js';
import { metaSignature } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { expectReadsExact, snapshot } from './exactness.js';
import {
  allDeadLetters,
  getMessageDetail,
  message,
  parseSamples,
  postWebhook,
  sampleValue,
  scrape,
  storeAll,
  useTestApp,
  whatsappFixture,
} from './support.js';

const APP_SECRET = 'meta-app-secret';
const DAY_MS = 86_400_000;

async function postEnvelope(t: TestApp, body: string | Buffer | object): Promise<void> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
  if (res.statusCode !== 200) throw new Error(`envelope answered ${res.statusCode}: ${res.body}`);
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

/** The events of the feed, as [type, the id they are about]. */
async function feedEvents(t: TestApp): Promise<[string, unknown][]> {
  const res = await t.app.inject({ method: 'GET', url: '/feed?limit=1000' });
  return res
    .json<{ data: { type: string; data: { message_id?: string; item_id?: string } }[] }>()
    .data.map((e) => [e.type, e.data.message_id ?? e.data.item_id]);
}

describe('a retention pass', () => {
  const app = useTestApp({ WHATSAPP_APP_SECRET: APP_SECRET });

  it('removes what was received before the cutoff, in batches, and every count stays exact', async () => {
    const t = app();
    // Older: messages of two senders, statuses (of a received message and of sent ones), dead letters.
    await storeAll(t, [
      message({ message_id: 'old-1', ts: '2025-03-01T09:00:00Z', text: 'old parcel' }),
      message({ message_id: 'old-2', from: '+447700900123', ts: '2025-03-02T09:00:00Z', text: 'old invoice' }),
      message({ message_id: 'old-3', ts: '2025-03-03T12:00:00Z', text: 'old again' }),
    ]);
    await postEnvelope(t, whatsappFixture('mixed-unreadable'));
    await postEnvelope(t, whatsappFixture('statuses'));
    const olderEvents = await feedEvents(t);
    const olderDeadLetters = (await allDeadLetters(t)).length;
    await tick();
    const cutoff = Date.now();
    await tick();
    // Newer: a message in a conversation that also has older ones, and a new one; a status.
    await storeAll(t, [
      message({ message_id: 'new-1', ts: '2025-03-01T10:00:00Z', text: 'new parcel' }),
      message({ message_id: 'new-2', from: '+15550001111', ts: '2025-02-01T10:00:00Z', text: 'new, but an older ts' }),
    ]);
    await postEnvelope(
      t,
      whatsappEnvelope({
        statuses: [{ id: 'new-1', status: 'read', timestamp: '1740906005', recipient_id: '919876543210' }],
        messages: [
          { id: 'wamid.new', from: '919876543210', timestamp: '1740906000', type: 'text', text: { body: 'new from WhatsApp' } },
        ],
      }),
    );
    const everything = await snapshot(t);
    const newer = everything.filter((m) => m.message_id.startsWith('new') || m.message_id === 'wamid.new');
    const allEvents = await feedEvents(t);
    const olderStatuses = olderEvents.filter(([type]) => type === 'status.created').length;

    const { lines, logger } = capture();
    const metrics = createMetrics();
    const task = new RetentionTask({
      store: t.store,
      days: 30,
      logger,
      metrics,
      batchSize: 2,
      pauseMs: 1,
      now: () => cutoff + 30 * DAY_MS,
    });
    const pass = await task.runPass();
    expect(pass.outcome, JSON.stringify(lines.filter((l) => l.level !== 'DEBUG'))).toBe('done');
    expect(pass.before).toBe(new Date(cutoff).toISOString());
    expect(pass.removed).toEqual({
      messages: everything.length - newer.length,
      statuses: olderStatuses,
      deadLetters: olderDeadLetters,
    });
    // Batches of at most 2 rows (none of these messages has a status), and one more that found nothing.
    const older = olderStatuses + olderDeadLetters + everything.length - newer.length;
    expect(pass.batches).toBe(Math.ceil(older / 2) + 1);
    expect(lines.filter((l) => l.msg === 'retention pass')).toHaveLength(1);

    await expectReadsExact(t, newer, ['parcel', 'new', 'old']);
    expect(await allDeadLetters(t)).toEqual([]);
    expect(await feedEvents(t)).toEqual(allEvents.slice(olderEvents.length));
    // Statuses of sent messages, received before the cutoff, are gone; the newer status stays.
    expect((await getMessageDetail(t, 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSM0E5QjhDN0Q2RTVGNEEzQjJDAA==')).statusCode).toBe(404);
    const kept = await getMessageDetail(t, 'new-1');
    expect(kept.json<{ statuses: unknown[] }>().statuses).toHaveLength(1);

    // A second pass finds nothing more.
    expect((await task.runPass()).removed).toEqual({ messages: 0, statuses: 0, deadLetters: 0 });
  });

  it('oldest_received_at_seconds follows the oldest row kept: NaN when empty, then each first row', async () => {
    const t = app();
    expect(sampleValue(await scrape(t), 'oldest_received_at_seconds')).toBeNaN();
    await storeAll(t, [message({ message_id: 'first' })]);
    await tick();
    const cutoff = Date.now();
    await tick();
    await storeAll(t, [message({ message_id: 'second' })]);
    const receivedAt = async (id: string) =>
      Date.parse((await getMessageDetail(t, id)).json<{ received_at: string }>().received_at) / 1000;
    expect(sampleValue(await scrape(t), 'oldest_received_at_seconds')).toBe(await receivedAt('first'));
    const { logger } = capture();
    await new RetentionTask({ store: t.store, days: 1, logger, metrics: createMetrics(), now: () => cutoff + DAY_MS }).runPass();
    expect(sampleValue(await scrape(t), 'oldest_received_at_seconds')).toBe(await receivedAt('second'));
  });
});

describe('RETENTION_DAYS in the app', () => {
  const app = useTestApp();

  it('runs a pass at start and on, counts what it removed, and stops when the app closes', async () => {
    const t = app();
    const old = ['2020-01-01T00:00:00Z', '2020-06-01T00:00:00Z'].map((ts, i) => ({
      messageId: `imported-${i}`,
      from: '+919876543210',
      to: '+14155550100',
      ts,
      tsKey: instantKey(ts) ?? '',
      text: `kept since 2020 (${i})`,
      receivedAt: ts.replace('Z', '.000Z'),
    }));
    expect(await t.store.importMessages(old)).toEqual(['created', 'created']);
    await storeAll(t, [message({ message_id: 'fresh', ts: '2020-01-02T00:00:00Z' })]);
    const fresh = (await snapshot(t)).filter((m) => m.message_id === 'fresh');

    const { lines, logger } = capture();
    const retained = await buildApp({ config: { ...t.config, retentionDays: 30 }, store: t.store, logger });
    try {
      const line = await waitFor('the first pass', () => lines.find((l) => l.msg === 'retention pass'));
      expect(line).toMatchObject({
        level: 'INFO',
        retention_days: 30,
        outcome: 'done',
        messages: 2,
        statuses: 0,
        dead_letters: 0,
      });
      const samples = parseSamples((await retained.inject({ method: 'GET', url: '/metrics' })).body);
      expect(sampleValue(samples, 'retention_deleted_total', { kind: 'messages' })).toBe(2);
      expect(sampleValue(samples, 'retention_deleted_total', { kind: 'statuses' })).toBe(0);
    } finally {
      await retained.close();
    }
    await expectReadsExact(t, fresh);
    // Without RETENTION_DAYS (the test app), no pass ever ran.
    expect(t.logs.filter((l) => String(l.msg).startsWith('retention'))).toEqual([]);
    expect(sampleValue(await scrape(t), 'retention_deleted_total', { kind: 'messages' })).toBe(0);
  });
});
