// `npm run bench [-- --messages N --duration S --rounds R --connections C ...]`: ingest throughput of
// the real store against the no-op ceiling, then read latencies at N messages; prints a Markdown
// report and writes it to bench/RESULTS.md. Loopback only; every process it starts it stops by pid.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import {
  createTestDatabase,
  type PostgresServer,
  startEmbeddedPostgres,
  type TestDatabase,
} from '../test/helpers/postgres-server.js';
import { loadWebhooks, SignedBodyPool } from './ingest.js';
import { createProgress, formatCount } from './progress.js';
import { combineRounds, describeResult, measureCase, type ReadResult, readCases, SequentialClient, walkCursor } from './reads.js';
import {
  alignTables,
  describeMachine,
  environmentSection,
  type IngestRound,
  type IngestSummary,
  ingestTable,
  readTable,
} from './report.js';
import {
  PROJECT_ROOT,
  type RunningServer,
  readCpuSeconds,
  readMachineTicks,
  readMainThreadCpuSeconds,
  readMemory,
  sampleRss,
  startServer,
  stopAll,
} from './server.js';
import { openBenchStore } from './store.js';
import { seedStore, startOfUtcDay } from './synthetic.js';

const USAGE = `usage: npm run bench [-- options]
  --messages N       rows seeded for the read latencies (default 100000; 1000000 for the issue's figures)
  --duration S       seconds of measured load per ingest run (default 10)
  --rounds R         ingest runs per store (real and no-op alternated), and passes over the read cases (default 3)
  --connections C    concurrent connections for ingest (default 50)
  --warmup S         seconds of load before each measured ingest run (default 2)
  --read-requests N  timed requests per read case (default 1000)
  --senders S        distinct senders in the seeded data (default 5000)
  --seed K           seed of the synthetic data (default 1)
  --store KIND       store under test: sqlite (default) or postgres (TEST_DATABASE_URL, a URL whose user may
                     CREATE DATABASE; otherwise an embedded PostgreSQL with fsync on, started and stopped here)
  --replicas N       servers per store, sharing its database, load spread over them (default 1)
  --skip-ingest, --skip-reads`;

const SECRET = 'bench-secret';
/** bench/RESULTS.md for SQLite, bench/RESULTS-postgres.md (or -postgres-2-replicas.md) for PostgreSQL. */
function resultsPath(options: Options): string {
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
  readonly skipIngest: boolean;
  readonly skipReads: boolean;
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
      'skip-ingest': { type: 'boolean' },
      'skip-reads': { type: 'boolean' },
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
    skipIngest: values['skip-ingest'] === true,
    skipReads: values['skip-reads'] === true,
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
  const store = await openBenchStore(loadConfig({ DATABASE_URL: url }, PROJECT_ROOT).database);
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

async function startServers(databaseUrl: string, replicas: number, workRoot: string): Promise<RunningServer[]> {
  const servers: RunningServer[] = [];
  for (let i = 0; i < replicas; i++) {
    const begin = performance.now();
    const server = await startServer({ databaseUrl, index: serverIndex++, secret: SECRET, workDir: workRoot });
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

async function readsPhase(options: Options, workRoot: string): Promise<{ markdown: string; passed: boolean; clean: boolean }> {
  const dir = path.join(workRoot, 'reads');
  mkdirSync(dir, { recursive: true });
  const url =
    options.store === 'postgres'
      ? (await createTestDatabase(await postgresAdminUrl(), 'bench_reads')).url
      : `sqlite:///${path.join(dir, 'reads.db')}`;
  const store = await openBenchStore(loadConfig({ DATABASE_URL: url }, PROJECT_ROOT).database);
  log(`reads: seeding ${formatCount(options.messages)} messages from ${formatCount(options.senders)} senders`);
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
  const seedLine = `Seeded ${formatCount(options.messages)} messages (${formatCount(seeded.facts.senderCounts.filter((c) => c > 0).length)} senders) through insertMany in ${seedSeconds.toFixed(1)} s (${formatCount(options.messages / seedSeconds)} rows/s).`;
  log(`reads: ${seedLine}`);

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
    const cases = readCases(seeded.facts, walk);
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
  return {
    markdown:
      `## Reads at ${formatCount(options.messages)} messages, one keep-alive connection, sequential requests\n\n` +
      `${seedLine} Each case, in each of ${options.rounds} round(s): ${Math.min(50, options.readRequests)} warm-up requests, then up to ${options.readRequests} timed ` +
      'ones (30 s at most); every answer checked for status 200 and an exact `total`. p50 and p99 are as the client saw them, ' +
      'medians over the rounds (the targets apply to these); "in server" is the latency_ms the server logged for the same requests. ' +
      "The targets are the issue's, set for 1,000,000 messages.\n\n" +
      table.markdown,
    passed: table.passed,
    clean: stopOk && results.every((r) => r.bad === 0),
  };
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
  if (options.skipIngest) args.push('--skip-ingest');
  if (options.skipReads) args.push('--skip-reads');
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
    if (!options.skipIngest) {
      const ingest = await ingestPhase(options, workRoot);
      sections.push(ingest.markdown);
      passed &&= ingest.passed;
      clean &&= ingest.clean;
    }
    if (!options.skipReads) {
      const reads = await readsPhase(options, workRoot);
      sections.push(reads.markdown);
      passed &&= reads.passed;
      clean &&= reads.clean;
    }
  } finally {
    await cleanup();
  }

  const report = alignTables(
    [
      '# Benchmark results',
      '',
      `Written by \`npm run bench\` (bench/run.ts); targets from issue 3. ${passed ? 'Every target was met.' : 'Some targets were missed (marked FAIL).'}`,
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
