// Lifecycle (issue 14): moving data out of and into the service and removing it, at --messages
// rows. Export: GET /messages/export of every row, NDJSON then CSV, from a server on the seeded
// database, with its rate and the server's RSS against its idle figure. Import: `webhook-inbox
// import` of that NDJSON into an empty database. Backup: `webhook-inbox backup` of a live database
// while webhooks arrive on 50 connections, their latency during the copy against before it, and
// the copy checked row by row. Retention: RETENTION_DAYS purging half of the rows while webhooks
// arrive, their latency against a run without it, and what went checked against what was old.
//
// The commands run as the user runs them (the compiled command line, `node dist/cli/main.js`, in a
// process of their own); every process started here is stopped by its pid.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, openSync, readSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse';
import { loadConfig } from '../src/config.js';
import { CSV_COLUMNS, messageObject } from '../src/store/export-format.js';
import { DEFAULT_CHECKPOINT_SPACING_MS } from '../src/store/sqlite/checkpoint.js';
import type { ImportedMessage, Stats } from '../src/store/store.js';
import { PROJECT_ROOT } from '../test/helpers/server.js';
import { type Answer, loadWebhooks, type SignedBodyPool } from './ingest.js';
import type { RunningServer } from './server.js';
import { readCpuSeconds, readMainThreadCpuSeconds, readMemory, sampleRss } from './server.js';
import { percentile } from './stats.js';
import { openBenchStore } from './store.js';
import { SyntheticMessages, startOfUtcDay } from './synthetic.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const MIB = 1024 * 1024;
const DAY_MS = 86_400_000;

/** Issue 14's targets. */
export const EXPORT_RATE_TARGET = 50_000;
export const EXPORT_RSS_TARGET_MIB = 50;
export const IMPORT_RATE_TARGET = 25_000;
export const PURGE_P99_RATIO_TARGET = 2;

/** How often the server's RSS is read during an export. */
export const RSS_SAMPLE_MS = 250;
/** The quiet time before the idle RSS is read, and how long it is read for. */
const IDLE_SETTLE_MS = 2000;
const IDLE_SAMPLES = 5;
/** Messages read back from the imported database and compared with their export lines. */
const IMPORT_SAMPLES = 100;
/**
 * The longest the retention run waits for the purge to finish: 500,000 messages at a million
 * take about 50 minutes under the run's webhooks (each removal costs the writer over a
 * millisecond, and batches take about a third of its time).
 */
const PURGE_LIMIT_MS = 75 * 60_000;
/**
 * During a purge the store checkpoints the log at most every DEFAULT_CHECKPOINT_SPACING_MS, so
 * the last one can come that long after the last batch: the webhooks "after the purge" are timed
 * from then, plus a second.
 */
const LAST_CHECKPOINT_MS = DEFAULT_CHECKPOINT_SPACING_MS + 1000;

export type ExportFormat = 'ndjson' | 'csv';

/** The compiled command line, as `npx webhook-inbox` runs it (the bench builds dist/ first). */
const CLI_MAIN = path.join(PROJECT_ROOT, 'dist', 'cli', 'main.js');

// ---------------------------------------------------------------------------------------------
// Commands

export interface CommandRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From the spawn to the exit: node's start included. */
  readonly seconds: number;
  /** CPU seconds of the command's process (all its threads), as last read from /proc before it exited. */
  readonly cpuSeconds: number;
  /** Wall-clock (Date.now()) of the spawn and of the exit. */
  readonly startedAt: number;
  readonly endedAt: number;
}

const commands = new Set<ChildProcess>();

