// `npm run bench [-- --messages N --duration S --rounds R --connections C ...]`: ingest throughput of
// the real store against the no-op ceiling, read latencies at N messages, webhooks beside the
// slowest reads, slow clients, and event-stream fan-out; prints a Markdown report and writes it to
// bench/RESULTS.md.
// Loopback only; every process it starts it stops by pid.

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import type { Stats } from '../src/store/store.js';
import {
  createTestDatabase,
  type PostgresServer,
  startEmbeddedPostgres,
  type TestDatabase,
} from '../test/helpers/postgres-server.js';
import { PROJECT_ROOT } from '../test/helpers/server.js';
import { DASHBOARD_METHOD, dashboardTable, runDashboardBench } from './dashboard.js';
import { ANSWER_WAIT_MS, FanoutBodies, type FanoutResult, fanoutRun } from './fanout.js';
import { loadWebhooks, SignedBodyPool } from './ingest.js';
import {
  type BackupResult,
  backupUnderLoad,
  buildRetentionDatabase,
  checkCsv,
  checkNdjson,
  countAfterPurge,
  exportOnce,
  idleRssMiB,
  importInto,
  type RetentionDatabase,
  RSS_SAMPLE_MS,
  stopCommands,
  totalMessages,
  webhooksAlone,
  webhooksDuringPurge,
} from './lifecycle.js';
import { type SlowRead, type SlowReadResult, slowReads, startReadLoad } from './mixed.js';
import { createProgress, formatCount } from './progress.js';
import { combineRounds, describeResult, measureCase, type ReadResult, readCases, SequentialClient, walkCursor } from './reads.js';
import {
  alignTables,
  describeMachine,
  environmentSection,
  type FanoutRun,
  fanoutReplicaTable,
  fanoutTable,
  fanoutWrong,
  type IngestRound,
  type IngestSummary,
  ingestTable,
  type LifecycleExport,
  type LifecycleRetention,
  type LifecycleTable,
  lifecycleBackupTable,
  lifecycleExportTable,
  lifecycleImportTable,
  lifecycleRetentionTable,
  type MixedRound,
  type MixedSegment,
  mixedTable,
  readTable,
  type SlowClientRun,
  slowClientTable,
} from './report.js';
import {
  type RunningServer,
  readCpuSeconds,
  readMachineTicks,
  readMainThreadCpuSeconds,
  readMemory,
  sampleRss,
  startServer,
  stopAll,
} from './server.js';
import { slowClientAttack } from './slow-clients.js';
import { formatMs } from './stats.js';
import { measureStorage, storageTable } from './storage.js';
import { openBenchStore } from './store.js';
import { type SyntheticFacts, seedStore, startOfUtcDay } from './synthetic.js';

const PHASES = ['ingest', 'reads', 'mixed', 'slow-clients', 'fanout', 'lifecycle', 'dashboard'] as const;
type Phase = (typeof PHASES)[number];
/** The parts of the lifecycle phase, in the order they run. */
const LIFECYCLE_PARTS = ['export', 'import', 'backup', 'retention'] as const;
type LifecyclePart = (typeof LIFECYCLE_PARTS)[number];

const USAGE = `usage: npm run bench [-- options]
  --messages N       rows seeded for the reads, the mixed load and the lifecycle phase (default 100000; 1000000
                     for the issues' figures)
  --duration S       seconds of measured load per ingest run, per part of a mixed run, and of the lifecycle
                     phase's webhooks before the backup, without the purge and after it (default 10)
  --rounds R         ingest runs per store (real and no-op alternated), passes over the read cases, and mixed
                     runs per READ_WORKERS setting (default 3)
  --connections C    concurrent connections for ingest, alone, in the mixed load and in the lifecycle phase (default 50)
  --warmup S         seconds of load before each measured ingest, mixed or lifecycle run (default 2)
  --read-requests N  timed requests per read case (default 1000)
  --senders S        distinct senders in the seeded data (default 5000)
  --seed K           seed of the synthetic data (default 1)
  --store KIND       store under test: sqlite (default) or postgres (TEST_DATABASE_URL, a URL whose user may
                     CREATE DATABASE; otherwise an embedded PostgreSQL with fsync on, started and stopped here)
  --replicas N       servers per store, sharing its database, load spread over them (default 1)
  --read-connections N  mixed phase: connections looping the slowest reads beside the ingest (default 4)
  --read-workers L   mixed phase: the READ_WORKERS settings compared, comma-separated (default 0,2)
  --slow-clients N   slow-clients phase: connections trickling a 4 MiB body each (default 500)
  --attack S         slow-clients phase: seconds the attack lasts (default 20)
  --subscribers N    fanout phase: GET /events subscribers, spread over the --replicas servers (default 1000)
  --fanout-rate R    fanout phase: webhooks a second, a constant rate, with and without the subscribers (default 2000)
  --fanout-duration S  fanout phase: seconds of measured load per run (default 60: long enough to tell a growing
                     RSS from the rise and fall of garbage collection)
  --fanout-postgres  fanout phase: also run the replica check, two servers on one PostgreSQL database (as for
                     --store postgres) with subscribers on both and webhooks spread over both
  --fanout-postgres-subscribers N  subscribers of that check, half on each replica (default 100)
  --fanout-postgres-rate R         webhooks a second in that check (default 500)
  --lifecycle-parts P[,P…]  lifecycle phase: run only these parts: ${LIFECYCLE_PARTS.join(', ')} (default all;
                     import reads the export's file, so it runs the export too)
  --retention-window S  lifecycle phase, retention: seconds of webhooks measured with the purge running and,
                     on another copy, without it (default 600: both databases grow alike while measured)
  --out FILE         where the report goes (default bench/RESULTS.md, or RESULTS-postgres….md for --store postgres)
  --only P[,P…]      run only these phases: ${PHASES.join(', ')}
  --skip-ingest, --skip-reads, --skip-mixed, --skip-slow-clients, --skip-fanout, --skip-lifecycle,
  --skip-dashboard
Phases, in order: ingest (real store against the no-op ceiling); reads (latencies at --messages);
mixed (at --messages: webhooks alone, then beside the slowest reads, with READ_WORKERS=0 and 2);
slow-clients (memory and answers under connections that trickle large bodies); fanout (--fanout-rate
webhooks a second, first alone, then with --subscribers GET /events streams on --store: delay from each
200 to its event at every subscriber, every event once and in order, throughput, server RSS);
lifecycle (SQLite, at --messages: GET /messages/export of every row, NDJSON and CSV, with the server's
RSS; \`webhook-inbox import\` of the NDJSON into an empty database; \`webhook-inbox backup\` while
--connections send webhooks; RETENTION_DAYS purging half of the rows while they do); dashboard
(Chromium against the database seeded with --messages: conversations clickable after navigation,
a long thread opened and scrolled, JavaScript shipped; SQLite only).
All run by default.`;

const SECRET = 'bench-secret';
/** bench/RESULTS.md for SQLite, bench/RESULTS-postgres.md (or -postgres-2-replicas.md) for PostgreSQL. */
function resultsPath(options: Options): string {
  if (options.out !== null) return path.resolve(options.out);
  const suffix =
    options.store === 'sqlite' ? '' : `-${options.store}${options.replicas > 1 ? `-${options.replicas}-replicas` : ''}`;
  return path.join(PROJECT_ROOT, 'bench', `RESULTS${suffix}.md`);
}

