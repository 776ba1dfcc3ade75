// The retention task against a store that records its calls: passes work through a backlog batch
// by batch with pauses between them, give way to another replica holding the lock, survive a
// failing database, log and count what they removed, and stop without leaving a timer.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { nextBatchSize, RETENTION_MIN_BATCH, RetentionTask } from '../../src/retention/task.js';
import type { PurgeBatch, Removal } from '../../src/store/store.js';

const DAY_MS = 86_400_000;
const NOW = Date.parse('2025-06-01T12:00:00.000Z');

const removal = (messages: number, statuses = 0, deadLetters = 0): Removal => ({ messages, statuses, deadLetters });

interface Call {
  readonly before: string;
  readonly limit: number;
  readonly at: number;
}

/** A store whose purge answers from `answers` in turn (then removes nothing), recording each call. */
function fakeStore(answers: (Removal | null | Error)[], delayMs = 0) {
  const calls: Call[] = [];
  return {
    calls,
    purge: async (before: string, limit: number): Promise<Removal | null> => {
      calls.push({ before, limit, at: performance.now() });
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      // Past the answers given, nothing is left to remove.
      const [answer = removal(0)] = answers.splice(0, 1);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

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

async function deleted(metrics: Metrics): Promise<Record<string, number>> {
  const values = (await metrics.retentionDeleted.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.kind), v.value]));
}

/**
 * A task (batches of about 20 ms, no pause) over a store holding `rows` old rows, on a clock that
 * each purge call moves by `waitMs` (its wait for the writer) plus `rowMs` a row removed; with
 * `reportsWriterMs` the store also says how long the removal itself held the writer.
 */
function clockedBacklog(rows: number, cost: { rowMs: number; waitMs?: number; reportsWriterMs?: boolean }) {
  let clock = NOW;
  let left = rows;
  const limits: number[] = [];
  const store = {
    purge: async (_before: string, limit: number): Promise<PurgeBatch> => {
      limits.push(limit);
      const removed = Math.min(limit, left);
      left -= removed;
      const writerMs = removed * cost.rowMs;
      clock += (cost.waitMs ?? 0) + writerMs;
      return cost.reportsWriterMs === true ? { ...removal(removed), writerMs } : removal(removed);
    },
  };
  const { logger } = capture();
  const task = new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), batchMs: 20, pauseMs: 0, now: () => clock });
  return { task, limits, left: () => left };
}