/** Stops the commands still running (SIGINT and error paths), by pid. */
export function stopCommands(): void {
  for (const child of commands) {
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Runs `webhook-inbox <args>` to its end. */
export function runCommand(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CommandRun> {
  const startedAt = Date.now();
  const begin = performance.now();
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  commands.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  let cpuSeconds = 0;
  const timer = setInterval(() => {
    if (child.pid !== undefined) cpuSeconds = readCpuSeconds(child.pid) ?? cpuSeconds;
  }, 250);
  return new Promise<CommandRun>((resolve, reject) => {
    child.once('error', (error) => {
      clearInterval(timer);
      commands.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearInterval(timer);
      commands.delete(child);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        seconds: (performance.now() - begin) / 1000,
        cpuSeconds,
        startedAt,
        endedAt: Date.now(),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Server measurements

async function getJson<T>(server: RunningServer, pathAndQuery: string): Promise<{ status: number; body: T | null }> {
  const response = await fetch(`${server.baseUrl}${pathAndQuery}`);
  if (response.status !== 200) {
    await response.body?.cancel();
    return { status: response.status, body: null };
  }
  return { status: 200, body: (await response.json()) as T };
}

/** GET /stats: the store's total, as the service answers it. */
export async function totalMessages(server: RunningServer): Promise<number> {
  const { status, body } = await getJson<{ total_messages: number }>(server, '/stats');
  if (body === null) throw new Error(`GET /stats answered ${status}`);
  return body.total_messages;
}

/** The server's RSS at rest: after a quiet moment, the median of a few readings a little apart. */
export async function idleRssMiB(pid: number): Promise<number> {
  await sleep(IDLE_SETTLE_MS);
  const readings: number[] = [];
  for (let i = 0; i < IDLE_SAMPLES; i++) {
    const rss = readMemory(pid)?.rssKiB;
    if (rss !== undefined && Number.isFinite(rss)) readings.push(rss / 1024);
    await sleep(200);
  }
  readings.sort((a, b) => a - b);
  return readings[Math.floor(readings.length / 2)] ?? Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// Export

export interface ExportRun {
  readonly format: ExportFormat;
  readonly status: number;
  readonly contentType: string | null;
  /** Records in the body (NDJSON lines; CSV records outside quotes, less the header). */
  readonly rows: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** The body ended as a complete response (not cut short). */
  readonly complete: boolean;
  readonly error: string | null;
  /** Server RSS, MiB: at rest before this export, the highest sampled during it, at its end; every sample. */
  readonly rss: { readonly idleMiB: number; readonly highestMiB: number; readonly endMiB: number; readonly timeline: number[] };
  /** Server CPU over the export, % of one core: all threads, and the event loop alone. */
  readonly serverCpuPercent: number;
  readonly eventLoopCpuPercent: number;
}

/**
 * Counts records in the bytes going by. NDJSON: line feeds. CSV: line feeds outside quoted fields
 * (a quote inside a field is doubled, so the parity holds), found with indexOf rather than byte by
 * byte, so that this process takes little of the CPU the server needs.
 */
function recordCounter(format: ExportFormat, onBytes: (bytes: number) => void): { counter: Transform; records: () => number } {
  let breaks = 0;
  let quoted = false;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (format === 'ndjson') {
        for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) breaks++;
      } else {
        let at = 0;
        for (;;) {
          if (quoted) {
            const close = chunk.indexOf(0x22, at);
            if (close === -1) break;
            quoted = false;
            at = close + 1;
            continue;
          }
          const quote = chunk.indexOf(0x22, at);
          const lf = chunk.indexOf(0x0a, at);
          if (lf !== -1 && (quote === -1 || lf < quote)) {
            breaks++;
            at = lf + 1;
          } else if (quote !== -1) {
            quoted = true;
            at = quote + 1;
          } else break;
        }
      }
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  return { counter, records: () => (format === 'csv' ? Math.max(0, breaks - 1) : breaks) };
}

/** Downloads every message in `format` to `file`, sampling the server's RSS and CPU meanwhile. */
export async function exportOnce(server: RunningServer, format: ExportFormat, file: string, idleMiB: number): Promise<ExportRun> {
  const sampler = sampleRss(server.pid, RSS_SAMPLE_MS);
  const cpuStart = readCpuSeconds(server.pid) ?? Number.NaN;
  const loopStart = readMainThreadCpuSeconds(server.pid) ?? Number.NaN;
  const begin = performance.now();
  let bytes = 0;
  const { counter, records } = recordCounter(format, (n) => {
    bytes += n;
  });
  let status = 0;
  let contentType: string | null = null;
  let complete = false;
  let error: string | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      const request = http.get(
        { host: '127.0.0.1', port: server.port, path: `/messages/export?format=${format}`, agent: false },
        (response) => {
          status = response.statusCode ?? 0;
          contentType = response.headers['content-type'] ?? null;
          if (status !== 200) {
            response.resume();
            response.once('end', resolve);
            return;
          }
          pipeline(response, counter, createWriteStream(file)).then(() => {
            complete = true;
            resolve();
          }, reject);
        },
      );
      request.once('error', reject);
    });
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
  }
  const seconds = (performance.now() - begin) / 1000;
  const cpu = (readCpuSeconds(server.pid) ?? Number.NaN) - cpuStart;
  const loop = (readMainThreadCpuSeconds(server.pid) ?? Number.NaN) - loopStart;
  const { samples } = sampler.stop();
  const timeline = samples.map((kib) => Math.round(kib / 1024));
  const rows = records();
  return {
    format,
    status,
    contentType,
    rows,
    bytes,
    seconds,
    rowsPerSecond: rows / seconds,
    complete,
    error,
    rss: {
      idleMiB,
      highestMiB: samples.reduce((max, kib) => Math.max(max, kib), 0) / 1024,
      endMiB: (samples.at(-1) ?? Number.NaN) / 1024,
      timeline,
    },
    serverCpuPercent: (cpu / seconds) * 100,
    eventLoopCpuPercent: (loop / seconds) * 100,
  };
}

/** `ts` to the second, as epoch ms (every synthetic ts ends in Z; the fraction is dropped). */
function tsSecond(ts: unknown): number {
  return typeof ts === 'string' ? Date.parse(ts.replace(/\.\d*Z$/, 'Z')) : Number.NaN;
}

export interface NdjsonCheck {
  readonly lines: number;
  /** Lines that are not a JSON object with a string message_id and received_at. */
  readonly bad: number;
  readonly firstBad: string | null;
  readonly distinctIds: number;
  /** Lines whose ts (to the second) is before the line above's: the export is oldest first. */
  readonly outOfOrder: number;
  /** Every (lines / IMPORT_SAMPLES)-th message, as exported: what the import is checked against. */
  readonly samples: readonly Record<string, unknown>[];
}

/** Reads an NDJSON export back: every line must parse, ids once each, oldest first. Not timed. */
export async function checkNdjson(file: string, expectedLines: number): Promise<NdjsonCheck> {
  const ids = new Set<string>();
  const every = Math.max(1, Math.floor(expectedLines / IMPORT_SAMPLES));
  const samples: Record<string, unknown>[] = [];
  let lines = 0;
  let bad = 0;
  let firstBad: string | null = null;
  let outOfOrder = 0;
  let previous = Number.NEGATIVE_INFINITY;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    lines++;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      value = error;
    }
    const object =
      typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    if (object === null || typeof object.message_id !== 'string' || typeof object.received_at !== 'string') {
      bad++;
      firstBad ??= `line ${lines}: ${line.slice(0, 120)}`;
      continue;
    }
    ids.add(object.message_id);
    const second = tsSecond(object.ts);
    if (second < previous) outOfOrder++;
    if (Number.isFinite(second)) previous = second;
    if (lines % every === 0) samples.push(object);
  }
  return { lines, bad, firstBad, distinctIds: ids.size, outOfOrder, samples };
}

export interface CsvCheck {
  readonly records: number;
  readonly headerOk: boolean;
  /** Records without exactly the header's fields, or that the parser refused. */
  readonly bad: number;
  readonly error: string | null;
}

/** Parses a CSV export back with a parser that is not the writer. Not timed. */
export async function checkCsv(file: string): Promise<CsvCheck> {
  let records = 0;
  let bad = 0;
  let headerOk = false;
  let first = true;
  let error: string | null = null;
  try {
    const parser = createReadStream(file).pipe(parseCsv({ relax_column_count: true }));
    for await (const record of parser as AsyncIterable<string[]>) {
      if (first) {
        first = false;
        headerOk = record.join(',') === CSV_COLUMNS.join(',');
        continue;
      }
      records++;
      if (record.length !== CSV_COLUMNS.length) bad++;
    }
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
  }
  return { records, headerOk, bad, error };
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportResult {
  readonly run: CommandRun;
  readonly added: number;
  readonly skipped: number;
  readonly rowsPerSecond: number;
  /** The imported database's /stats against the exported one's, field by field. */
  readonly statsEqual: boolean;
  readonly statsDifference: string | null;
  /** Exported messages looked up in the imported database: how many read back the same. */
  readonly samplesChecked: number;
  readonly samplesEqual: number;
  readonly firstSampleDifference: string | null;
}

/** `webhook-inbox import FILE` into an empty database, then the result read back and compared. */
export async function importInto(
  ndjson: string,
  databaseFile: string,
  exported: Stats,
  samples: readonly Record<string, unknown>[],
): Promise<ImportResult> {
  const databaseUrl = `sqlite:///${databaseFile}`;
  const run = await runCommand(['import', ndjson, '--database-url', databaseUrl]);
  const summary = /: ([0-9,]+) added, ([0-9,]+) skipped/.exec(run.stdout);
  const count = (text: string | undefined): number => Number((text ?? 'NaN').replaceAll(',', ''));
  const added = count(summary?.[1]);
  const skipped = count(summary?.[2]);
  let statsEqual = false;
  let statsDifference: string | null = null;
  let samplesEqual = 0;
  let firstSampleDifference: string | null = null;
  if (run.code === 0) {
    const store = await openBenchStore(loadConfig({ DATABASE_URL: databaseUrl, READ_WORKERS: '0' }, PROJECT_ROOT));
    try {
      const imported = await store.stats(exported.messagesPerSender.length);
      statsEqual = JSON.stringify(imported) === JSON.stringify(exported);
      if (!statsEqual) statsDifference = `imported ${JSON.stringify(imported)} against ${JSON.stringify(exported)}`;
      for (const line of samples) {
        // The line as the export wrote it (JSON.stringify keeps the keys' order), against the
        // stored message formatted by the same function the export uses.
        const want = JSON.stringify(line);
        const m = (await store.getMessage(String(line.message_id)))?.message;
        const got = m?.details === undefined ? 'missing' : JSON.stringify(messageObject({ ...m, details: m.details }));
        if (got === want) samplesEqual++;
        else firstSampleDifference ??= `${String(line.message_id)}: exported ${want}, imported ${got}`;
      }
    } finally {
      await store.close();
    }
  }
  return {
    run,
    added,
    skipped,
    rowsPerSecond: added / run.seconds,
    statsEqual,
    statsDifference,
    samplesChecked: samples.length,
    samplesEqual,
    firstSampleDifference,
  };
}

// ---------------------------------------------------------------------------------------------
// Webhooks followed over time

/** Every answer of a load, in arrival order. */
export class Answers {
  readonly index: number[] = [];
  readonly status: number[] = [];
  readonly at: number[] = [];
  readonly latencyMs: number[] = [];

  readonly add = (answer: Answer): void => {
    this.index.push(answer.index);
    this.status.push(answer.status);
    this.at.push(answer.at);
    this.latencyMs.push(answer.latencyMs);
  };

  /** The answers to the requests sent at or after `from` and answered by `to` (Date.now() times). */
  window(from: number, to: number): WebhookWindow {
    const latencies: number[] = [];
    const statusCounts: Record<string, number> = {};
    let answered = 0;
    for (let i = 0; i < this.at.length; i++) {
      const at = this.at[i] ?? 0;
      const latency = this.latencyMs[i] ?? 0;
      if (at > to || at - latency < from) continue;
      answered++;
      const status = this.status[i] ?? 0;
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (status >= 200 && status < 300) latencies.push(latency);
    }
    const seconds = Math.max(0, to - from) / 1000;
    return {
      seconds,
      answered,
      ok: latencies.length,
      statusCounts,
      okPerSecond: seconds > 0 ? latencies.length / seconds : Number.NaN,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.length === 0 ? Number.NaN : latencies.reduce((max, v) => Math.max(max, v), 0),
    };
  }

  /** Pool indices answered 2xx before `before`. */
  acknowledgedBefore(before: number): number[] {
    const acked: number[] = [];
    for (let i = 0; i < this.at.length; i++) {
      const status = this.status[i] ?? 0;
      if ((this.at[i] ?? 0) < before && status >= 200 && status < 300) acked.push(this.index[i] ?? -1);
    }
    return acked;
  }

  get acknowledged(): number {
    return this.status.reduce((n, status) => n + (status >= 200 && status < 300 ? 1 : 0), 0);
  }
}

/** The webhooks of one stretch of time. */
export interface WebhookWindow {
  readonly seconds: number;
  readonly answered: number;
  readonly ok: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly okPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A load running until stopped, its answers kept with their times. */
export interface OpenLoad {
  readonly answers: Answers;
  /** Date.now() when it started. */
  readonly startedAt: number;
  /** Stops it and resolves with its errors and timeouts (connections, not answers). */
  stop(): Promise<{ errors: number; timeouts: number; nextIndex: number }>;
}

export function startLoad(server: RunningServer, pool: SignedBodyPool, connections: number, firstIndex: number): OpenLoad {
  const answers = new Answers();
  const controller = new AbortController();
  const startedAt = Date.now();
  const running = loadWebhooks([server], pool, {
    connections,
    firstIndex,
    // Until stopped: a day is "forever" here.
    durationSeconds: 86_400,
    signal: controller.signal,
    onAnswer: answers.add,
  });
  return {
    answers,
    startedAt,
    async stop() {
      controller.abort();
      const result = await running;
      return { errors: result.errors, timeouts: result.timeouts, nextIndex: result.nextIndex };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Backup

export interface BackupResult {
  readonly run: CommandRun;
  /** The command's own report ("… N messages, integrity_check ok"). */
  readonly reportedOk: boolean;
  /** PRAGMA integrity_check of the copy, run here again once the load had stopped. */
  readonly integrity: string;
  readonly copyRows: number;
  /** Rows of the database before any webhook of the load. */
  readonly rowsBefore: number;
  /** Webhooks answered 2xx before the command was started, and how many of them the copy lacks. */
  readonly acknowledgedBefore: number;
  readonly missing: number;
  readonly firstMissing: string | null;
  /** Webhooks before the backup (after the warm-up) and while it ran. */
  readonly before: WebhookWindow;
  readonly during: WebhookWindow;
  readonly errors: number;
  readonly copyBytes: number;
}

export interface BackupOptions {
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly output: string;
  readonly log: (line: string) => void;
}

/**
 * Webhooks on `connections` for the warm-up and `durationSeconds` (the "before"), then
 * `webhook-inbox backup` while they go on, and a second more; then the copy is checked.
 */
export async function backupUnderLoad(
  server: RunningServer,
  pool: SignedBodyPool,
  options: BackupOptions,
): Promise<BackupResult> {
  const rowsBefore = await totalMessages(server);
  const load = startLoad(server, pool, options.connections, 0);
  let run: CommandRun;
  let stopped: { errors: number; timeouts: number };
  try {
    await sleep((options.warmupSeconds + options.durationSeconds) * 1000);
    options.log(`  backup: ${load.answers.acknowledged} webhooks acknowledged so far; running webhook-inbox backup`);
    run = await runCommand(['backup', '--output', options.output], { DATABASE_URL: server.databaseUrl });
    await sleep(1000);
  } finally {
    stopped = await load.stop();
  }
  const { answers, startedAt } = load;
  const before = answers.window(startedAt + options.warmupSeconds * 1000, run.startedAt);
  const during = answers.window(run.startedAt, run.endedAt);
  const ackedBefore = answers.acknowledgedBefore(run.startedAt);
  let integrity = 'not run';
  let copyRows = Number.NaN;
  let missing = ackedBefore.length;
  let firstMissing: string | null = null;
  let copyBytes = Number.NaN;
  if (run.code === 0) {
    copyBytes = statSync(options.output).size;
    const copy = new Database(options.output, { readonly: true, fileMustExist: true });
    try {
      integrity = String(copy.pragma('integrity_check', { simple: true }));
      copyRows = Number(copy.prepare('SELECT count(*) FROM messages').pluck().get());
      const has = copy.prepare('SELECT 1 FROM messages WHERE message_id = ?').pluck();
      missing = 0;
      for (const index of ackedBefore) {
        const id = pool.messageId(index);
        if (has.get(id) === undefined) {
          missing++;
          firstMissing ??= id;
        }
      }
    } finally {
      copy.close();
    }
  }
  return {
    run,
    reportedOk: run.code === 0 && /integrity_check ok/.test(run.stdout),
    integrity,
    copyRows,
    rowsBefore,
    acknowledgedBefore: ackedBefore.length,
    missing,
    firstMissing,
    before,
    during,
    errors: stopped.errors + stopped.timeouts,
    copyBytes,
  };
}

// ---------------------------------------------------------------------------------------------
// Retention

export interface RetentionDatabase {
  readonly file: string;
  readonly rows: number;
  /** Rows received long ago (the first half, oldest first): what the purge must remove, all of them. */
  readonly old: number;
  /** RETENTION_DAYS that puts the cutoff between the old rows and the recent ones. */
  readonly days: number;
  /** received_at of the recent rows: from `recentFrom` to `recentTo`, ms (Date.now() time). */
  readonly recentFrom: number;
  readonly recentTo: number;
  readonly seconds: number;
}

/** An instant to the millisecond, as the stores write received_at. */
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * A database of `rows` synthetic messages (the seeded ones: same seed, senders and span), stored
 * through the store's importMessages so that each keeps the received_at given: the older half was
 * received at its own ts (a year to half a year ago), the newer half in the minutes before now.
 */
export async function buildRetentionDatabase(
  file: string,
  options: { readonly rows: number; readonly senders: number; readonly seed: number },
  onProgress: (done: number) => void,
): Promise<RetentionDatabase> {
  const begin = performance.now();
  const store = await openBenchStore(loadConfig({ DATABASE_URL: `sqlite:///${file}`, READ_WORKERS: '0' }, PROJECT_ROOT));
  const old = Math.floor(options.rows / 2);
  const builtAt = Date.now();
  let newestOld = Number.NEGATIVE_INFINITY;
  let created = 0;
  let i = 0;
  try {
    const synthetic = new SyntheticMessages({
      count: options.rows,
      senders: options.senders,
      seed: options.seed,
      until: startOfUtcDay(),
      batchSize: 10_000,
    });
    for (const batch of synthetic.batches()) {
      const imported = batch.map((m): ImportedMessage => {
        const k = i++;
        if (k >= old) return { ...m, receivedAt: iso(builtAt - (options.rows - k)) };
        const at = tsSecond(m.ts);
        newestOld = Math.max(newestOld, at);
        return { ...m, receivedAt: iso(at) };
      });
      for (const outcome of await store.importMessages(imported)) if (outcome === 'created') created++;
      onProgress(i);
    }
  } finally {
    await store.close();
  }
  if (created !== options.rows) throw new Error(`the retention database holds ${created} of ${options.rows} rows`);
  // A whole day below the gap, so that the cutoff (counted from the server's start, a little
  // later) still falls after the newest old row and before the first recent one.
  const days = Math.floor((builtAt - newestOld) / DAY_MS) - 1;
  if (!(days >= 1)) throw new Error('the older half of the messages is too recent for a cutoff in whole days');
  return {
    file,
    rows: options.rows,
    old,
    days,
    recentFrom: builtAt - (options.rows - old),
    recentTo: builtAt - 1,
    seconds: (performance.now() - begin) / 1000,
  };
}

/** The retention pass, as the server logged it at its end. */
export interface PurgePass {
  readonly endedAt: number;
  readonly durationMs: number;
  readonly batches: number;
  readonly messages: number;
  readonly statuses: number;
  readonly deadLetters: number;
  readonly outcome: string;
  readonly before: string;
}

/** Reads a log file as it grows, a line at a time. */
class LogTail {
  #offset = 0;
  #rest = '';
  constructor(readonly file: string) {}

  /** The complete lines added since the last call. */
  read(): string[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const chunk = Buffer.alloc(1 << 20);
      const lines: string[] = [];
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, this.#offset);
        if (n <= 0) break;
        this.#offset += n;
        const text = this.#rest + chunk.subarray(0, n).toString('utf8');
        const parts = text.split('\n');
        this.#rest = parts.pop() ?? '';
        lines.push(...parts);
      }
      return lines;
    } finally {
      closeSync(fd);
    }
  }
}

function purgePass(line: string): PurgePass | null {
  if (!line.includes('"retention pass')) return null;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (entry.msg === 'retention pass failed; retried at the next') {
    return {
      endedAt: Date.parse(String(entry.ts)),
      durationMs: Number.NaN,
      batches: Number(entry.batches),
      messages: Number(entry.messages),
      statuses: Number(entry.statuses),
      deadLetters: Number(entry.dead_letters),
      outcome: 'failed',
      before: String(entry.before),
    };
  }
  if (entry.msg !== 'retention pass') return null;
  return {
    endedAt: Date.parse(String(entry.ts)),
    durationMs: Number(entry.duration_ms),
    batches: Number(entry.batches),
    messages: Number(entry.messages),
    statuses: Number(entry.statuses),
    deadLetters: Number(entry.dead_letters),
    outcome: String(entry.outcome),
    before: String(entry.before),
  };
}

export interface RetentionRun {
  /** The run without RETENTION_DAYS: webhooks after the warm-up, for `duration` seconds. */
  readonly alone: WebhookWindow;
  /** Null when no pass ended within the limit. */
  readonly pass: PurgePass | null;
  /** Webhooks sent during the pass (after the warm-up), and after it (once its last checkpoint is due). */
  readonly during: WebhookWindow | null;
  readonly after: WebhookWindow | null;
  readonly errors: number;
  /** The webhooks the purge run acknowledged, and how many rows it stored from them (counted in the file). */
  readonly acknowledged: number;
  readonly webhooksStored: number;
  /** GET /stats total at the end of the purge run, and what it must be: rows − old + webhooksStored. */
  readonly statsTotal: number;
  readonly expectedTotal: number;
  /** Counted in the file once the server stopped: rows received before the cutoff, recent rows kept. */
  readonly oldLeft: number;
  readonly recentKept: number;
}

export interface RetentionOptions {
  readonly connections: number;
  readonly warmupSeconds: number;
  /** Seconds measured after the warm-up, with the purge running and without it: the same on both copies. */
  readonly windowSeconds: number;
  /** Seconds measured after the purge, on its server, when the purge ends inside the window. */
  readonly durationSeconds: number;
  readonly log: (line: string) => void;
}

/**
 * Webhooks alone on a copy without RETENTION_DAYS, for the warm-up and the window: the baseline.
 * The window is as long as the one measured during the purge, so that this copy grows by about as
 * many webhooks as the other while it is measured (a webhook's latency grows with the database).
 */
export async function webhooksAlone(
  server: RunningServer,
  pool: SignedBodyPool,
  firstIndex: number,
  options: RetentionOptions,
): Promise<{ window: WebhookWindow; errors: number; nextIndex: number }> {
  const load = startLoad(server, pool, options.connections, firstIndex);
  let stopped: { errors: number; timeouts: number; nextIndex: number };
  try {
    await sleep((options.warmupSeconds + options.windowSeconds) * 1000);
  } finally {
    stopped = await load.stop();
  }
  const from = load.startedAt + options.warmupSeconds * 1000;
  return {
    window: load.answers.window(from, from + options.windowSeconds * 1000),
    errors: stopped.errors + stopped.timeouts,
    nextIndex: stopped.nextIndex,
  };
}

/**
 * On a server started with RETENTION_DAYS (its first pass begins as it starts): webhooks from then
 * on, for the warm-up and the window. "During" are those sent after the warm-up and answered
 * before the window's end or the pass's, whichever comes first. A pass that ends inside the window
 * keeps the load on until its last checkpoint is due and `duration` seconds more ("after"); one
 * that does not goes on without load to its end, which is waited for (exactness is counted then).
 */
export async function webhooksDuringPurge(
  server: RunningServer,
  pool: SignedBodyPool,
  firstIndex: number,
  options: RetentionOptions,
): Promise<{
  pass: PurgePass | null;
  during: WebhookWindow | null;
  after: WebhookWindow | null;
  answers: Answers;
  errors: number;
}> {
  const tail = new LogTail(server.logPath);
  const load = startLoad(server, pool, options.connections, firstIndex);
  const windowEnd = load.startedAt + (options.warmupSeconds + options.windowSeconds) * 1000;
  const deadline = Date.now() + PURGE_LIMIT_MS;
  let stopped: { errors: number; timeouts: number } | null = null;
  let lastReport = Date.now();
  /** The pass's log line, once it is written and `until` has not gone by. */
  const passBy = async (until: number, loaded: boolean): Promise<PurgePass | null> => {
    let found: PurgePass | null = null;
    while (found === null && Date.now() < until) {
      await sleep(500);
      for (const line of tail.read()) found ??= purgePass(line);
      if (Date.now() - lastReport >= 30_000) {
        lastReport = Date.now();
        options.log(
          `  retention: purge still running${loaded ? `; ${load.answers.acknowledged} webhooks acknowledged so far` : ', without load'}`,
        );
      }
    }
    return found;
  };
  let pass: PurgePass | null;
  try {
    pass = await passBy(windowEnd, true);
    if (pass !== null) await sleep(LAST_CHECKPOINT_MS + options.durationSeconds * 1000);
    stopped = await load.stop();
    pass ??= await passBy(deadline, false);
  } finally {
    stopped ??= await load.stop();
  }
  const { answers, startedAt } = load;
  let during: WebhookWindow | null = null;
  let after: WebhookWindow | null = null;
  if (pass !== null && Number.isFinite(pass.durationMs)) {
    const passStart = pass.endedAt - pass.durationMs;
    during = answers.window(Math.max(passStart, startedAt + options.warmupSeconds * 1000), Math.min(pass.endedAt, windowEnd));
    if (pass.endedAt < windowEnd) {
      const afterFrom = pass.endedAt + LAST_CHECKPOINT_MS;
      after = answers.window(afterFrom, afterFrom + options.durationSeconds * 1000);
    }
  }
  return { pass, during, after, answers, errors: stopped.errors + stopped.timeouts };
}

/** Counts, in the file of a stopped server, what the purge left of the old rows and of the recent ones, and the webhooks'. */
export function countAfterPurge(
  file: string,
  database: RetentionDatabase,
  cutoff: string,
): { oldLeft: number; recentKept: number; webhooks: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const count = (sql: string, ...params: string[]): number =>
      Number(
        db
          .prepare(sql)
          .pluck()
          .get(...params),
      );
    return {
      oldLeft: count('SELECT count(*) FROM messages WHERE received_at < ?', cutoff),
      recentKept: count(
        'SELECT count(*) FROM messages WHERE received_at >= ? AND received_at <= ?',
        iso(database.recentFrom),
        iso(database.recentTo),
      ),
      webhooks: count('SELECT count(*) FROM messages WHERE received_at > ?', iso(database.recentTo)),
    };
  } finally {
    db.close();
  }
}

export const mib = (bytes: number): number => bytes / MIB;