interface Options {
  readonly messages: number;
  readonly duration: number;
  readonly rounds: number;
  readonly connections: number;
  readonly warmup: number;
  readonly readRequests: number;
  readonly senders: number;
  readonly seed: number;
  readonly store: 'sqlite' | 'postgres';
  readonly replicas: number;
  readonly readConnections: number;
  /** READ_WORKERS settings the mixed phase compares: reads on the event loop (0) against reader threads. */
  readonly readWorkers: readonly number[];
  readonly slowClients: number;
  readonly attackSeconds: number;
  readonly subscribers: number;
  readonly fanoutRate: number;
  readonly fanoutDuration: number;
  readonly retentionWindow: number;
  /** Run the fan-out replica check on PostgreSQL as well. */
  readonly fanoutPostgres: boolean;
  readonly fanoutPostgresSubscribers: number;
  readonly fanoutPostgresRate: number;
  readonly phases: ReadonlySet<Phase>;
  readonly lifecycleParts: ReadonlySet<LifecyclePart>;
  /** --out, or null for the default of the store. */
  readonly out: string | null;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      'read-requests': { type: 'string' },
      senders: { type: 'string' },
      seed: { type: 'string' },
      store: { type: 'string' },
      replicas: { type: 'string' },
      'read-connections': { type: 'string' },
      'read-workers': { type: 'string' },
      'slow-clients': { type: 'string' },
      attack: { type: 'string' },
      subscribers: { type: 'string' },
      'fanout-rate': { type: 'string' },
      'fanout-duration': { type: 'string' },
      'retention-window': { type: 'string' },
      'fanout-postgres': { type: 'boolean' },
      'fanout-postgres-subscribers': { type: 'string' },
      'fanout-postgres-rate': { type: 'string' },
      'lifecycle-parts': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      'skip-ingest': { type: 'boolean' },
      'skip-reads': { type: 'boolean' },
      'skip-mixed': { type: 'boolean' },
      'skip-slow-clients': { type: 'boolean' },
      'skip-fanout': { type: 'boolean' },
      'skip-lifecycle': { type: 'boolean' },
      'skip-dashboard': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      fail(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return Number(raw);
  };
  const store = values.store ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') fail(`--store: expected sqlite or postgres, got ${JSON.stringify(store)}`);
  const isPhase = (name: string): name is Phase => (PHASES as readonly string[]).includes(name);
  const only = values.only?.split(',').map((name) => name.trim());
  const unknown = only?.find((name) => !isPhase(name));
  if (unknown !== undefined) fail(`--only: expected phases among ${PHASES.join(', ')}, got ${JSON.stringify(unknown)}`);
  const readWorkers = (values['read-workers'] ?? '0,2').split(',').map((part) => part.trim());
  if (readWorkers.some((part) => !/^[0-9]+$/.test(part) || Number(part) > 64)) {
    fail(`--read-workers: expected integers from 0 to 64, comma-separated, got ${JSON.stringify(values['read-workers'])}`);
  }
  const phases = new Set(
    PHASES.filter((phase) => (only === undefined || only.includes(phase)) && values[`skip-${phase}`] !== true),
  );
  const isPart = (name: string): name is LifecyclePart => (LIFECYCLE_PARTS as readonly string[]).includes(name);
  const parts = values['lifecycle-parts']?.split(',').map((name) => name.trim());
  const unknownPart = parts?.find((name) => !isPart(name));
  if (unknownPart !== undefined) {
    fail(`--lifecycle-parts: expected parts among ${LIFECYCLE_PARTS.join(', ')}, got ${JSON.stringify(unknownPart)}`);
  }
  // The import reads the export's file.
  const lifecycleParts = new Set(
    LIFECYCLE_PARTS.filter(
      (part) => parts === undefined || parts.includes(part) || (part === 'export' && parts.includes('import')),
    ),
  );
  return {
    messages: int('messages', 100_000, 1, 100_000_000),
    duration: int('duration', 10, 1, 3600),
    rounds: int('rounds', 3, 1, 100),
    connections: int('connections', 50, 1, 10_000),
    warmup: int('warmup', 2, 0, 600),
    readRequests: int('read-requests', 1000, 1, 1_000_000),
    senders: int('senders', 5000, 1, 10_000_000),
    seed: int('seed', 1, 1, 2 ** 31 - 1),
    store,
    replicas: int('replicas', 1, 1, 16),
    readConnections: int('read-connections', 4, 1, 64),
    readWorkers: readWorkers.map(Number),
    slowClients: int('slow-clients', 500, 1, 20_000),
    attackSeconds: int('attack', 20, 1, 600),
    subscribers: int('subscribers', 1000, 0, 100_000),
    fanoutRate: int('fanout-rate', 2000, 1, 100_000),
    fanoutDuration: int('fanout-duration', 60, 1, 3600),
    retentionWindow: int('retention-window', 600, 1, 3600),
    fanoutPostgres: values['fanout-postgres'] === true,
    fanoutPostgresSubscribers: int('fanout-postgres-subscribers', 100, 0, 100_000),
    fanoutPostgresRate: int('fanout-postgres-rate', 500, 1, 100_000),
    phases,
    lifecycleParts,
    out: values.out ?? null,
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A store the ingest phase runs against: a fresh database for every run. */
interface StoreTarget {
  readonly label: string;
  freshUrl(run: number): Promise<string>;
  /** Rows stored, to check against the acknowledged requests; null when the store keeps nothing. */
  countRows(url: string): Promise<number | null>;
  /** Removes the run's database once it has been checked. */
  dispose(run: number): Promise<void>;
}

async function countRows(url: string): Promise<number> {
  const store = await openBenchStore(loadConfig({ DATABASE_URL: url }, PROJECT_ROOT));
  try {
    return (await store.stats(1)).totalMessages;
  } finally {
    await store.close();
  }
}

/** The PostgreSQL server the bench uses: TEST_DATABASE_URL, or an embedded one started on first use. */
let postgresAdmin: Promise<string> | null = null;
let embeddedPostgres: PostgresServer | null = null;

function postgresAdminUrl(): Promise<string> {
  postgresAdmin ??= (async () => {
    const given = process.env.TEST_DATABASE_URL;
    if (given !== undefined && given !== '') return given;
    log('postgres: starting an embedded server (fsync on)');
    embeddedPostgres = await startEmbeddedPostgres({ durable: true });
    return embeddedPostgres.adminUrl;
  })();
  return postgresAdmin;
}

function storeTarget(kind: Options['store'], workRoot: string): StoreTarget {
  switch (kind) {
    case 'sqlite':
      return {
        label: 'SQLite (durable)',
        freshUrl: async (run) => {
          const dir = path.join(workRoot, `ingest-${run}`);
          mkdirSync(dir, { recursive: true });
          return `sqlite:///${path.join(dir, 'bench.db')}`;
        },
        countRows,
        dispose: async (run) => rmSync(path.join(workRoot, `ingest-${run}`), { recursive: true, force: true }),
      };
    case 'postgres': {
      const databases = new Map<number, TestDatabase>();
      return {
        label: 'PostgreSQL (durable)',
        freshUrl: async (run) => {
          const database = await createTestDatabase(await postgresAdminUrl(), `bench_ingest_${run}`);
          databases.set(run, database);
          return database.url;
        },
        countRows,
        dispose: async (run) => {
          await databases.get(run)?.drop();
          databases.delete(run);
        },
      };
    }
  }
}

const CEILING: StoreTarget = {
  label: 'no-op store (ceiling)',
  freshUrl: async () => 'noop://',
  countRows: async () => null,
  dispose: async () => {},
};

let serverIndex = 0;

async function startServers(
  databaseUrl: string,
  replicas: number,
  workRoot: string,
  env: Readonly<Record<string, string>> = {},
): Promise<RunningServer[]> {
  const servers: RunningServer[] = [];
  for (let i = 0; i < replicas; i++) {
    const begin = performance.now();
    const server = await startServer({ databaseUrl, index: serverIndex++, secret: SECRET, workDir: workRoot, env });
    log(
      `  server ${server.index} started by npm start in ${((performance.now() - begin) / 1000).toFixed(1)} s: ` +
        `pid ${server.pid}, ${server.baseUrl}, ${databaseUrl}`,
    );
    servers.push(server);
  }
  return servers;
}

async function ingestRun(
  target: StoreTarget,
  run: number,
  round: number,
  pool: SignedBodyPool,
  options: Options,
  workRoot: string,
) {
  const url = await target.freshUrl(run);
  const servers = await startServers(url, options.replicas, workRoot);
  const samplers = servers.map((s) => sampleRss(s.pid));
  const load = { connections: options.connections, firstIndex: 0 };
  let warm = { ok: 0, nextIndex: 0 };
  if (options.warmup > 0) warm = await loadWebhooks(servers, pool, { ...load, durationSeconds: options.warmup });
  const rssAt = () => servers.reduce((sum, s) => sum + (readMemory(s.pid)?.rssKiB ?? 0), 0) / 1024;
  const cpuAt = () => servers.reduce((sum, s) => sum + (readCpuSeconds(s.pid) ?? 0), 0);
  const eventLoopCpuAt = () => servers.reduce((sum, s) => sum + (readMainThreadCpuSeconds(s.pid) ?? 0), 0);
  const rssStart = rssAt();
  const serverCpuStart = cpuAt();
  const eventLoopCpuStart = eventLoopCpuAt();
  const machineStart = readMachineTicks();
  const benchCpuStart = process.cpuUsage();
  const result = await loadWebhooks(servers, pool, { ...load, firstIndex: warm.nextIndex, durationSeconds: options.duration });
  const benchCpu = process.cpuUsage(benchCpuStart);
  const machineEnd = readMachineTicks();
  const serverCpuPercent = ((cpuAt() - serverCpuStart) / result.seconds) * 100;
  const eventLoopCpuPercent = ((eventLoopCpuAt() - eventLoopCpuStart) / result.seconds) * 100;
  const loadCpuPercent = ((benchCpu.user + benchCpu.system) / 1e6 / result.seconds) * 100;
  const machineIdlePercent =
    machineStart !== null && machineEnd !== null && machineEnd.total > machineStart.total
      ? ((machineEnd.idle - machineStart.idle) / (machineEnd.total - machineStart.total)) * 100
      : null;
  const rssEnd = rssAt();
  const sampled = samplers.map((s) => s.stop());
  const peakRssMiB = sampled.reduce((sum, s) => sum + s.peakKiB, 0) / 1024;
  // The first server's RSS at ten even points of the run (warm-up included), to see whether it levels off.
  const timeline = sampled[0]?.samples ?? [];
  const rssTimeline = Array.from({ length: 10 }, (_v, i) =>
    Math.round((timeline[Math.floor(((i + 1) * (timeline.length - 1)) / 10)] ?? 0) / 1024),
  );
  const stops = await Promise.all(servers.map((s) => s.stop()));
  const stopOk = stops.every((s) => s.graceful && s.exitCode === 0);
  const storedRows = await target.countRows(url);
  await target.dispose(run);
  const roundResult: IngestRound = {
    round,
    reqPerSec: result.reqPerSec,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    ok: result.ok,
    non2xx: result.non2xx,
    statusCounts: result.statusCounts,
    errors: result.errors,
    peakRssMiB,
    rssGrowthMiB: rssEnd - rssStart,
    storedRows,
    acknowledged: warm.ok + result.ok,
    stopOk,
    serverCpuPercent,
    eventLoopCpuPercent,
    loadCpuPercent,
    machineIdlePercent,
  };
  log(
    `  ${target.label} round ${round}: ${formatCount(result.reqPerSec)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
      `p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}, errors ${result.errors}, peak RSS ${peakRssMiB.toFixed(0)} MiB, ` +
      `CPU server ${serverCpuPercent.toFixed(0)}% (event loop ${eventLoopCpuPercent.toFixed(0)}%) / load generator ${loadCpuPercent.toFixed(0)}%` +
      `${machineIdlePercent === null ? '' : ` / machine idle ${machineIdlePercent.toFixed(0)}%`}, ` +
      `RSS over the run ${rssTimeline.join(' ')} MiB` +
      `${storedRows !== null ? `, rows ${storedRows} / acknowledged ${roundResult.acknowledged}` : ''}${stopOk ? '' : ', SIGTERM stop NOT clean'}`,
  );
  return roundResult;
}

async function ingestPhase(options: Options, workRoot: string): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  // Enough bodies for a fast run of usual length; past that (long --duration) they are signed on
  // the fly from the same payloads with new message_ids, which costs the load generator a little.
  const poolSize = Math.min(500_000, Math.max(20_000, Math.ceil((options.warmup + options.duration) * 12_000)));
  const poolStarted = performance.now();
  const pool = new SignedBodyPool(SECRET, poolSize, options.seed + 1000);
  log(
    `ingest: signed ${formatCount(poolSize)} distinct webhook bodies in ${((performance.now() - poolStarted) / 1000).toFixed(1)} s`,
  );
  const target = storeTarget(options.store, workRoot);
  const realRounds: IngestRound[] = [];
  const ceilingRounds: IngestRound[] = [];
  let run = 0;
  for (let round = 1; round <= options.rounds; round++) {
    realRounds.push(await ingestRun(target, run++, round, pool, options, workRoot));
    ceilingRounds.push(await ingestRun(CEILING, run++, round, pool, options, workRoot));
  }
  const realSummary: IngestSummary = { label: target.label, rounds: realRounds };
  const ceiling: IngestSummary = { label: CEILING.label, rounds: ceilingRounds };
  if (pool.signedLate > 0) log(`ingest: the pool ran out; ${formatCount(pool.signedLate)} bodies were signed during the load`);
  const verdict = ingestTable(realSummary, ceiling);
  const clean = [...realSummary.rounds, ...ceiling.rounds].every(
    (r) => r.non2xx === 0 && r.errors === 0 && r.stopOk && (r.storedRows === null || r.storedRows >= r.acknowledged),
  );
  const heading =
    `## Ingest: POST /webhook, ${options.connections} connections, ${options.duration} s measured ` +
    `(after ${options.warmup} s warm-up) per run, ${options.rounds} round(s) alternating ${target.label} and the no-op ceiling` +
    `${options.replicas > 1 ? `, ${options.replicas} replicas each` : ''}`;
  return {
    markdown:
      `${heading}\n\nMedians over the rounds; latency is per request as autocannon saw it; peak RSS is of the server process${
        options.replicas > 1 ? 'es (summed)' : ''
      } (VmHWM), growth is RSS at the end of the measured load minus at its start. CPU is in % of one core over the ` +
      `measured load: the server's threads together and, in brackets, its event loop (the main thread; 100% means it is ` +
      `the bottleneck); "machine idle" is the share of all cores no process used.\n\n${verdict.markdown}`,
    passed: verdict.passed,
    clean,
  };
}

/** The database seeded with --messages rows, shared by the reads and the mixed phases. */
interface SeededDatabase {
  readonly url: string;
  /** The SQLite file, or the PostgreSQL database's name: what a copy is made from. */
  readonly source: { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly name: string };
  readonly facts: SyntheticFacts;
  readonly seedLine: string;
  /** What the seeded SQLite file takes per message, as Markdown; null for PostgreSQL. */
  readonly storage: string | null;
}

let seedOnce: Promise<SeededDatabase> | null = null;

/** How deep in the conversations' cursor the deep-page case reads. */
const CONVERSATION_DEPTH = 5000;

/** Seeds the database once, on first use. */
function seededDatabase(options: Options, workRoot: string): Promise<SeededDatabase> {
  seedOnce ??= seedDatabase(options, workRoot);
  return seedOnce;
}

async function seedDatabase(options: Options, workRoot: string): Promise<SeededDatabase> {
  const dir = path.join(workRoot, 'reads');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'reads.db');
  const database = options.store === 'postgres' ? await createTestDatabase(await postgresAdminUrl(), 'bench_reads') : null;
  const url = database?.url ?? `sqlite:///${file}`;
  const store = await openBenchStore(loadConfig({ DATABASE_URL: url }, PROJECT_ROOT));
  log(`seed: ${formatCount(options.messages)} messages from ${formatCount(options.senders)} senders`);
  const progress = createProgress('seed', options.messages);
  let seeded: Awaited<ReturnType<typeof seedStore>>;
  try {
    seeded = await seedStore(
      store,
      {
        count: options.messages,
        senders: options.senders,
        seed: options.seed,
        until: startOfUtcDay(),
        batchSize: 10_000,
        countTerms: ['ok'],
      },
      ({ done }) => progress.update(done),
    );
  } finally {
    progress.finish();
    await store.close();
  }
  const seedSeconds = seeded.elapsedMs / 1000;
  const { facts } = seeded;
  const seedLine = `Seeded ${formatCount(options.messages)} messages (${formatCount(facts.senderCounts.filter((c) => c > 0).length)} senders, ${formatCount(facts.conversations.length)} conversations) through insertMany in ${seedSeconds.toFixed(1)} s (${formatCount(options.messages / seedSeconds)} rows/s).`;
  log(`seed: ${seedLine}`);
  let storage: string | null = null;
  if (database === null) {
    // The seeding store is closed: nothing else holds the file, so the checkpoint completes.
    const figures = measureStorage(file);
    log(`seed: ${figures.bytes} bytes after a checkpoint, ${(figures.bytes / figures.messages).toFixed(1)} per message`);
    storage = storageTable([figures], ['SQLite']);
  }
  return {
    url,
    source: database === null ? { kind: 'sqlite', file } : { kind: 'postgres', name: database.name },
    facts,
    seedLine,
    storage,
  };
}

/**
 * A copy of the seeded database for one run that writes to it, so that every run starts from the
 * same rows: SQLite copies the file (the seeding connection and the servers that read it have
 * closed it, so its WAL is checkpointed), PostgreSQL clones it as a template (which needs it
 * unconnected, as it is between runs).
 */
async function copySeeded(
  source: SeededDatabase,
  label: string,
  workRoot: string,
): Promise<{ url: string; dispose(): Promise<void> }> {
  if (source.source.kind === 'sqlite') {
    const dir = path.join(workRoot, label);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'bench.db');
    copyFileSync(source.source.file, file);
    // Belt and braces: a WAL left behind by a server killed mid-run holds rows the file lacks.
    if (existsSync(`${source.source.file}-wal`)) copyFileSync(`${source.source.file}-wal`, `${file}-wal`);
    return { url: `sqlite:///${file}`, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const template = source.source.name;
  const name = `${template}_${label.replace(/[^a-z0-9]+/g, '_')}`.slice(0, 63);
  const admin = new pg.Client({ connectionString: await postgresAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(source.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dispose: async () => {
      const client = new pg.Client({ connectionString: await postgresAdminUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function readsPhase(options: Options, workRoot: string): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const { url, facts, seedLine, storage } = await seededDatabase(options, workRoot);
  const [server] = await startServers(url, 1, workRoot);
  if (server === undefined) throw new Error('no server started');
  const client = new SequentialClient(server.baseUrl);
  const rounds: ReadResult[][] = [];
  let stopOk = false;
  try {
    const walk = await walkCursor(client, Math.floor(options.messages / 2), 300);
    log(
      `reads: cursor walk ${walk.cursor === null ? `gave no cursor (${walk.note ?? ''})` : `reached row ${walk.depth} in ${walk.requests} requests`}`,
    );
    // 5,000 conversations deep, or halfway through fewer.
    const conversations = facts.conversations.length;
    const conversationDepth =
      conversations >= CONVERSATION_DEPTH + 50 ? CONVERSATION_DEPTH : Math.floor(conversations / 200) * 100;
    const conversationWalk = await walkCursor(client, conversationDepth, 300, '/conversations');
    log(
      `reads: conversations cursor walk ${conversationWalk.cursor === null ? `gave no cursor (${conversationWalk.note ?? ''})` : `reached row ${conversationWalk.depth} in ${conversationWalk.requests} requests`}`,
    );
    const cases = readCases(facts, walk, conversationWalk);
    for (let round = 0; round < options.rounds; round++) {
      log(`reads: round ${round + 1} of ${options.rounds}`);
      const results: ReadResult[] = [];
      for (const [caseIndex, readCase] of cases.entries()) {
        const result = await measureCase(client, readCase, caseIndex, round, {
          requests: options.readRequests,
          warmup: Math.min(50, options.readRequests),
          maxSecondsPerCase: 30,
        });
        log(`  ${describeResult(result)}`);
        results.push(result);
      }
      rounds.push(results);
    }
  } finally {
    client.close();
    const stopped = await server.stop();
    stopOk = stopped.graceful && stopped.exitCode === 0;
  }
  // After the stop, so the log is complete.
  const results = combineRounds(rounds, server.logPath);
  const table = readTable(results);
  const counts = (map: ReadonlyMap<string, number>): string =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .map(([key, count]) => `${key} ${formatCount(count)}`)
      .join(', ');
  return {
    markdown:
      `## Reads at ${formatCount(options.messages)} messages, one keep-alive connection, sequential requests\n\n` +
      `${seedLine} Messages per receiver: ${counts(facts.receiverCounts)}; per source: ${counts(facts.sourceCounts)}; ` +
      `per type (core-form messages have none): ${counts(facts.typeCounts)}. ` +
      `Each case, in each of ${options.rounds} round(s): ${Math.min(50, options.readRequests)} warm-up requests, then up to ${options.readRequests} timed ` +
      'ones (30 s at most); every answer checked for status 200 and an exact `total`, and the inbox reads for what the page holds ' +
      '(its length and order, every item within the filter, the newest message first for `order=desc`, the conversations and ' +
      'the timeseries buckets exactly as seeded). p50 and p99 are as the client saw them, ' +
      'medians over the rounds (the targets apply to these); "in server" is the latency_ms the server logged for the same requests. ' +
      "The targets are the issues', set for 1,000,000 messages (and 10,000 conversations).\n\n" +
      table.markdown +
      (storage === null
        ? ''
        : `\n\n## Storage at ${formatCount(options.messages)} messages (SQLite)\n\n` +
          'The seeded file, after a checkpoint (TRUNCATE), with its WAL, divided by the messages it holds; below it, the pages of ' +
          'each table and index (dbstat). `npx tsx bench/storage.ts FILE` measures any database of the service the same way.\n\n' +
          storage),
    passed: table.passed,
    clean: stopOk && results.every((r) => r.bad === 0),
  };
}

/**
 * A pause before each part of a mixed run. Load shedding judges the event-loop delay over about
 * the last second, so after a part whose reads held the loop, webhooks would go on being refused
 * for a moment, and those refusals would be counted against the next part.
 */
const PART_PAUSE_MS = 3000;

/** One server on a fresh copy of the seeded database: webhooks alone and beside the slowest reads. */
async function mixedRun(
  source: SeededDatabase,
  readWorkers: number,
  round: number,
  pool: SignedBodyPool,
  reads: readonly SlowRead[],
  options: Options,
  workRoot: string,
): Promise<MixedRound> {
  const copy = await copySeeded(source, `mixed-${readWorkers}-${round}`, workRoot);
  const [server] = await startServers(copy.url, 1, workRoot, { READ_WORKERS: String(readWorkers) });
  if (server === undefined) throw new Error('no server started');
  // Rounds alternate which part goes first, so that neither is always the one on the warmer,
  // slightly larger database.
  const aloneFirst = round % 2 === 1;
  let next = 0;
  const segments: { alone?: MixedSegment; withReads?: MixedSegment } = {};
  let readResults: SlowReadResult[] = [];
  let stopOk = false;
  try {
    // Each read kind a few times first: page cache, prepared statements and reader threads warm.
    const warm = new SequentialClient(server.baseUrl);
    try {
      for (let i = 0; i < 2; i++) {
        for (const read of reads) await warm.get(read.path(i));
      }
    } finally {
      warm.close();
    }
    if (options.warmup > 0) {
      next = (
        await loadWebhooks([server], pool, {
          connections: options.connections,
          firstIndex: next,
          durationSeconds: options.warmup,
        })
      ).nextIndex;
    }
    for (const withReads of aloneFirst ? [false, true] : [true, false]) {
      await new Promise((resolve) => setTimeout(resolve, PART_PAUSE_MS));
      const cpuStart = readCpuSeconds(server.pid) ?? Number.NaN;
      const eventLoopStart = readMainThreadCpuSeconds(server.pid) ?? Number.NaN;
      const readLoad = withReads ? startReadLoad(server.baseUrl, reads, options.readConnections) : null;
      const result = await loadWebhooks([server], pool, {
        connections: options.connections,
        firstIndex: next,
        durationSeconds: options.duration,
      });
      const cpu = (readCpuSeconds(server.pid) ?? Number.NaN) - cpuStart;
      const eventLoop = (readMainThreadCpuSeconds(server.pid) ?? Number.NaN) - eventLoopStart;
      if (readLoad !== null) readResults = await readLoad.stop();
      next = result.nextIndex;
      const segment: MixedSegment = {
        reqPerSec: result.reqPerSec,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        ok: result.ok,
        statusCounts: result.statusCounts,
        errors: result.errors,
        serverCpuPercent: (cpu / result.seconds) * 100,
        eventLoopCpuPercent: (eventLoop / result.seconds) * 100,
      };
      if (withReads) segments.withReads = segment;
      else segments.alone = segment;
      log(
        `  READ_WORKERS=${readWorkers} round ${round}, webhooks ${withReads ? `beside ${options.readConnections} read connections` : 'alone'}: ` +
          `${formatCount(result.reqPerSec)} req/s, p50 ${formatMs(result.p50Ms)}, p99 ${formatMs(result.p99Ms)}, ` +
          `status ${JSON.stringify(result.statusCounts)}, errors ${result.errors}, CPU server ${segment.serverCpuPercent.toFixed(0)}% ` +
          `(event loop ${segment.eventLoopCpuPercent.toFixed(0)}%)` +
          (withReads
            ? `; reads: ${readResults
                .map(
                  (r) =>
                    `${r.name} ${r.ok} × p50 ${formatMs(r.p50Ms)} p99 ${formatMs(r.p99Ms)} ${JSON.stringify(r.statusCounts)}`,
                )
                .join('; ')}`
            : ''),
      );
    }
  } finally {
    const stopped = await server.stop();
    stopOk = stopped.graceful && stopped.exitCode === 0;
    await copy.dispose();
  }
  const { alone, withReads } = segments;
  if (alone === undefined || withReads === undefined) throw new Error('a part of the mixed run is missing');
  return { readWorkers, round, aloneFirst, alone, withReads, reads: readResults, stopOk };
}

async function mixedPhase(options: Options, workRoot: string): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const source = await seededDatabase(options, workRoot);
  // Every run starts from a copy of the seeded database, so the same bodies serve every run.
  const poolSize = Math.min(500_000, Math.max(20_000, Math.ceil((options.warmup + 2 * options.duration) * 12_000)));
  const poolStarted = performance.now();
  const pool = new SignedBodyPool(SECRET, poolSize, options.seed + 2000);
  log(
    `mixed: signed ${formatCount(poolSize)} distinct webhook bodies in ${((performance.now() - poolStarted) / 1000).toFixed(1)} s`,
  );
  const reads = slowReads(options.messages);
  const rounds: MixedRound[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const workers of options.readWorkers) {
      rounds.push(await mixedRun(source, workers, round, pool, reads, options, workRoot));
    }
  }
  const table = mixedTable(rounds);
  const storeLabel = options.store === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  return {
    markdown:
      `## Mixed load at ${formatCount(options.messages)} messages (${storeLabel}): POST /webhook, ${options.connections} connections, ` +
      `alone and beside ${options.readConnections} connections looping the slowest reads\n\n` +
      `${source.seedLine} Each run: one server (\`npm start\`) on a fresh copy of that database with READ_WORKERS=N (0: reads on the ` +
      'event loop, as before the reader threads; 2, the default: reads on two reader threads), read warm-up, ' +
      `${options.warmup} s of webhooks to warm up, then ${options.duration} s of webhooks alone and ${options.duration} s of the same ` +
      `webhooks while ${options.readConnections} more keep-alive connections each send one read after another, cycling through ` +
      `${reads.map((r) => `\`${r.path(0)}\``).join(', ')} (the order of the two parts alternates over the rounds, and each starts ` +
      `after a ${PART_PAUSE_MS / 1000} s pause, so that load shedding left over from the other part is not counted against it). ` +
      `${options.rounds} round(s), each running READ_WORKERS=${options.readWorkers.join(' then ')}; medians over the rounds. ` +
      'Webhook latency is of the 2xx answers as autocannon saw them; read latency is of the 200 answers as the client saw them. ' +
      `CPU is in % of one core: the server's threads together and, in brackets, its event loop.` +
      (options.store === 'postgres'
        ? ' READ_WORKERS applies to SQLite only: on PostgreSQL both settings run the same server.'
        : '') +
      `\n\n${table.markdown}`,
    passed: table.passed,
    clean: rounds.every((r) => r.stopOk),
  };
}

const MIB = 1024 * 1024;
/** The service's default MAX_BODY_BYTES: what every slow client declares. */
const DECLARED_BODY_BYTES = 4 * MIB;
/** Set for the slow-clients phase, so that its 408s arrive well within the attack. */
const SLOW_CLIENT_REQUEST_TIMEOUT_MS = 10_000;
/** Each slow client's trickle: this many body bytes every tick. */
const TRICKLE_BYTES = 8 * 1024;
const TRICKLE_TICK_MS = 100;

async function slowClientsPhase(
  options: Options,
  workRoot: string,
): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const target = storeTarget(options.store, workRoot);
  const pool = new SignedBodyPool(SECRET, 2_000, options.seed + 3000);
  const budgets = [
    { label: '64 MiB (the default)', bytes: 64 * MIB, judged: true },
    { label: '64 GiB (no budget in effect)', bytes: 64 * 1024 * MIB, judged: false },
  ];
  const runs: SlowClientRun[] = [];
  let firstIndex = 0;
  for (const [i, budget] of budgets.entries()) {
    const run = 1000 + i;
    const url = await target.freshUrl(run);
    const [server] = await startServers(url, 1, workRoot, {
      MAX_BODY_BYTES: String(DECLARED_BODY_BYTES),
      MAX_INFLIGHT_BODY_BYTES: String(budget.bytes),
      REQUEST_TIMEOUT_MS: String(SLOW_CLIENT_REQUEST_TIMEOUT_MS),
    });
    if (server === undefined) throw new Error('no server started');
    let stopOk = false;
    try {
      log(
        `slow-clients: MAX_INFLIGHT_BODY_BYTES=${budget.bytes}, ${options.slowClients} connections for ${options.attackSeconds} s`,
      );
      const result = await slowClientAttack({
        port: server.port,
        pid: server.pid,
        connections: options.slowClients,
        declaredBytes: DECLARED_BODY_BYTES,
        chunkBytes: TRICKLE_BYTES,
        tickMs: TRICKLE_TICK_MS,
        seconds: options.attackSeconds,
        webhooksPerSecond: 4,
        pool,
        firstIndex,
        rssSampleMs: 500,
      });
      firstIndex += result.webhooks.sent + 5;
      const stopped = await server.stop();
      stopOk = stopped.graceful && stopped.exitCode === 0;
      log(
        `  idle RSS ${result.idleRssMiB.toFixed(0)} MiB, peak ${result.peakRssMiB.toFixed(0)} MiB, after ${result.afterRssMiB.toFixed(0)} MiB; ` +
          `attack answered ${JSON.stringify(result.answered)}, closed unanswered ${result.closedUnanswered}, still open ${result.stillOpen}, ` +
          `could not connect ${result.connectFailed}, ${result.bodyMiBSent.toFixed(0)} MiB of body sent; ordinary webhooks ` +
          `${JSON.stringify(result.webhooks.statusCounts)} of ${result.webhooks.sent}; RSS ${result.rssTimeline.join(' ')} MiB`,
      );
      runs.push({ label: budget.label, judged: budget.judged, result, stopOk });
    } finally {
      await server.stop();
      await target.dispose(run);
    }
  }
  const table = slowClientTable(runs);
  return {
    markdown:
      `## Slow clients: ${options.slowClients} connections trickling a 4 MiB webhook body for ${options.attackSeconds} s

` +
      `One server (\`npm start\`, ${target.label}, REQUEST_TIMEOUT_MS=${SLOW_CLIENT_REQUEST_TIMEOUT_MS} instead of the default 30000 so ` +
      `that the request timeout falls within the attack) per row. Its idle RSS is read after five webhooks and a quiet second; then ` +
      `${options.slowClients} connections each send \`POST /webhook\` headers with \`Content-Length: ${DECLARED_BODY_BYTES}\` and ` +
      `${TRICKLE_BYTES / 1024} KiB of body every ${TRICKLE_TICK_MS} ms (never the last byte; ${formatCount(
        (options.slowClients * TRICKLE_BYTES * (1000 / TRICKLE_TICK_MS)) / MIB,
      )} MiB/s together, against a ${DECLARED_BODY_BYTES / MIB} MiB × ${options.slowClients} declared total), none reconnecting, ` +
      `while 4 ordinary signed webhooks a second arrive on fresh connections. VmRSS of the serving process is sampled every ` +
      `500 ms; "attack connections answered" counts the status each attacking connection got (503: no room in ` +
      `MAX_INFLIGHT_BODY_BYTES; 408: REQUEST_TIMEOUT_MS). The second row lifts the budget out of reach, to show what it buys.\n\n` +
      table.markdown,
    passed: table.passed,
    clean: runs.every((r) => r.stopOk),
  };
}

/** How long, after the last answer, every subscriber has to receive every acknowledged message. */
const fanoutDrainSeconds = (options: Options): number => Math.max(30, 2 * options.fanoutDuration);
/** SSE_MAX_CLIENTS of each server in the fanout phase: its share of the subscribers and this many more. */
const SSE_CLIENTS_MARGIN = 100;
/**
 * Keep-alive connections the fan-out sender may open, in all: as many as its requests in flight
 * need, so that the rate stays the one asked for while answers are slow (at a fixed rate, a cap on
 * connections would turn it into a closed loop).
 */
const FANOUT_SENDER_CONNECTIONS = 512;
/** Servers of the fan-out replica check. */
const FANOUT_POSTGRES_REPLICAS = 2;

/** One fan-out run on a fresh database of `target`: servers started, loaded, stopped. */
async function fanoutOnce(
  label: string,
  target: StoreTarget,
  run: number,
  replicas: number,
  subscribers: number,
  rate: number,
  bodies: FanoutBodies,
  options: Options,
  workRoot: string,
): Promise<FanoutRun> {
  const url = await target.freshUrl(run);
  log(`fanout: ${label}: ${replicas} server(s), ${subscribers} subscribers, ${formatCount(rate)} webhooks/s`);
  let servers: RunningServer[] = [];
  let result: FanoutResult | undefined;
  let stopOk = false;
  try {
    servers = await startServers(url, replicas, workRoot, {
      SSE_MAX_CLIENTS: String(Math.min(100_000, Math.ceil(subscribers / replicas) + SSE_CLIENTS_MARGIN)),
    });
    result = await fanoutRun({
      servers,
      subscribers,
      rate,
      warmupSeconds: options.warmup,
      durationSeconds: options.fanoutDuration,
      connections: FANOUT_SENDER_CONNECTIONS,
      bodies,
      prefix: `fanout-${run}-`,
      drainSeconds: fanoutDrainSeconds(options),
      log,
    });
  } finally {
    const stops = await Promise.all(servers.map((s) => s.stop()));
    stopOk = stops.every((s) => s.graceful && s.exitCode === 0);
    await target.dispose(run);
  }
  const r = result;
  const d = r.delivery;
  log(
    `  ${formatCount(r.ackedPerSecond)} acknowledged/s of ${formatCount(rate)} offered, webhook p50 ${formatMs(r.webhookP50Ms)} ` +
      `p99 ${formatMs(r.webhookP99Ms)}, status ${JSON.stringify(r.statusCounts)}, errors ${r.errors}, sender late p99 ` +
      `${formatMs(r.senderLagP99Ms)} max ${formatMs(r.senderLagMaxMs)}` +
      (subscribers > 0
        ? `; ${formatCount(r.deliveriesPerSecond)} events read/s, delay p50 ${formatMs(r.delay.p50Ms)} p99 ${formatMs(r.delay.p99Ms)} ` +
          `max ${formatMs(r.delay.maxMs)}; missing ${d.missing} (${d.subscribersMissing} subscribers), repeated ${d.duplicates}, ` +
          `out of order ${d.outOfOrder}, unreadable ${d.unreadable + d.otherEvents}, streams ended by the server ${d.endedByServer}, ` +
          `refused ${d.refused}, lag at the end of the load max ${r.lagAtEnd.max} median ${r.lagAtEnd.median}, ` +
          `${d.drainedAfterSeconds === null ? 'not drained' : `drained in ${d.drainedAfterSeconds.toFixed(1)} s`}`
        : '') +
      `; CPU server ${r.serverCpuPercent.toFixed(0)}% (event loop ${r.eventLoopCpuPercent.toFixed(0)}%), bench ` +
      `${r.benchCpuPercent.toFixed(0)}% (event loop ${(r.benchEventLoopUtilization * 100).toFixed(0)}% busy); RSS ` +
      `${r.rss.startMiB.toFixed(0)} → ${r.rss.endMiB.toFixed(0)} MiB, highest ${r.rss.highestMiB.toFixed(0)} MiB, VmHWM ${r.rss.peakMiB.toFixed(0)} MiB` +
      `${stopOk ? '' : ', SIGTERM stop NOT clean'}`,
  );
  return { label, result: r, stopOk };
}

/**
 * The dashboard in a real browser (bench/dashboard.ts) against the database the reads phase
 * seeded (SQLite only: the dashboard reads the same API whatever the store).
 */
async function dashboardPhase(
  options: Options,
  workRoot: string,
): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const heading = `## The dashboard at ${formatCount(options.messages)} messages, in Chromium`;
  if (options.store !== 'sqlite') {
    return {
      markdown: `${heading}

Not run: the dashboard phase measures SQLite only.`,
      passed: true,
      clean: true,
    };
  }
  const seeded = await seededDatabase(options, workRoot);
  if (seeded.source.kind !== 'sqlite') throw new Error('the dashboard phase needs a SQLite database');
  const rows = await runDashboardBench({
    messages: options.messages,
    database: seeded.source.file,
    workDir: path.join(workRoot, 'dashboard'),
    log,
  });
  const table = dashboardTable(rows);
  return { markdown: `${heading}\n\n${DASHBOARD_METHOD}\n\n${table.markdown}`, passed: table.passed, clean: true };
}

async function fanoutPhase(options: Options, workRoot: string): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const bodies = new FanoutBodies(SECRET, options.seed + 4000);
  const target = storeTarget(options.store, workRoot);
  const drain = fanoutDrainSeconds(options);
  const servers = options.replicas > 1 ? `${options.replicas} servers` : 'one server';
  const alone = await fanoutOnce(
    'without subscribers',
    target,
    3000,
    options.replicas,
    0,
    options.fanoutRate,
    bodies,
    options,
    workRoot,
  );
  const loaded = await fanoutOnce(
    `${formatCount(options.subscribers)} subscribers`,
    target,
    3001,
    options.replicas,
    options.subscribers,
    options.fanoutRate,
    bodies,
    options,
    workRoot,
  );
  const runs: FanoutRun[] = [alone, loaded];
  const table = fanoutTable(alone, loaded, drain);
  const method =
    "Each run: a fresh database and its own server(s) (`npm start`, with `SSE_MAX_CLIENTS` set to each server's share of " +
    `the subscribers plus ${SSE_CLIENTS_MARGIN}). The subscribers are connections of this process, spread evenly over the ` +
    'servers, each reading `GET /events?after=0` from before the first webhook and scanning only the `id:` line, the ' +
    'event type and the message_id of each event; a stream the server ends is resumed with `Last-Event-ID` after ' +
    '250 ms, as EventSource would. The webhooks are distinct core-form signed messages sent by a paced sender of this ' +
    'process at a constant rate, spread evenly over the servers: an open loop, each request leaving on its schedule ' +
    `whatever the answers to the ones before (on as many keep-alive connections as are in flight, up to ${FANOUT_SENDER_CONNECTIONS}; ` +
    `"sender late" is how far behind its schedule a request left; answers still missing ${ANSWER_WAIT_MS / 1000} s after the last request ` +
    `are given up and count as errors, "unanswered"), ${options.warmup} s of warm-up, then ${options.fanoutDuration} s measured. ` +
    "Delay: from the moment this process read a webhook's 200 to the moment it read that message's `message.created` " +
    'event, at every subscriber, for the webhooks of the measured part; one clock, since one process runs both ends. ' +
    `After the last answer each subscriber has up to ${drain} s to hold every acknowledged message (warm-up included); ` +
    'then missing, repeated and out-of-order events are counted. CPU is in % of one core over the measured part: the ' +
    "server's threads together and, in brackets, its event loop; this process (sender and subscribers) and, in brackets, " +
    'the share of the time its event loop was busy (near 100%: it limits what is measured).';
  let markdown =
    `## Fan-out: ${formatCount(options.subscribers)} GET /events subscribers while ${formatCount(options.fanoutRate)} webhooks/s ` +
    `arrive (${target.label}, ${servers})\n\n${method}\n\n${table.markdown}`;
  let passed = table.passed;
  if (options.fanoutPostgres) {
    const pgTarget = storeTarget('postgres', workRoot);
    const replicaRun = await fanoutOnce(
      `${formatCount(options.fanoutPostgresSubscribers)} subscribers on ${FANOUT_POSTGRES_REPLICAS} replicas`,
      pgTarget,
      3002,
      FANOUT_POSTGRES_REPLICAS,
      options.fanoutPostgresSubscribers,
      options.fanoutPostgresRate,
      bodies,
      options,
      workRoot,
    );
    runs.push(replicaRun);
    const replicaTable = fanoutReplicaTable(replicaRun, drain);
    passed &&= replicaTable.passed;
    markdown +=
      `\n\n### Fan-out over ${FANOUT_POSTGRES_REPLICAS} replicas on one PostgreSQL database: ` +
      `${formatCount(options.fanoutPostgresSubscribers)} subscribers, ${formatCount(options.fanoutPostgresRate)} webhooks/s\n\n` +
      `${pgTarget.label}, ${FANOUT_POSTGRES_REPLICAS} servers on one fresh database, the subscribers split evenly over them and ` +
      'the webhooks alternating between them, measured as above (no run without subscribers): a subscriber hears of the ' +
      "other replica's messages through PostgreSQL's notifications (or the poll each second), so every subscriber must " +
      `still get every acknowledged message once and in position order.\n\n${replicaTable.markdown}`;
  }
  return {
    markdown,
    passed,
    clean: runs.every((r) => r.stopOk && !fanoutWrong(r.result)),
  };
}

/** Webhook bodies for a lifecycle part that loads for about `seconds`: as many as this machine acknowledges, and a margin. */
const lifecyclePool = (options: Options, seconds: number, seedOffset: number): SignedBodyPool =>
  new SignedBodyPool(SECRET, Math.min(300_000, Math.max(20_000, Math.ceil(seconds * 6000))), options.seed + seedOffset);

/** A copy of a closed SQLite file (and of its WAL, if one was left) under `dir`. */
function copyDatabaseFile(file: string, dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const copy = path.join(dir, name);
  copyFileSync(file, copy);
  if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
  return copy;
}

async function startOne(
  databaseUrl: string,
  workRoot: string,
  env: Readonly<Record<string, string>> = {},
): Promise<RunningServer> {
  const [server] = await startServers(databaseUrl, 1, workRoot, env);
  if (server === undefined) throw new Error('no server started');
  return server;
}

const stoppedCleanly = async (server: RunningServer): Promise<boolean> => {
  const stopped = await server.stop();
  return stopped.graceful && stopped.exitCode === 0;
};

async function lifecyclePhase(
  options: Options,
  workRoot: string,
): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const heading = `## Lifecycle at ${formatCount(options.messages)} messages: export, import, backup under load, retention`;
  if (options.store !== 'sqlite') {
    return {
      markdown: `${heading}\n\nSQLite only (the backup copies a SQLite file, and the parts share the SQLite seeded database): not run with --store ${options.store}.`,
      passed: true,
      clean: true,
    };
  }
  const source = await seededDatabase(options, workRoot);
  if (source.source.kind !== 'sqlite') throw new Error('the lifecycle phase needs the SQLite seeded database');
  const dir = path.join(workRoot, 'lifecycle');
  mkdirSync(dir, { recursive: true });
  const parts = options.lifecycleParts;
  const sections: string[] = [];
  let passed = true;
  let clean = true;
  const add = (title: string, method: string, table: LifecycleTable): void => {
    sections.push(`### ${title}\n\n${method}\n\n${table.markdown}`);
    passed &&= table.passed;
    clean &&= table.clean;
  };

