// Load shedding (MAX_EVENT_LOOP_DELAY_MS) through app.inject: while the event loop lags, webhooks
// get 503 with Retry-After at once, liveness and metrics still answer, and service resumes when
// the loop is quiet again.
//
// @fastify/under-pressure samples the mean event-loop delay once a second (a histogram with a
// 10 ms resolution, reset at each sample), so one long block is diluted by the quiet ticks around
// it. The test keeps the loop busy in slices instead, which is what a CPU-bound process looks
// like, and polls against a deadline rather than sleeping for fixed times.

import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { getMessageDetail, message, parseSamples, sampleValue, scrape, storedCount, useTestApp } from './support.js';

const OVERLOADED = { detail: 'server overloaded; retry later' };
/** How long one slice of the simulated CPU-bound work holds the event loop. */
const BUSY_SLICE_MS = 120;
/** Generous: the test fails by this deadline, it does not measure speed. */
const DEADLINE_MS = 20_000;

/** Holds the event loop synchronously for `ms` milliseconds, as a CPU-bound handler would. */
function holdEventLoop(ms: number): void {
  const until = performance.now() + ms;
  let spins = 0;
  while (performance.now() < until) spins++;
  if (spins < 0) throw new Error('unreachable');
}

function postUnsigned(t: TestApp): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/webhook', payload: '{}', headers: { 'content-type': 'application/json' } });
}

interface ShedObservation {
  readonly signed: LightMyRequestResponse;
  readonly live: LightMyRequestResponse;
  readonly metrics: LightMyRequestResponse;
  /** Signed messages refused with 503, and those accepted when the app stopped shedding mid-observation. */
  readonly shedIds: string[];
  readonly acceptedIds: string[];
}

/**
 * Keeps the event loop busy in slices until the app sheds load, then, between two unsigned probes
 * that both get the overload 503 (so the app was shedding throughout: its verdict only changes at
 * a sample, a second apart), sends a correctly signed message, /health/live and /metrics.
 */
async function observeShedding(t: TestApp): Promise<ShedObservation> {
  const deadline = Date.now() + DEADLINE_MS;
  const shedIds: string[] = [];
  const acceptedIds: string[] = [];
  let attempt = 0;
  while (Date.now() < deadline) {
    holdEventLoop(BUSY_SLICE_MS);
    await nextTurn();
    if ((await postUnsigned(t)).statusCode !== 503) continue;
    const messageId = `shed-${attempt++}`;
    const signed = await t.postSigned(message({ message_id: messageId }));
    const live = await t.app.inject({ method: 'GET', url: '/health/live' });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    const after = await postUnsigned(t);
    (signed.statusCode === 503 ? shedIds : acceptedIds).push(messageId);
    if (after.statusCode === 503 && signed.statusCode === 503) return { signed, live, metrics, shedIds, acceptedIds };
  }
  throw new Error(`no load was shed within ${DEADLINE_MS} ms of a busy event loop`);
}

/** Polls (without holding the loop) until a signed message is accepted again. */
async function waitForRecovery(t: TestApp, messageId: string): Promise<LightMyRequestResponse> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: LightMyRequestResponse | undefined;
  while (Date.now() < deadline) {
    last = await t.postSigned(message({ message_id: messageId }));
    if (last.statusCode !== 503) return last;
    await sleep(100);
  }
  throw new Error(`still refusing ${DEADLINE_MS} ms after the load stopped: ${last?.statusCode} ${last?.body}`);
}

describe('load shedding with MAX_EVENT_LOOP_DELAY_MS=50', () => {
  const app = useTestApp({ MAX_EVENT_LOOP_DELAY_MS: '50' });

  it('answers webhooks 503 with Retry-After while the loop lags, keeps liveness and metrics, then recovers', async () => {
    const t = app();
    // Quiet at first: nothing is shed.
    expect((await t.postSigned(message({ message_id: 'before' }))).statusCode).toBe(200);

    const { signed, live, metrics, shedIds, acceptedIds } = await observeShedding(t);
    expect(signed.statusCode).toBe(503);
    expect(signed.json()).toEqual(OVERLOADED);
    const retryAfter = signed.headers['retry-after'];
    expect(String(retryAfter)).toMatch(/^[1-9][0-9]*$/);
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: 'ok' });
    expect(metrics.statusCode).toBe(200);
    // Scraped while shedding: the probe and the signed message before it are already counted.
    expect(sampleValue(parseSamples(metrics.body), 'webhook_requests_total', { result: 'overloaded' })).toBeGreaterThanOrEqual(2);

    const recovered = await waitForRecovery(t, 'after');
    expect(recovered.statusCode).toBe(200);
    expect(recovered.json()).toEqual({ status: 'ok' });

    // What was shed was not stored; what came before and after was.
    expect(shedIds.length).toBeGreaterThan(0);
    for (const id of shedIds) expect((await getMessageDetail(t, id)).statusCode, id).toBe(404);
    expect(await storedCount(t)).toBe(2 + acceptedIds.length);
    const samples = await scrape(t);
    const overloaded = sampleValue(samples, 'webhook_requests_total', { result: 'overloaded' }) ?? 0;
    // At least the two probes and the signed message of the observation itself.
    expect(overloaded).toBeGreaterThanOrEqual(3);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'created' })).toBe(2 + acceptedIds.length);
    const line = t.logs.find((l) => l.msg === 'request completed' && l.result === 'overloaded');
    expect(line).toMatchObject({ path: '/webhook', status: 503 });
  }, 60_000);
});

describe('load shedding with MAX_EVENT_LOOP_DELAY_MS=0 (off)', () => {
  const app = useTestApp({ MAX_EVENT_LOOP_DELAY_MS: '0' });

  it('never sheds, however busy the loop', async () => {
    const t = app();
    // Three sampling periods of a busy loop: a shedding app would have refused by then.
    const until = Date.now() + 3_500;
    let i = 0;
    while (Date.now() < until) {
      holdEventLoop(BUSY_SLICE_MS);
      await nextTurn();
      const res = await t.postSigned(message({ message_id: `busy-${i++}` }));
      expect(res.statusCode).toBe(200);
    }
    expect(await storedCount(t)).toBe(i);
    expect(sampleValue(await scrape(t), 'webhook_requests_total', { result: 'overloaded' })).toBe(0);
  }, 60_000);
});