describe('RetentionTask.runPass', () => {
  it('removes batch after batch until one removes nothing, with the cutoff RETENTION_DAYS before now', async () => {
    const store = fakeStore([removal(500, 120, 3), removal(500, 80), removal(42, 1, 2)]);
    const { lines, logger } = capture();
    const metrics = createMetrics();
    const task = new RetentionTask({ store, days: 30, logger, metrics, batchSize: 500, pauseMs: 1, now: () => NOW });
    const pass = await task.runPass();
    const before = new Date(NOW - 30 * DAY_MS).toISOString();
    // The clock stands still, so every batch looks instant: the first asks for 50 rows, each next
    // one for twice as many (never more at once), until a batch finds fewer than it asked for.
    expect(store.calls.map((c) => [c.before, c.limit])).toEqual([50, 100, 200, 200].map((limit) => [before, limit]));
    expect(pass).toEqual({ before, batches: 4, removed: removal(1042, 201, 5), outcome: 'done' });
    expect(await deleted(metrics)).toEqual({ messages: 1042, statuses: 201, dead_letters: 5 });
    const logged = lines.filter((l) => l.msg === 'retention pass');
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'INFO',
        retention_days: 30,
        before,
        batches: 4,
        outcome: 'done',
        messages: 1042,
        statuses: 201,
        dead_letters: 5,
      }),
    ]);
  });

  it('sizes each batch to take about batchMs, from the rate of the one before', async () => {
    // A backlog of 1,000 rows, each costing 0.5 ms of the clock to remove: 40 rows fit in 20 ms.
    const backlog = clockedBacklog(1000, { rowMs: 0.5 });
    const pass = await backlog.task.runPass();
    expect(pass).toMatchObject({ removed: removal(1000), outcome: 'done' });
    // 50 rows took 25 ms: 40 from then on, then what is left, then the empty batch that ends it.
    expect(backlog.limits).toEqual([50, ...Array(23).fill(40), 40, 40]);
    expect(backlog.left()).toBe(0);
  });

  it('sizes batches by the time the store says each held its writer, not by the wait for its turn', async () => {
    // Each call waits 100 ms of the clock for the writer (webhook commits ahead of it), then holds
    // it 0.1 ms a row: sized by the whole call the batches would shrink to the fewest rows.
    const backlog = clockedBacklog(2000, { rowMs: 0.1, waitMs: 100, reportsWriterMs: true });
    expect(await backlog.task.runPass()).toMatchObject({ removed: removal(2000), outcome: 'done' });
    // 200 rows fit in 20 ms: 50, 100, 200, then 200 a batch.
    expect(backlog.limits.slice(0, 5)).toEqual([50, 100, 200, 200, 200]);
  });

  it('logs an idle pass at DEBUG only, and counts nothing', async () => {
    const store = fakeStore([]);
    const { lines, logger } = capture();
    const metrics = createMetrics();
    const pass = await new RetentionTask({ store, days: 7, logger, metrics, now: () => NOW }).runPass();
    expect(pass.outcome).toBe('done');
    expect(pass.batches).toBe(1);
    expect(lines.filter((l) => l.msg === 'retention pass').map((l) => l.level)).toEqual(['DEBUG']);
    expect(await deleted(metrics)).toEqual({ messages: 0, statuses: 0, dead_letters: 0 });
  });

  it('pauses after each batch at least as long as the batch took, so the writer is free half the time', async () => {
    const store = fakeStore([removal(500), removal(500), removal(10)], 40);
    const { logger } = capture();
    await new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), pauseMs: 1 }).runPass();
    expect(store.calls).toHaveLength(4);
    for (let i = 1; i < store.calls.length; i++) {
      const gap = (store.calls[i]?.at ?? 0) - (store.calls[i - 1]?.at ?? 0);
      // The batch took 40 ms and the pause as long again (timers may fire a millisecond early).
      expect(gap).toBeGreaterThanOrEqual(78);
    }
  });

  it('goes on from batch to batch without the pause while no webhook write begins, and pauses again once one does', async () => {
    const answers = [removal(500), removal(500), removal(500), removal(500), removal(10)];
    let writes = 0;
    const store = fakeStore(answers);
    const purge = store.purge;
    // A webhook write begins during the second batch, and none after it.
    const withWrite = {
      purge: (before: string, limit: number) => {
        if (store.calls.length === 1) writes++;
        return purge(before, limit);
      },
    };
    const { logger } = capture();
    const task = new RetentionTask({
      store: withWrite,
      days: 1,
      logger,
      metrics: createMetrics(),
      pauseMs: 400,
      webhookWrites: () => writes,
    });
    const pass = await task.runPass();
    expect(pass.removed.messages).toBe(2010);
    const gaps = store.calls.slice(1).map((call, i) => call.at - (store.calls[i]?.at ?? 0));
    expect(gaps).toHaveLength(5);
    // After the first batch: quiet. After the second: the write met, the 400 ms pause (timers may
    // fire a millisecond early). After the third: quiet again since that check, so no pause.
    expect(gaps[0]).toBeLessThan(400);
    expect(gaps[1]).toBeGreaterThanOrEqual(398);
    expect(gaps[2]).toBeLessThan(400);
    expect(gaps[3]).toBeLessThan(400);
  });

  it('gives way when another process holds the retention lock', async () => {
    const store = fakeStore([removal(500), null, removal(500)]);
    const { lines, logger } = capture();
    const pass = await new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), pauseMs: 1 }).runPass();
    expect(pass).toMatchObject({ outcome: 'locked', batches: 1, removed: removal(500) });
    expect(store.calls).toHaveLength(2);
    expect(lines.find((l) => l.msg === 'retention pass')).toMatchObject({ outcome: 'locked', messages: 500 });
  });

  it('survives a failing database: the pass ends with a warning naming the error, and nothing is thrown', async () => {
    const store = fakeStore([removal(500), new Error('connection refused')]);
    const { lines, logger } = capture();
    const metrics = createMetrics();
    const pass = await new RetentionTask({ store, days: 1, logger, metrics, pauseMs: 1 }).runPass();
    expect(pass).toMatchObject({ outcome: 'failed', batches: 1, removed: removal(500) });
    const warning = lines.find((l) => l.msg === 'retention pass failed; retried at the next');
    expect(warning).toMatchObject({ level: 'WARNING', messages: 500 });
    expect(JSON.stringify(warning)).toContain('connection refused');
    // What the first batch removed is counted.
    expect((await deleted(metrics)).messages).toBe(500);
  });
});