  // Export: one server on the seeded database, NDJSON then CSV, each to a file as a client would.
  const ndjsonFile = path.join(dir, 'export.ndjson');
  let exported: LifecycleExport | null = null;
  if (parts.has('export')) {
    const csvFile = path.join(dir, 'export.csv');
    const server = await startOne(source.url, workRoot);
    let result: Omit<LifecycleExport, 'ndjsonCheck' | 'csvCheck' | 'stopOk'>;
    let stopOk = false;
    try {
      const expectedRows = await totalMessages(server);
      const idle = await idleRssMiB(server.pid);
      log(`lifecycle: export: ${formatCount(expectedRows)} messages; server at rest ${idle.toFixed(0)} MiB`);
      const ndjson = await exportOnce(server, 'ndjson', ndjsonFile, idle);
      log(
        `  NDJSON: ${formatCount(ndjson.rowsPerSecond)} rows/s, ${formatCount(ndjson.rows)} lines in ${ndjson.seconds.toFixed(1)} s, ` +
          `status ${ndjson.status}${ndjson.complete ? '' : ` CUT SHORT (${ndjson.error ?? ''})`}; RSS at rest ${idle.toFixed(0)} MiB, highest ` +
          `${ndjson.rss.highestMiB.toFixed(0)} MiB, end ${ndjson.rss.endMiB.toFixed(0)} MiB; CPU server ${ndjson.serverCpuPercent.toFixed(0)}% ` +
          `(event loop ${ndjson.eventLoopCpuPercent.toFixed(0)}%)`,
      );
      const csv = await exportOnce(server, 'csv', csvFile, await idleRssMiB(server.pid));
      log(
        `  CSV: ${formatCount(csv.rowsPerSecond)} rows/s, ${formatCount(csv.rows)} records in ${csv.seconds.toFixed(1)} s, status ${csv.status}; ` +
          `RSS highest ${csv.rss.highestMiB.toFixed(0)} MiB; CPU server ${csv.serverCpuPercent.toFixed(0)}% (event loop ${csv.eventLoopCpuPercent.toFixed(0)}%)`,
      );
      result = { expectedRows, ndjson, csv };
    } finally {
      stopOk = await stoppedCleanly(server);
    }
    const ndjsonCheck = await checkNdjson(ndjsonFile, result.expectedRows);
    const csvCheck = await checkCsv(csvFile);
    rmSync(csvFile, { force: true });
    log(
      `  checked: NDJSON ${formatCount(ndjsonCheck.lines)} lines, ${ndjsonCheck.bad} bad, ${formatCount(ndjsonCheck.distinctIds)} distinct ids, ` +
        `${ndjsonCheck.outOfOrder} out of order; CSV ${formatCount(csvCheck.records)} records, ${csvCheck.bad} bad${csvCheck.error === null ? '' : `, ${csvCheck.error}`}`,
    );
    exported = { ...result, ndjsonCheck, csvCheck, stopOk };
    add(
      'Export: GET /messages/export of every message',
      `${source.seedLine} One server (\`npm start\`) on that database. Its RSS at rest is the median of 5 readings 200 ms ` +
        'apart after 2 quiet seconds (after one GET /stats); then this process downloads ' +
        '`GET /messages/export?format=ndjson` on one connection, writing the body to a file as it comes and counting its lines ' +
        `(not parsing them: the timed part leaves the CPU to the server), while the server's VmRSS is read every ${RSS_SAMPLE_MS} ms. ` +
        'Rows/s: lines over the time from the request to the end of the body. Afterwards the file is read back: every line must ' +
        'parse as a message, each message_id once, oldest first. The CSV export follows on the same server, measured the same ' +
        'way, and is parsed back with csv-parse.',
      lifecycleExportTable(exported),
    );
  }

  // Import: that NDJSON, by the command line, into an empty database.
  if (parts.has('import') && exported !== null) {
    const reference = await openBenchStore(loadConfig({ DATABASE_URL: source.url, READ_WORKERS: '0' }, PROJECT_ROOT));
    let stats: Stats;
    try {
      stats = await reference.stats(10);
    } finally {
      await reference.close();
    }
    const importDir = path.join(dir, 'import');
    mkdirSync(importDir, { recursive: true });
    log(`lifecycle: import: webhook-inbox import of ${formatCount(exported.ndjsonCheck.lines)} lines into an empty database`);
    const result = await importInto(ndjsonFile, path.join(importDir, 'imported.db'), stats, exported.ndjsonCheck.samples);
    rmSync(importDir, { recursive: true, force: true });
    log(
      `  ${formatCount(result.rowsPerSecond)} rows/s: ${formatCount(result.added)} added, ${formatCount(result.skipped)} skipped in ` +
        `${result.run.seconds.toFixed(1)} s (exit ${result.run.code}, ${result.run.cpuSeconds.toFixed(0)} s of CPU); /stats ` +
        `${result.statsEqual ? 'equal' : 'DIFFER'}; ${result.samplesEqual}/${result.samplesChecked} samples equal`,
    );
    add(
      'Import: `webhook-inbox import` of the export',
      'The NDJSON file of the export, imported by the command line as a user runs it (`node dist/cli/main.js import FILE ' +
        '--database-url sqlite:///…/imported.db`, the compiled form of `npx webhook-inbox import`, in a process of its own, the ' +
        'database file not there before), timed from its start to its exit. Then the imported database is opened and compared ' +
        'with the seeded one: their /stats, and messages spread over the export read back and formatted as the export formats them.',
      lifecycleImportTable(result, exported.expectedRows),
    );
  }
  rmSync(ndjsonFile, { force: true });