describe('RetentionTask.start and stop', () => {
  it('runs a pass at once, then one every interval after the previous one ended, and stops leaving no timer', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const store = fakeStore([]);
    const { logger } = capture();
    const task = new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), intervalMs: 30 });
    task.start();
    await waitUntil(() => store.calls.length >= 3);
    await task.stop();
    const calls = store.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.calls.length).toBe(calls);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timersBefore);
    // Passes are apart by at least the interval.
    for (let i = 1; i < store.calls.length; i++) {
      expect((store.calls[i]?.at ?? 0) - (store.calls[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(28);
    }
  });

  it('goes on after a failed pass', async () => {
    const store = fakeStore([new Error('database is locked'), removal(3)]);
    const { lines, logger } = capture();
    const task = new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), intervalMs: 10, pauseMs: 1 });
    task.start();
    await waitUntil(() => lines.some((l) => l.msg === 'retention pass' && l.messages === 3));
    await task.stop();
  });

  it('stop() waits for the batch in flight and ends the pass there, even in the middle of a backlog', async () => {
    const store = fakeStore(Array(100).fill(removal(500)), 50);
    const { lines, logger } = capture();
    const task = new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), pauseMs: 10_000 });
    task.start();
    await waitUntil(() => store.calls.length === 1);
    const stopped = performance.now();
    await task.stop();
    // Not the 10 s pause: the stop wakes it.
    expect(performance.now() - stopped).toBeLessThan(1000);
    expect(store.calls).toHaveLength(1);
    expect(lines.find((l) => l.msg === 'retention pass')).toMatchObject({ outcome: 'stopped', batches: 1, messages: 500 });
  });

  it('does nothing once stopped, even if started again', async () => {
    const store = fakeStore([]);
    const { logger } = capture();
    const task = new RetentionTask({ store, days: 1, logger, metrics: createMetrics(), intervalMs: 10 });
    await task.stop();
    task.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(store.calls).toHaveLength(0);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('nextBatchSize', () => {
  const rows = (n: number) => removal(n);
  it('keeps the rate of the last batch over the target duration', () => {
    expect(nextBatchSize(100, rows(100), 50, 20, 500)).toBe(40);
    expect(nextBatchSize(100, rows(100), 20, 20, 500)).toBe(100);
  });
  it('grows at most twofold, and never past the most a batch may remove', () => {
    expect(nextBatchSize(100, rows(100), 1, 20, 500)).toBe(200);
    expect(nextBatchSize(400, rows(400), 1, 20, 500)).toBe(500);
  });
  it('never goes under the smallest batch, however slow the last one was', () => {
    expect(nextBatchSize(50, rows(50), 10_000, 20, 500)).toBe(RETENTION_MIN_BATCH);
  });
  it('keeps the size after a batch that found fewer rows than it asked for (the end of the backlog)', () => {
    expect(nextBatchSize(100, rows(7), 1, 20, 500)).toBe(100);
  });
  it('counts statuses and dead letters with the messages', () => {
    expect(nextBatchSize(100, removal(50, 40, 10), 50, 20, 500)).toBe(40);
  });
});