  // Backup: the command on a copy of the seeded database that a server keeps storing webhooks into.
  if (parts.has('backup')) {
    const pool = lifecyclePool(options, options.warmup + options.duration + 60, 5000);
    const copy = await copySeeded(source, 'lifecycle-backup', workRoot);
    const output = path.join(dir, 'backup.db');
    const server = await startOne(copy.url, workRoot);
    let result: BackupResult;
    let stopOk = false;
    try {
      log(`lifecycle: backup: ${options.connections} connections of webhooks, then webhook-inbox backup while they go on`);
      result = await backupUnderLoad(server, pool, {
        connections: options.connections,
        warmupSeconds: options.warmup,
        durationSeconds: options.duration,
        output,
        log,
      });
    } finally {
      stopOk = await stoppedCleanly(server);
      await copy.dispose();
    }
    rmSync(output, { force: true });
    log(
      `  backup ${result.run.seconds.toFixed(1)} s (exit ${result.run.code}); integrity ${result.integrity}; ${result.acknowledgedBefore - result.missing}/` +
        `${result.acknowledgedBefore} acknowledged before it in the copy (${formatCount(result.copyRows)} rows); webhook p99 before ` +
        `${formatMs(result.before.p99Ms)} (${formatCount(result.before.okPerSecond)}/s), during ${formatMs(result.during.p99Ms)} ` +
        `(${formatCount(result.during.okPerSecond)}/s)`,
    );
    add(
      `Backup under load: \`webhook-inbox backup\` while ${options.connections} connections send webhooks`,
      `One server on a copy of the seeded database; ${options.connections} connections of autocannon send distinct signed webhooks ` +
        `(as in the ingest phase) for ${options.warmup} s of warm-up and ${options.duration} s ("before"), then \`webhook-inbox backup ` +
        '--output F` (the compiled command line, in a process of its own, with the same DATABASE_URL) runs while they go on ' +
        '("during": the requests sent after the command started and answered before it exited), and the load stops a second ' +
        'after it. Each answer is kept with the message it acknowledges, so the copy is checked for every webhook answered 200 ' +
        'before the command started; then PRAGMA integrity_check runs on the copy again here. Latency is from the moment each ' +
        'request was built, just before it was written, to its answer.',
      lifecycleBackupTable({ result, stopOk }),
    );
  }

  // Retention: half the rows received long ago, a purge of them by RETENTION_DAYS while webhooks arrive.
  if (parts.has('retention')) {
    const retentionDir = path.join(dir, 'retention');
    mkdirSync(retentionDir, { recursive: true });
    log(`lifecycle: retention: building ${formatCount(options.messages)} messages, half of them received long ago`);
    const progress = createProgress('retention database', options.messages);
    let database: RetentionDatabase;
    try {
      database = await buildRetentionDatabase(
        path.join(retentionDir, 'template.db'),
        { rows: options.messages, senders: options.senders, seed: options.seed },
        (done) => progress.update(done),
      );
    } finally {
      progress.finish();
    }
    log(`  built in ${database.seconds.toFixed(1)} s; RETENTION_DAYS=${database.days} puts the cutoff between the halves`);
    const pool = lifecyclePool(options, 2 * (options.warmup + options.retentionWindow) + 240, 6000);
    const retentionOptions = {
      connections: options.connections,
      warmupSeconds: options.warmup,
      windowSeconds: options.retentionWindow,
      durationSeconds: options.duration,
      log,
    };
    // Without RETENTION_DAYS: the webhooks' baseline on the same database.
    const aloneFile = copyDatabaseFile(database.file, path.join(retentionDir, 'alone'), 'inbox.db');
    const aloneServer = await startOne(`sqlite:///${aloneFile}`, workRoot);
    let alone: Awaited<ReturnType<typeof webhooksAlone>>;
    let aloneStopOk = false;
    try {
      const total = await totalMessages(aloneServer);
      if (total !== database.rows) throw new Error(`the retention database holds ${total} messages, not ${database.rows}`);
      alone = await webhooksAlone(aloneServer, pool, 0, retentionOptions);
    } finally {
      aloneStopOk = await stoppedCleanly(aloneServer);
      rmSync(path.dirname(aloneFile), { recursive: true, force: true });
    }
    log(`  without RETENTION_DAYS: webhook p99 ${formatMs(alone.window.p99Ms)}, ${formatCount(alone.window.okPerSecond)}/s`);
    // With RETENTION_DAYS: the first pass starts with the server; webhooks from then on.
    const purgeFile = copyDatabaseFile(database.file, path.join(retentionDir, 'purge'), 'inbox.db');
    rmSync(database.file, { force: true });
    const purgeServer = await startOne(`sqlite:///${purgeFile}`, workRoot, { RETENTION_DAYS: String(database.days) });
    let purge: Awaited<ReturnType<typeof webhooksDuringPurge>>;
    let statsTotal = Number.NaN;
    let purgeStopOk = false;
    try {
      purge = await webhooksDuringPurge(purgeServer, pool, alone.nextIndex, retentionOptions);
      // Whatever the load left in flight is committed by now.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      statsTotal = await totalMessages(purgeServer);
    } finally {
      purgeStopOk = await stoppedCleanly(purgeServer);
    }
    const cutoff = purge.pass?.before ?? new Date(Date.now() - database.days * 86_400_000).toISOString();
    const counts = countAfterPurge(purgeFile, database, cutoff);
    rmSync(retentionDir, { recursive: true, force: true });
    const retention: LifecycleRetention = {
      database,
      alone: alone.window,
      aloneErrors: alone.errors,
      pass: purge.pass,
      during: purge.during,
      after: purge.after,
      errors: purge.errors,
      acknowledged: purge.answers.acknowledged,
      webhooksStored: counts.webhooks,
      statsTotal,
      expectedTotal: database.rows - database.old + counts.webhooks,
      oldLeft: counts.oldLeft,
      recentKept: counts.recentKept,
      stopOk: aloneStopOk && purgeStopOk,
    };
    log(
      `  purge: ${purge.pass === null ? 'no pass logged' : `${formatCount(purge.pass.messages)} messages in ${(purge.pass.durationMs / 1000).toFixed(1)} s, ${purge.pass.batches} batches, ${purge.pass.outcome}`}; ` +
        `webhook p99 during ${formatMs(purge.during?.p99Ms ?? Number.NaN)} (${formatCount(purge.during?.okPerSecond ?? Number.NaN)}/s), after ` +
        `${formatMs(purge.after?.p99Ms ?? Number.NaN)}; old left ${counts.oldLeft}, recent kept ${formatCount(counts.recentKept)}, /stats ${formatCount(statsTotal)} ` +
        `(expected ${formatCount(retention.expectedTotal)})`,
    );
    add(
      `Retention: RETENTION_DAYS purging ${formatCount(database.old)} of ${formatCount(database.rows)} messages while ${options.connections} connections send webhooks`,
      `A database of ${formatCount(database.rows)} synthetic messages (the seeded ones: same seed, senders and year of ts), stored ` +
        "through the store's importMessages so that each keeps the received_at it is given: the older half was received at its own ts " +
        `(half a year ago and more), the newer half in the minutes before the run (built in ${database.seconds.toFixed(0)} s). ` +
        `RETENTION_DAYS=${database.days} puts the cutoff between the halves. Without it, a server on a copy takes ${options.connections} ` +
        `connections of webhooks for ${options.warmup} s of warm-up and ${options.retentionWindow} s measured ("without"). Then a server on ` +
        'another copy starts with RETENTION_DAYS, so its first retention pass begins as it starts (batches sized to hold the writer ' +
        'about 20 ms, 10 to 500 rows, each followed by a pause at least as long, and of 50 ms at least), and the same webhooks ' +
        `arrive from then on for as long: "during" are the requests sent after the warm-up and answered within the ${options.retentionWindow} s ` +
        "and before the pass's end (its start and end from its log line). Both windows are equally long so that both databases grow by " +
        "about as many webhooks while measured: a webhook's latency grows with the database, and a baseline taken on a smaller one " +
        'would charge that growth to the purge. A pass that outlasts the window goes on to its end without load; one that ends inside ' +
        `it keeps the load on until the checkpoint after its last batch is due and ${options.duration} s more ("after the purge"). ` +
        'Then the file is counted: nothing received before the cutoff may be left, every recent row must be, and /stats must agree.',
      lifecycleRetentionTable(retention),
    );
  }
  return { markdown: `${heading}\n\n${sections.join('\n\n')}`, passed, clean };
}

function reproduceCommand(options: Options): string {
  const args = [
    `--messages ${options.messages}`,
    `--duration ${options.duration}`,
    `--rounds ${options.rounds}`,
    `--connections ${options.connections}`,
  ];
  if (options.warmup !== 2) args.push(`--warmup ${options.warmup}`);
  if (options.readRequests !== 1000) args.push(`--read-requests ${options.readRequests}`);
  if (options.senders !== 5000) args.push(`--senders ${options.senders}`);
  if (options.seed !== 1) args.push(`--seed ${options.seed}`);
  if (options.replicas !== 1) args.push(`--replicas ${options.replicas}`);
  if (options.readConnections !== 4) args.push(`--read-connections ${options.readConnections}`);
  if (options.readWorkers.join(',') !== '0,2') args.push(`--read-workers ${options.readWorkers.join(',')}`);
  if (options.slowClients !== 500) args.push(`--slow-clients ${options.slowClients}`);
  if (options.attackSeconds !== 20) args.push(`--attack ${options.attackSeconds}`);
  if (options.subscribers !== 1000) args.push(`--subscribers ${options.subscribers}`);
  if (options.fanoutRate !== 2000) args.push(`--fanout-rate ${options.fanoutRate}`);
  if (options.fanoutDuration !== 60) args.push(`--fanout-duration ${options.fanoutDuration}`);
  if (options.retentionWindow !== 600 && options.lifecycleParts.has('retention'))
    args.push(`--retention-window ${options.retentionWindow}`);
  if (options.fanoutPostgres) args.push('--fanout-postgres');
  if (options.fanoutPostgresSubscribers !== 100) args.push(`--fanout-postgres-subscribers ${options.fanoutPostgresSubscribers}`);
  if (options.fanoutPostgresRate !== 500) args.push(`--fanout-postgres-rate ${options.fanoutPostgresRate}`);
  if (options.phases.size < PHASES.length) args.push(`--only ${[...options.phases].join(',')}`);
  if (options.phases.has('lifecycle') && options.lifecycleParts.size < LIFECYCLE_PARTS.length) {
    args.push(`--lifecycle-parts ${[...options.lifecycleParts].join(',')}`);
  }
  if (options.out !== null) args.push(`--out ${path.relative(PROJECT_ROOT, path.resolve(options.out))}`);
  return `npm run bench -- ${args.join(' ')}`;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const machine = describeMachine();
  const workRoot = mkdtempSync(path.join(os.tmpdir(), 'webhook-inbox-bench-'));
  const cleanup = async (): Promise<void> => {
    stopCommands();
    await stopAll();
    await embeddedPostgres?.destroy();
    embeddedPostgres = null;
    rmSync(workRoot, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      aborting = true;
      log(`bench: ${signal}, stopping the servers`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const sections: string[] = [];
  let passed = true;
  let clean = true;
  try {
    const run: Record<Phase, (o: Options, w: string) => Promise<{ markdown: string; passed: boolean; clean: boolean }>> = {
      ingest: ingestPhase,
      reads: readsPhase,
      mixed: mixedPhase,
      'slow-clients': slowClientsPhase,
      fanout: fanoutPhase,
      lifecycle: lifecyclePhase,
      dashboard: dashboardPhase,
    };
    for (const phase of PHASES) {
      if (!options.phases.has(phase)) continue;
      const result = await run[phase](options, workRoot);
      sections.push(result.markdown);
      passed &&= result.passed;
      clean &&= result.clean;
    }
  } finally {
    await cleanup();
  }

  const report = alignTables(
    [
      '# Benchmark results',
      '',
      `Written by \`npm run bench\` (bench/run.ts); targets from issue 3 (ingest, reads), the hardening issue (mixed load, slow clients), the inbox issue (order, until, to, type, conversations, timeseries), issue 13 (event-stream fan-out), issue 14 (export, import, backup and retention) and issue 15 (the dashboard). ${passed ? 'Every target was met.' : 'Some targets were missed (marked FAIL).'}`,
      '',
      environmentSection(
        machine,
        {
          messages: options.messages,
          duration: options.duration,
          rounds: options.rounds,
          connections: options.connections,
          warmup: options.warmup,
          'read-requests': options.readRequests,
          senders: options.senders,
          seed: options.seed,
          store: options.store,
          replicas: options.replicas,
          'read-connections': options.readConnections,
          'read-workers': options.readWorkers.join(','),
          'slow-clients': options.slowClients,
          attack: options.attackSeconds,
          subscribers: options.subscribers,
          'fanout-rate': options.fanoutRate,
          'fanout-duration': options.fanoutDuration,
          'retention-window': options.retentionWindow,
          ...(options.fanoutPostgres
            ? {
                'fanout-postgres-subscribers': options.fanoutPostgresSubscribers,
                'fanout-postgres-rate': options.fanoutPostgresRate,
              }
            : {}),
          phases: [...options.phases].join(','),
          ...(options.phases.has('lifecycle') ? { 'lifecycle-parts': [...options.lifecycleParts].join(',') } : {}),
        },
        reproduceCommand(options),
      ),
      '',
      ...sections.flatMap((s) => [s, '']),
    ].join('\n'),
  );
  process.stdout.write(report);
  const written = resultsPath(options);
  writeFileSync(written, report);
  log(`bench: wrote ${path.relative(process.cwd(), written) || written}`);
  // Missed speed targets are findings; wrong answers, lost rows or an unclean stop are failures.
  if (!clean) {
    log('bench: some answers were wrong, rows were lost or a server did not stop cleanly (see the report)');
    process.exitCode = 1;
  }
}

/** Set by SIGINT/SIGTERM: what fails while the servers are being stopped is expected then. */
let aborting = false;

try {
  await main();
} catch (error) {
  if (!aborting) throw error;
}
