// The benchmark's Markdown: the ingest, read, mixed-load and slow-client tables with pass/fail
// against the issues' targets, and the machine and options they were measured with.

import os from 'node:os';
import type { FanoutResult } from './fanout.js';
import {
  type BackupResult,
  type CsvCheck,
  EXPORT_RATE_TARGET,
  EXPORT_RSS_TARGET_MIB,
  type ExportRun,
  IMPORT_RATE_TARGET,
  type ImportResult,
  type NdjsonCheck,
  PURGE_P99_RATIO_TARGET,
  type RetentionDatabase,
  type RetentionRun,
  type WebhookWindow,
} from './lifecycle.js';
import type { SlowReadResult } from './mixed.js';
import type { ReadResult } from './reads.js';
import type { AttackResult } from './slow-clients.js';
import { formatMs, median } from './stats.js';

export interface IngestRound {
  readonly round: number;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly peakRssMiB: number;
  /** RSS at the end of the measured load minus RSS at its start (after the warm-up). */
  readonly rssGrowthMiB: number;
  /** Rows the store holds after the run, where it can tell (null for the no-op store). */
  readonly storedRows: number | null;
  /** Acknowledged (2xx) requests over warm-up and measured load. */
  readonly acknowledged: number;
  readonly stopOk: boolean;
  /**
   * CPU used during the measured load, in % of one core: the server (all threads), its event-loop
   * thread alone, and this process (autocannon).
   */
  readonly serverCpuPercent: number;
  readonly eventLoopCpuPercent: number;
  readonly loadCpuPercent: number;
  /** Share of all the machine's cores left idle during the measured load; null where it cannot be read. */
  readonly machineIdlePercent: number | null;
}

export interface IngestSummary {
  readonly label: string;
  readonly rounds: readonly IngestRound[];
}

export interface Machine {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly loadAverage: string;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

const passFail = (ok: boolean): string => (ok ? 'pass' : '**FAIL**');
const mib = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(0)} MiB` : 'n/a');
const rate = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

export interface IngestVerdict {
  readonly markdown: string;
  readonly passed: boolean;
}

export function ingestTable(real: IngestSummary, ceiling: IngestSummary): IngestVerdict {
  const row = (s: IngestSummary) => ({
    reqPerSec: median(s.rounds.map((r) => r.reqPerSec)),
    p50: median(s.rounds.map((r) => r.p50Ms)),
    p99: median(s.rounds.map((r) => r.p99Ms)),
    non2xx: s.rounds.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    peak: Math.max(...s.rounds.map((r) => r.peakRssMiB)),
    growth: Math.max(...s.rounds.map((r) => r.rssGrowthMiB)),
    lost: s.rounds.some((r) => r.storedRows !== null && r.storedRows < r.acknowledged),
    stopOk: s.rounds.every((r) => r.stopOk),
  });
  const a = row(real);
  const c = row(ceiling);
  const ratio = a.reqPerSec / c.reqPerSec;
  const realOk = a.non2xx === 0 && !a.lost && a.stopOk;
  const lines = [
    '| case | target | req/s (median) | p50 | p99 | non-2xx + errors | peak RSS (growth) | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    `| ${real.label} | p99 < 50 ms, no non-2xx | ${rate(a.reqPerSec)} | ${formatMs(a.p50)} | ${formatMs(a.p99)} | ${a.non2xx} | ${mib(a.peak)} (${mib(a.growth)}) | ${passFail(a.p99 < 50 && realOk)}${a.lost ? ' (acknowledged rows missing!)' : ''} |`,
    `| ${ceiling.label} | ceiling | ${rate(c.reqPerSec)} | ${formatMs(c.p50)} | ${formatMs(c.p99)} | ${c.non2xx} | ${mib(c.peak)} (${mib(c.growth)}) | ${passFail(c.non2xx === 0 && c.stopOk)} |`,
    `| ratio real / ceiling | ≥ 0.80 | ${ratio.toFixed(2)} | | | | | ${passFail(ratio >= 0.8)} |`,
  ];
  const rounds = [real, ceiling].flatMap((s) =>
    s.rounds.map(
      (r) =>
        `| ${s.label} | ${r.round} | ${rate(r.reqPerSec)} | ${formatMs(r.p50Ms)} | ${formatMs(r.p99Ms)} | ${r.ok} | ${
          Object.entries(r.statusCounts)
            .map(([status, count]) => `${status}: ${count}`)
            .join(', ') || '—'
        } | ${r.errors} | ${r.serverCpuPercent.toFixed(0)}% (${r.eventLoopCpuPercent.toFixed(0)}%) / ${r.loadCpuPercent.toFixed(0)}% | ${
          r.machineIdlePercent === null ? '—' : `${r.machineIdlePercent.toFixed(0)}%`
        } | ${mib(r.peakRssMiB)} | ${r.storedRows === null ? '—' : `${r.storedRows} / ${r.acknowledged}`} | ${r.stopOk ? 'exit 0' : '**not clean**'} |`,
    ),
  );
  const detail = [
    '| store | round | req/s | p50 | p99 | 2xx | status codes | errors | CPU server (event loop) / load generator | machine idle | peak RSS | rows stored / acknowledged | SIGTERM |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rounds,
  ];
  return {
    markdown: `${lines.join('\n')}\n\nPer round:\n\n${detail.join('\n')}`,
    passed: a.p99 < 50 && realOk && ratio >= 0.8 && c.non2xx === 0,
  };
}

export function readTable(results: readonly ReadResult[]): { markdown: string; passed: boolean } {
  let passed = true;
  const lines = [
    '| case | target (p99) | timed requests | p50 | p99 | in server p50 / p99 | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of results) {
    if (r.unavailable !== null) {
      lines.push(`| ${r.name} | ${r.targetText} | 0 | n/a | n/a | n/a | n/a (${r.unavailable}) |`);
      continue;
    }
    let verdict: string;
    if (r.bad > 0) verdict = `**FAIL**: ${r.bad} bad answers (${r.firstProblem ?? ''})`;
    else if (r.targetMs === null) verdict = '—';
    else verdict = passFail(r.p99Ms <= r.targetMs);
    if (r.bad > 0 || (r.targetMs !== null && r.p99Ms > r.targetMs)) passed = false;
    const server = Number.isFinite(r.serverP99Ms) ? `${formatMs(r.serverP50Ms)} / ${formatMs(r.serverP99Ms)}` : 'n/a';
    lines.push(
      `| ${r.name} | ${r.targetText} | ${r.samples} | ${formatMs(r.p50Ms)} | ${formatMs(r.p99Ms)} | ${server} | ${verdict.replaceAll('|', '\\|')} |`,
    );
  }
  return { markdown: lines.join('\n'), passed };
}

/** The webhook load of one part of a mixed-load run, alone or beside the reads. */
export interface MixedSegment {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errors: number;
  /** CPU in % of one core: the server's threads together, and its event loop (main thread) alone. */
  readonly serverCpuPercent: number;
  readonly eventLoopCpuPercent: number;
}

export interface MixedRound {
  readonly readWorkers: number;
  readonly round: number;
  /** The webhooks ran alone before the part with reads; the order alternates over the rounds. */
  readonly aloneFirst: boolean;
  readonly alone: MixedSegment;
  readonly withReads: MixedSegment;
  readonly reads: readonly SlowReadResult[];
  readonly stopOk: boolean;
}

const statusText = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ') || '—';
const nonOk = (counts: Readonly<Record<string, number>>, ok: (status: number) => boolean): number =>
  Object.entries(counts).reduce((sum, [status, count]) => sum + (ok(Number(status)) ? 0 : count), 0);
const is2xx = (status: number): boolean => status >= 200 && status < 300;
const count503 = (counts: Readonly<Record<string, number>>): number => counts['503'] ?? 0;
const ratioText = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');

/**
 * Webhooks alone against webhooks beside the slowest reads, per READ_WORKERS setting. The ratios
 * are medians of each round's own ratio (alone and with reads ran on the same server, one after
 * the other), which cancels most of what a shared machine does to one round.
 */
export function mixedTable(rounds: readonly MixedRound[]): { markdown: string; passed: boolean } {
  const settings = [...new Set(rounds.map((r) => r.readWorkers))];
  const summary = [
    '| READ_WORKERS | webhooks | req/s | p50 | p99 | non-2xx (of which 503) + errors | CPU server (event loop) |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const readLines = [
    '| READ_WORKERS | read | answered 200 | other answers + errors | p50 | p99 |',
    '| ---: | --- | ---: | --- | ---: | ---: |',
  ];
  const targets = ['| READ_WORKERS | target | measured | result |', '| ---: | --- | --- | --- |'];
  let passed = true;
  for (const workers of settings) {
    const runs = rounds.filter((r) => r.readWorkers === workers);
    const segmentRow = (label: string, parts: readonly MixedSegment[]): string => {
      const non2xx = parts.reduce((sum, p) => sum + nonOk(p.statusCounts, is2xx), 0);
      const refused = parts.reduce((sum, p) => sum + count503(p.statusCounts), 0);
      const errors = parts.reduce((sum, p) => sum + p.errors, 0);
      return (
        `| ${workers} | ${label} | ${rate(median(parts.map((p) => p.reqPerSec)))} | ${formatMs(median(parts.map((p) => p.p50Ms)))} | ` +
        `${formatMs(median(parts.map((p) => p.p99Ms)))} | ${non2xx} (${refused}) + ${errors} | ` +
        `${median(parts.map((p) => p.serverCpuPercent)).toFixed(0)}% (${median(parts.map((p) => p.eventLoopCpuPercent)).toFixed(0)}%) |`
      );
    };
    const alone = runs.map((r) => r.alone);
    const withReads = runs.map((r) => r.withReads);
    const readers = Math.max(0, ...runs.map((r) => r.reads.length));
    summary.push(segmentRow('alone', alone), segmentRow('with the reads', withReads));

    let read503 = 0;
    for (let kind = 0; kind < readers; kind++) {
      const results = runs.map((r) => r.reads[kind]).filter((r): r is SlowReadResult => r !== undefined);
      const counts: Record<string, number> = {};
      for (const result of results) {
        for (const [status, n] of Object.entries(result.statusCounts)) {
          if (status !== '200') counts[status] = (counts[status] ?? 0) + n;
        }
      }
      read503 += count503(counts);
      const errors = results.reduce((sum, r) => sum + r.errors, 0);
      readLines.push(
        `| ${workers} | ${results[0]?.name ?? ''} | ${results.reduce((sum, r) => sum + r.ok, 0)} | ${
          Object.keys(counts).length > 0 ? `${statusText(counts)} + ${errors}` : `none + ${errors}`
        } | ${formatMs(median(results.map((r) => r.p50Ms)))} | ${formatMs(median(results.map((r) => r.p99Ms)))} |`,
      );
    }

    const p99Ratio = median(runs.map((r) => r.withReads.p99Ms / r.alone.p99Ms));
    const rateRatio = median(runs.map((r) => r.withReads.reqPerSec / r.alone.reqPerSec));
    const webhook503 = [...alone, ...withReads].reduce((sum, p) => sum + count503(p.statusCounts), 0);
    const p99Ok = p99Ratio <= 2;
    const rateOk = rateRatio >= 0.8;
    const refusedOk = webhook503 === 0 && read503 === 0;
    const cleanOk = runs.every((r) => r.stopOk);
    passed &&= p99Ok && rateOk && refusedOk;
    targets.push(
      `| ${workers} | webhook p99 with the reads ≤ 2× alone | ${ratioText(p99Ratio)} (${formatMs(median(withReads.map((p) => p.p99Ms)))} against ${formatMs(median(alone.map((p) => p.p99Ms)))}) | ${passFail(p99Ok)} |`,
      `| ${workers} | webhook req/s with the reads ≥ 0.8× alone | ${ratioText(rateRatio)} (${rate(median(withReads.map((p) => p.reqPerSec)))} against ${rate(median(alone.map((p) => p.reqPerSec)))}) | ${passFail(rateOk)} |`,
      `| ${workers} | no 503 | webhooks ${webhook503}, reads ${read503} | ${passFail(refusedOk)} |`,
      ...(cleanOk ? [] : [`| ${workers} | clean SIGTERM stop | not clean | **FAIL** |`]),
    );
  }
  const detail = [
    '| READ_WORKERS | round | order | alone req/s | alone p99 | with reads req/s | with reads p99 | p99 ratio | req/s ratio | webhook status codes with the reads | reads answered 200 (other) | SIGTERM |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |',
    ...rounds.map((r) => {
      const readOk = r.reads.reduce((sum, x) => sum + x.ok, 0);
      const readOther = r.reads.reduce((sum, x) => sum + nonOk(x.statusCounts, (s) => s === 200) + x.errors, 0);
      return (
        `| ${r.readWorkers} | ${r.round} | ${r.aloneFirst ? 'alone first' : 'reads first'} | ${rate(r.alone.reqPerSec)} | ${formatMs(r.alone.p99Ms)} | ` +
        `${rate(r.withReads.reqPerSec)} | ${formatMs(r.withReads.p99Ms)} | ${ratioText(r.withReads.p99Ms / r.alone.p99Ms)} | ` +
        `${ratioText(r.withReads.reqPerSec / r.alone.reqPerSec)} | ${statusText(r.withReads.statusCounts)}${r.withReads.errors > 0 ? `, errors: ${r.withReads.errors}` : ''} | ` +
        `${readOk} (${readOther}) | ${r.stopOk ? 'exit 0' : '**not clean**'} |`
      );
    }),
  ];
  return {
    markdown: [
      summary.join('\n'),
      'The reads, in the parts with them (latencies of the 200 answers; medians over the rounds):',
      readLines.join('\n'),
      "Targets (ratios: the median over the rounds of each round's own ratio):",
      targets.join('\n'),
      'Per round:',
      detail.join('\n'),
    ].join('\n\n'),
    passed,
  };
}

/** One slow-client attack against one server. */
export interface SlowClientRun {
  readonly label: string;
  /** Whether this row is held to the targets (the unbounded comparison is not). */
  readonly judged: boolean;
  readonly result: AttackResult;
  readonly stopOk: boolean;
}

/** The most RSS the slow-client attack may add to the idle server, from the hardening issue. */
export const SLOW_CLIENT_GROWTH_TARGET_MIB = 200;

export function slowClientTable(runs: readonly SlowClientRun[]): { markdown: string; passed: boolean } {
  let passed = true;
  const lines = [
    '| MAX_INFLIGHT_BODY_BYTES | idle RSS | peak RSS | peak − idle (≤ 200 MiB) | RSS 2 s after | attack connections answered | closed unanswered / still open at the end | body sent | ordinary webhooks 200 / sent | result |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |',
  ];
  const timelines = ['| MAX_INFLIGHT_BODY_BYTES | RSS at each tenth of the attack (MiB) |', '| --- | --- |'];
  for (const run of runs) {
    const r = run.result;
    const growth = r.peakRssMiB - r.idleRssMiB;
    const hooks = r.webhooks;
    const hooksOk = hooks.sent > 0 && (hooks.statusCounts['200'] ?? 0) === hooks.sent;
    const memoryOk = growth <= SLOW_CLIENT_GROWTH_TARGET_MIB;
    const refusals =
      hooks.firstRefusedAt === null
        ? ''
        : `; not 200: ${statusText(Object.fromEntries(Object.entries(hooks.statusCounts).filter(([s]) => s !== '200')))}${
            hooks.errors > 0 ? `, ${hooks.errors} unanswered` : ''
          }, sent from ${hooks.firstRefusedAt.toFixed(1)} s to ${hooks.lastRefusedAt?.toFixed(1) ?? '?'} s`;
    let verdict: string;
    if (run.judged) {
      passed &&= memoryOk && hooksOk && run.stopOk;
      verdict = `memory ${passFail(memoryOk)}, webhooks ${passFail(hooksOk)}${run.stopOk ? '' : ', SIGTERM stop **not clean**'}`;
    } else
      verdict = `comparison: memory ${memoryOk ? 'within' : 'over'} the target${run.stopOk ? '' : ', SIGTERM stop **not clean**'}`;
    lines.push(
      `| ${run.label} | ${mib(r.idleRssMiB)} | ${mib(r.peakRssMiB)} | ${mib(growth)} | ${mib(r.afterRssMiB)} | ${statusText(r.answered)}${
        r.connectFailed > 0 ? `; ${r.connectFailed} could not connect` : ''
      } | ${r.closedUnanswered} / ${r.stillOpen} | ${mib(r.bodyMiBSent)} | ${hooks.statusCounts['200'] ?? 0} / ${hooks.sent} (p50 ${formatMs(
        hooks.p50Ms,
      )}, max ${formatMs(hooks.maxMs)})${refusals} | ${verdict} |`,
    );
    timelines.push(`| ${run.label} | ${r.rssTimeline.join(' ')} |`);
  }
  return { markdown: `${lines.join('\n')}\n\n${timelines.join('\n')}`, passed };
}

/** Issue 13's targets for the fan-out phase. */
export const FANOUT_DELAY_P99_TARGET_MS = 250;
export const FANOUT_INGEST_RATIO_TARGET = 0.8;
/**
 * RSS counts as flat when the highest sampled in the last third of the measured load is at most
 * this share above the highest in its first third. Not a comparison with the RSS at the start: the
 * heap of a server writing 200,000 frames a second rises by tens of MiB between two collections and
 * falls back (a saw, not a slope), and a sample at the start may fall in a trough or on a peak.
 * Growth from one third to the last is what a backlog kept without bound, or a leak, would show.
 */
export const FANOUT_RSS_GROWTH_SHARE = 0.1;
/** Shorter measured loads than this hold too few collections to tell a slope from the saw. */
export const FANOUT_RSS_MIN_SECONDS = 30;

/** One fan-out run and whether its servers stopped cleanly. */
export interface FanoutRun {
  readonly label: string;
  readonly result: FanoutResult;
  readonly stopOk: boolean;
}

/** Every acknowledged message exactly once, in order, at every subscriber. */
export function fanoutDeliveredOnce(r: FanoutResult): boolean {
  const d = r.delivery;
  return d.missing === 0 && d.duplicates === 0 && d.outOfOrder === 0 && d.unreadable === 0 && d.otherEvents === 0;
}

/** Wrong answers rather than slowness: repeats, disorder, unreadable events, or a gap at a subscriber that read to the end. */
export function fanoutWrong(r: FanoutResult): boolean {
  const d = r.delivery;
  return d.duplicates > 0 || d.outOfOrder > 0 || d.unreadable > 0 || d.otherEvents > 0 || d.gapsAtHead > 0;
}

function deliveryText(r: FanoutResult, drainSeconds: number): string {
  const d = r.delivery;
  const drained =
    d.drainedAfterSeconds === null
      ? `not all delivered within ${drainSeconds} s of the last answer`
      : `all delivered ${d.drainedAfterSeconds.toFixed(1)} s after the last answer`;
  return (
    `${r.subscribers} subscribers × ${r.acknowledged.toLocaleString('en-US')} acknowledged: missing ${d.missing.toLocaleString('en-US')}` +
    `${d.subscribersMissing > 0 ? ` (at ${d.subscribersMissing} subscribers, ${d.gapsAtHead} of which had read to the end of the feed)` : ''}, ` +
    `repeated ${d.duplicates}, out of order ${d.outOfOrder}, unreadable ${d.unreadable + d.otherEvents}; ${drained}`
  );
}

export function fanoutRssAllowanceMiB(firstThirdHighestMiB: number): number {
  return FANOUT_RSS_GROWTH_SHARE * firstThirdHighestMiB;
}

function fanoutDetail(runs: readonly FanoutRun[]): string {
  const lines = [
    '| run | servers | subscribers | webhooks/s offered | acknowledged/s | webhook p50 | webhook p99 | status codes | errors | sender late p99 / max | events read/s | delay p50 / p99 / max | server CPU (event loop) | bench CPU (event-loop use) | machine idle | RSS start / highest / end (VmHWM) | streams ended by the server / refused, from the warm-up on (while connecting) | SIGTERM |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const { label, result: r, stopOk } of runs) {
    const delay =
      r.subscribers === 0 ? '—' : `${formatMs(r.delay.p50Ms)} / ${formatMs(r.delay.p99Ms)} / ${formatMs(r.delay.maxMs)}`;
    lines.push(
      `| ${label} | ${r.servers} | ${r.subscribers} | ${rate(r.rate)} | ${rate(r.ackedPerSecond)} | ${formatMs(r.webhookP50Ms)} | ` +
        `${formatMs(r.webhookP99Ms)} | ${statusText(r.statusCounts)} | ${r.errors}${r.unanswered > 0 ? ` + ${r.unanswered} unanswered` : ''} | ${formatMs(r.senderLagP99Ms)} / ${formatMs(r.senderLagMaxMs)} | ` +
        `${rate(r.deliveriesPerSecond)} | ${delay} | ${r.serverCpuPercent.toFixed(0)}% (${r.eventLoopCpuPercent.toFixed(0)}%) | ` +
        `${r.benchCpuPercent.toFixed(0)}% (${(r.benchEventLoopUtilization * 100).toFixed(0)}%) | ` +
        `${r.machineIdlePercent === null ? '—' : `${r.machineIdlePercent.toFixed(0)}%`} | ` +
        `${mib(r.rss.startMiB)} / ${mib(r.rss.highestMiB)} / ${mib(r.rss.endMiB)} (${mib(r.rss.peakMiB)}) | ${r.delivery.endedByServer} / ${r.delivery.refused} (${r.delivery.endedBeforeLoad} / ${r.delivery.refusedBeforeLoad})${
          r.delivery.connectErrors > 0 ? `; ${r.delivery.connectErrors} connections failed` : ''
        } | ` +
        `${stopOk ? 'exit 0' : '**not clean**'} |`,
    );
  }
  const timelines = runs.map(({ label, result: r }) => `${label}: ${r.rss.timeline.join(' ')} MiB`);
  return `${lines.join('\n')}\n\nServer RSS at each tenth of the measured load (first server): ${timelines.join('; ')}.`;
}

/** This process's event loop busy at least this share of the measured load: it is saturated. */
const BENCH_SATURATED = 0.9;
/** Webhooks leaving this far behind their schedule (p99): this process was held up. */
const SENDER_LATE_MS = 50;
/** Machine idle below this share: other work (or this run) used every core. */
const MACHINE_BUSY_PERCENT = 5;

/** Notes on runs where this process, or the machine, may have limited what was measured. */
export function fanoutBenchNote(runs: readonly FanoutRun[]): string {
  const notes: string[] = [];
  for (const { label, result: r } of runs) {
    const loop = `${(r.benchEventLoopUtilization * 100).toFixed(0)}%`;
    const cpu = `${r.benchCpuPercent.toFixed(0)}%`;
    const idle = r.machineIdlePercent;
    const cores = os.cpus().length;
    const others = idle === null ? Number.NaN : cores * (100 - idle) - r.serverCpuPercent - r.benchCpuPercent;
    const machine =
      idle !== null && idle < MACHINE_BUSY_PERCENT
        ? ` The machine's ${cores} cores were ${(100 - idle).toFixed(0)}% busy: the server used ${r.serverCpuPercent.toFixed(0)}% ` +
          `of a core, this process ${cpu}, and other processes about ${Math.max(0, others).toFixed(0)}%, so the server's ` +
          'threads may have waited for a core.'
        : '';
    if (r.benchEventLoopUtilization >= BENCH_SATURATED) {
      notes.push(
        `**This process was saturated** in "${label}": its event loop was busy ${loop} of the measured load (${cpu} of a core ` +
          `with its helper threads) and its webhooks left up to ${formatMs(r.senderLagMaxMs)} behind their schedule. What it ` +
          `measured then includes its own delays: reading the streams is part of the delay figures.${machine}`,
      );
    } else if (r.senderLagP99Ms >= SENDER_LATE_MS) {
      notes.push(
        `**This process was held up** in "${label}": its webhooks left up to ${formatMs(r.senderLagMaxMs)} behind their schedule ` +
          `(p99 ${formatMs(r.senderLagP99Ms)}) although its event loop was busy only ${loop} of the measured load (${cpu} of a core): ` +
          `${
            r.subscribers > 0
              ? 'it stalls in bursts (a turn of its loop reading many streams at once, or a garbage collection) or waits for a core'
              : 'it waits for a core, or pauses for a garbage collection'
          }${machine === '' && idle !== null ? ` (the machine was ${idle.toFixed(0)}% idle)` : ''}. The webhooks still left at the ` +
          `rate asked for on average${r.subscribers > 0 ? '; delays measured at the subscribers include up to that much of this process' : ''}.${machine}`,
      );
    } else if (machine !== '') notes.push(`In "${label}":${machine}`);
  }
  return notes.length === 0 ? '' : `\n\n${notes.join('\n\n')}`;
}

/** Part 1: the subscribers' run against the same paced load without them, on one store. */
export function fanoutTable(
  alone: FanoutRun,
  withSubscribers: FanoutRun,
  drainSeconds: number,
): { markdown: string; passed: boolean } {
  const a = alone.result;
  const w = withSubscribers.result;
  const delayOk = w.delay.p99Ms <= FANOUT_DELAY_P99_TARGET_MS;
  const onceOk = fanoutDeliveredOnce(w);
  const ratio = w.ackedPerSecond / a.ackedPerSecond;
  const ratioOk = ratio >= FANOUT_INGEST_RATIO_TARGET;
  const growth = w.rss.lastThirdHighestMiB - w.rss.firstThirdHighestMiB;
  const allowance = fanoutRssAllowanceMiB(w.rss.firstThirdHighestMiB);
  const longEnough = w.seconds >= FANOUT_RSS_MIN_SECONDS;
  const rssOk = longEnough && growth <= allowance;
  const lines = [
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| delay from a webhook's 200 to its event at a subscriber: p99 ≤ ${FANOUT_DELAY_P99_TARGET_MS} ms | ${w.ok === 0 && w.delay.all.samples > 0 ? `none: no webhook of the measured part was acknowledged (${w.unanswered.toLocaleString('en-US')} given up unanswered); the ${w.acknowledged.toLocaleString('en-US')} acknowledged, from the warm-up, reached the subscribers p50 ${formatMs(w.delay.all.p50Ms)}, p99 ${formatMs(w.delay.all.p99Ms)}, max ${formatMs(w.delay.all.maxMs)} after their 200` : `p50 ${formatMs(w.delay.p50Ms)}, p99 ${formatMs(w.delay.p99Ms)}, max ${formatMs(w.delay.maxMs)} over ${w.delay.samples.toLocaleString('en-US')} deliveries`}${w.delay.beforeAck > 0 ? ` (${w.delay.beforeAck.toLocaleString('en-US')} read before their 200, by up to ${formatMs(w.delay.earliestBeforeAckMs)}, counted as 0 ms)` : ''} | ${passFail(delayOk)} |`,
    `| every subscriber gets every acknowledged message exactly once, in increasing position order | ${deliveryText(w, drainSeconds)} | ${passFail(onceOk)} |`,
    `| webhooks acknowledged/s with the subscribers ≥ ${FANOUT_INGEST_RATIO_TARGET.toFixed(2)}× without | ${ratioText(ratio)} (${rate(w.ackedPerSecond)} against ${rate(a.ackedPerSecond)}, ${rate(w.rate)} offered; p99 ${formatMs(w.webhookP99Ms)} against ${formatMs(a.webhookP99Ms)}) | ${passFail(ratioOk)} |`,
    `| server RSS flat: the highest RSS sampled (every 250 ms) in the last third of the measured load ≤ the highest in its first third + ${FANOUT_RSS_GROWTH_SHARE * 100}% (a load of ${FANOUT_RSS_MIN_SECONDS} s at least) | ${longEnough ? '' : `not judged: ${w.seconds.toFixed(0)} s measured; `}first third ${mib(w.rss.firstThirdHighestMiB)}, last third ${mib(w.rss.lastThirdHighestMiB)} (${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MiB, allowed ${allowance.toFixed(0)} MiB); start ${mib(w.rss.startMiB)}, highest ${mib(w.rss.highestMiB)}, end ${mib(w.rss.endMiB)}; without subscribers: start ${mib(a.rss.startMiB)}, highest ${mib(a.rss.highestMiB)} | ${passFail(rssOk)} |`,
  ];
  const runs = [alone, withSubscribers];
  return {
    markdown: `${lines.join('\n')}\n\nBoth runs:\n\n${fanoutDetail(runs)}${fanoutBenchNote(runs)}`,
    passed: delayOk && onceOk && ratioOk && rssOk,
  };
}

/** Part 2: subscribers spread over replicas on one PostgreSQL database. */
export function fanoutReplicaTable(run: FanoutRun, drainSeconds: number): { markdown: string; passed: boolean } {
  const r = run.result;
  const onceOk = fanoutDeliveredOnce(r);
  const lines = [
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| every subscriber, on either replica, gets every acknowledged message exactly once, in increasing position order | ${deliveryText(r, drainSeconds)} | ${passFail(onceOk)} |`,
    `| delay from a webhook's 200 to its event, whichever replica took it | p50 ${formatMs(r.delay.p50Ms)}, p99 ${formatMs(r.delay.p99Ms)}, max ${formatMs(r.delay.maxMs)} over ${r.delay.samples.toLocaleString('en-US')} deliveries${
      r.delay.sameServer !== undefined && r.delay.otherServers !== undefined
        ? `; taken by the subscriber's own replica p50 ${formatMs(r.delay.sameServer.p50Ms)}, p99 ${formatMs(r.delay.sameServer.p99Ms)}; by the other p50 ${formatMs(r.delay.otherServers.p50Ms)}, p99 ${formatMs(r.delay.otherServers.p99Ms)}`
        : ''
    }${r.delay.beforeAck > 0 ? ` (${r.delay.beforeAck.toLocaleString('en-US')} read before their 200, by up to ${formatMs(r.delay.earliestBeforeAckMs)}, counted as 0 ms)` : ''} | reported |`,
  ];
  return {
    markdown: `${lines.join('\n')}\n\n${fanoutDetail([run])}${fanoutBenchNote([run])}`,
    passed: onceOk,
  };
}

export function environmentSection(
  machine: Machine,
  options: Readonly<Record<string, string | number | boolean>>,
  command: string,
): string {
  const serviceEnv = [
    'BATCH_MAX_SIZE',
    'BATCH_MAX_WAIT_MS',
    'LOG_LEVEL',
    'READ_WORKERS',
    'READ_TIMEOUT_MS',
    'MAX_EVENT_LOOP_DELAY_MS',
    'REQUEST_TIMEOUT_MS',
    'HEADERS_TIMEOUT_MS',
    'MAX_INFLIGHT_BODY_BYTES',
  ]
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${process.env[name]}`);
  return [
    `- date: ${machine.date}`,
    `- CPU: ${machine.cpu}, ${machine.cores} cores; memory ${machine.memoryGiB.toFixed(1)} GiB; ${machine.os}`,
    `- Node ${machine.node}; load average when the run started: ${machine.loadAverage} (a shared machine: ratios matter more than absolute numbers)`,
    `- options: ${Object.entries(options)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `- service environment: ${serviceEnv.length > 0 ? serviceEnv.join(', ') : 'defaults'} (LOG_LEVEL default INFO: one log line per request, to a file)`,
    `- reproduce: \`${command}\``,
  ].join('\n');
}

/**
 * Pads every Markdown table to aligned columns, the way the repository's formatter (biome, which
 * checks bench/) writes them, so a freshly written RESULTS.md passes `npm run lint` as it is.
 */
export function alignTables(markdown: string): string {
  const lines = markdown.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    if (!lines[i]?.startsWith('|')) {
      out.push(lines[i] ?? '');
      i++;
      continue;
    }
    const block: string[][] = [];
    while (i < lines.length && lines[i]?.startsWith('|')) {
      // Cells split on pipes that are not escaped; the leading and trailing pipes leave empty ends.
      block.push(
        (lines[i] ?? '')
          .split(/(?<!\\)\|/)
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
      i++;
    }
    const right = (block[1] ?? []).map((cell) => cell.endsWith(':'));
    const width = (cell: string): number => Array.from(cell).length;
    const columns = Math.max(...block.map((row) => row.length));
    const widths = Array.from({ length: columns }, (_v, c) =>
      Math.max(3, ...block.filter((_row, r) => r !== 1).map((row) => width(row[c] ?? ''))),
    );
    block.forEach((row, r) => {
      const cells = widths.map((w, c) => {
        if (r === 1) return right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w);
        const cell = row[c] ?? '';
        const pad = ' '.repeat(w - width(cell));
        return right[c] ? `${pad}${cell}` : `${cell}${pad}`;
      });
      out.push(`| ${cells.join(' | ')} |`);
    });
  }
  return out.join('\n');
}

/** The export part of the lifecycle phase: NDJSON (judged) and CSV from one server. */
export interface LifecycleExport {
  readonly expectedRows: number;
  readonly ndjson: ExportRun;
  readonly csv: ExportRun;
  readonly ndjsonCheck: NdjsonCheck;
  readonly csvCheck: CsvCheck;
  readonly stopOk: boolean;
}

/** The backup part: the command while webhooks arrive. */
export interface LifecycleBackup {
  readonly result: BackupResult;
  readonly stopOk: boolean;
}

/** The retention part: webhooks alone on one copy, then during the purge on another. */
export interface LifecycleRetention extends RetentionRun {
  readonly database: RetentionDatabase;
  readonly aloneErrors: number;
  readonly stopOk: boolean;
}

export interface LifecycleTable {
  readonly markdown: string;
  readonly passed: boolean;
  /** No wrong answer, lost row or unclean stop (a missed speed target is not one). */
  readonly clean: boolean;
}

const count = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const seconds = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(1)} s` : 'n/a');
const plusMiB = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(0)} MiB` : 'n/a');
/** At most `n` values of a series, evenly spread, the last one included. */
const thin = (values: readonly number[], n: number): number[] =>
  values.length <= n
    ? [...values]
    : Array.from({ length: n }, (_v, i) => values[Math.round(((i + 1) * (values.length - 1)) / n)] ?? Number.NaN);

function exportRunText(r: ExportRun, unit: string): string {
  const problems = [
    r.status !== 200 ? `answered ${r.status}` : '',
    r.complete ? '' : `cut short${r.error === null ? '' : ` (${r.error})`}`,
  ].filter((p) => p !== '');
  return (
    `${rate(r.rowsPerSecond)} rows/s: ${count(r.rows)} ${unit} (${mib(r.bytes / 1024 / 1024)}) in ${seconds(r.seconds)}` +
    (problems.length > 0 ? `, **${problems.join(', ')}**` : '')
  );
}

export function lifecycleExportTable(e: LifecycleExport): LifecycleTable {
  const { ndjson, csv, ndjsonCheck: n, csvCheck: c } = e;
  const ndjsonWhole =
    ndjson.status === 200 && ndjson.complete && ndjson.rows === e.expectedRows && n.lines === e.expectedRows && n.bad === 0;
  const ndjsonRight = ndjsonWhole && n.distinctIds === n.lines && n.outOfOrder === 0;
  const csvRight =
    csv.status === 200 &&
    csv.complete &&
    csv.rows === e.expectedRows &&
    c.records === e.expectedRows &&
    c.headerOk &&
    c.bad === 0 &&
    c.error === null;
  const rateOk = ndjson.rowsPerSecond >= EXPORT_RATE_TARGET && ndjsonWhole;
  const growth = ndjson.rss.highestMiB - ndjson.rss.idleMiB;
  const rssOk = growth <= EXPORT_RSS_TARGET_MIB;
  const check =
    `${count(n.lines)} lines of ${count(e.expectedRows)} messages; ${n.bad === 0 ? 'every line parses' : `**${count(n.bad)} lines do not parse** (${n.firstBad ?? ''})`}, ` +
    `${count(n.distinctIds)} distinct message_ids, ${n.outOfOrder === 0 ? 'oldest first' : `**${count(n.outOfOrder)} lines before the one above**`}`;
  const csvCheck =
    `parsed back: ${count(c.records)} records${c.headerOk ? ' under the header' : ', **header wrong**'}` +
    `${c.bad > 0 ? `, **${count(c.bad)} without 8 fields**` : ', 8 fields each'}${c.error === null ? '' : `, **${c.error}**`}`;
  const lines = [
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| NDJSON export of every message through HTTP ≥ ${count(EXPORT_RATE_TARGET)} rows/s | ${exportRunText(ndjson, 'lines')}; ${check} | ${passFail(rateOk)}${ndjsonRight ? '' : ' (wrong export!)'} |`,
    `| server RSS during the NDJSON export (sampled every 250 ms) − at rest before it ≤ ${EXPORT_RSS_TARGET_MIB} MiB | at rest ${mib(ndjson.rss.idleMiB)}, highest ${mib(ndjson.rss.highestMiB)} (${plusMiB(growth)}), at the end ${mib(ndjson.rss.endMiB)} | ${passFail(rssOk)} |`,
    `| CSV export of every message (no target) | ${exportRunText(csv, 'records')}; ${csvCheck}; RSS at rest ${mib(csv.rss.idleMiB)}, highest ${mib(csv.rss.highestMiB)} (${plusMiB(csv.rss.highestMiB - csv.rss.idleMiB)}) | ${csvRight ? '—' : '**FAIL** (wrong export)'} |`,
  ];
  const detail =
    `Server CPU during the NDJSON export ${ndjson.serverCpuPercent.toFixed(0)}% of a core (event loop ${ndjson.eventLoopCpuPercent.toFixed(0)}%), ` +
    `during the CSV export ${csv.serverCpuPercent.toFixed(0)}% (event loop ${csv.eventLoopCpuPercent.toFixed(0)}%). ` +
    `Server RSS during the NDJSON export (MiB, spread over it): ${thin(ndjson.rss.timeline, 20).join(' ')}; during the CSV export: ${thin(csv.rss.timeline, 20).join(' ')}.` +
    (e.stopOk ? '' : ' **The server did not stop cleanly on SIGTERM.**');
  return {
    markdown: `${lines.join('\n')}\n\n${detail}`,
    passed: rateOk && rssOk && ndjsonRight && csvRight,
    clean: ndjsonRight && csvRight && e.stopOk,
  };
}

export function lifecycleImportTable(r: ImportResult, expectedRows: number): LifecycleTable {
  const ran = r.run.code === 0;
  const whole = ran && r.added === expectedRows && r.skipped === 0;
  const sameOk = whole && r.statsEqual && r.samplesEqual === r.samplesChecked;
  const rateOk = whole && r.rowsPerSecond >= IMPORT_RATE_TARGET;
  const failure = ran ? '' : `; **exit ${r.run.code ?? r.run.signal}: ${r.run.stderr.trim().slice(0, 300)}**`;
  const lines = [
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| \`webhook-inbox import\` of that NDJSON into an empty database ≥ ${count(IMPORT_RATE_TARGET)} rows/s | ${rate(r.rowsPerSecond)} rows/s: ${count(r.added)} added, ${count(r.skipped)} skipped in ${seconds(r.run.seconds)} (the command from its start to its exit; ${r.run.cpuSeconds.toFixed(0)} s of CPU over its threads)${failure} | ${passFail(rateOk)} |`,
    `| the imported database holds what was exported | ${r.statsEqual ? '/stats equal' : `**/stats differ**: ${r.statsDifference ?? ''}`} (total, senders, first and last ts, top senders); ${r.samplesEqual} of ${r.samplesChecked} messages spread over the export read back exactly as their lines${r.firstSampleDifference === null ? '' : ` (**${r.firstSampleDifference.slice(0, 300)}**)`} | ${passFail(sameOk)} |`,
  ];
  return { markdown: lines.join('\n'), passed: rateOk && sameOk, clean: sameOk };
}

const windowText = (w: WebhookWindow): string =>
  `p50 ${formatMs(w.p50Ms)}, p99 ${formatMs(w.p99Ms)}, max ${formatMs(w.maxMs)}, ${rate(w.okPerSecond)} acknowledged/s over ${seconds(w.seconds)} (${statusText(w.statusCounts)})`;

export function lifecycleBackupTable(b: LifecycleBackup): LifecycleTable {
  const r = b.result;
  const ran = r.run.code === 0;
  const integrityOk = ran && r.reportedOk && r.integrity === 'ok';
  const heldOk = ran && r.missing === 0 && r.copyRows >= r.rowsBefore + r.acknowledgedBefore;
  const failure = ran ? '' : `; **exit ${r.run.code ?? r.run.signal}: ${r.run.stderr.trim().slice(0, 300)}**`;
  const lines = [
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| \`webhook-inbox backup --output F\` of the live database (reported) | ${seconds(r.run.seconds)} from the command's start to its exit (its own integrity_check included), a copy of ${mib(r.copyBytes / 1024 / 1024)}${failure} | — |`,
    `| the copy passes PRAGMA integrity_check | the command: ${r.reportedOk ? 'ok' : '**not ok**'}; run again here on the copy: ${r.integrity === 'ok' ? 'ok' : `**${r.integrity.slice(0, 200)}**`} | ${passFail(integrityOk)} |`,
    `| the copy holds every message acknowledged before the backup began | ${count(r.acknowledgedBefore - r.missing)} of the ${count(r.acknowledgedBefore)} webhooks answered 200 before the command started${r.firstMissing === null ? '' : ` (**missing, e.g. ${r.firstMissing}**)`}; the copy holds ${count(r.copyRows)} messages (${count(r.rowsBefore)} before the load) | ${passFail(heldOk)} |`,
    `| webhook p99 during the backup against before it (reported) | ${ratioText(r.during.p99Ms / r.before.p99Ms)}: during ${windowText(r.during)}; before ${windowText(r.before)}${r.errors > 0 ? `; ${r.errors} connection errors or timeouts` : ''} | — |`,
  ];
  return {
    markdown: lines.join('\n'),
    passed: integrityOk && heldOk,
    clean:
      integrityOk &&
      heldOk &&
      b.stopOk &&
      nonOk2xx(r.before.statusCounts) + nonOk2xx(r.during.statusCounts) === 0 &&
      r.errors === 0,
  };
}

const nonOk2xx = (counts: Readonly<Record<string, number>>): number => nonOk(counts, is2xx);

export function lifecycleRetentionTable(t: LifecycleRetention): LifecycleTable {
  const { database: d, pass, during, after } = t;
  const finished = pass !== null && pass.outcome === 'done' && during !== null;
  const measured = finished && during.ok > 0;
  const ratio = during === null ? Number.NaN : during.p99Ms / t.alone.p99Ms;
  const p99Ok = measured && ratio <= PURGE_P99_RATIO_TARGET;
  const exactOk =
    finished &&
    pass.messages === d.old &&
    t.oldLeft === 0 &&
    t.recentKept === d.rows - d.old &&
    t.statsTotal === t.expectedTotal &&
    t.webhooksStored >= t.acknowledged;
  const purgeSeconds = pass === null ? Number.NaN : pass.durationMs / 1000;
  const lines = [
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| webhook p99 during the purge ≤ ${PURGE_P99_RATIO_TARGET}× without it | ${
      !finished
        ? `**the purge did not finish** (${pass === null ? 'no retention pass logged' : `outcome ${pass.outcome}`})`
        : !measured
          ? `not measured: the pass took ${seconds(pass.durationMs / 1000)} and was over before the load's warm-up was (a larger --messages gives it time)`
          : `${ratioText(ratio)}: during ${windowText(during)}${during.seconds < purgeSeconds - 1 ? ` (the pass's first ${seconds(during.seconds)} of ${seconds(purgeSeconds)})` : ''}; without (as long, on a copy without RETENTION_DAYS) ${windowText(t.alone)}`
    } | ${finished && !measured ? '**not measured**' : passFail(p99Ok)} |`,
    `| exactly the old rows went | ${
      pass === null
        ? 'n/a'
        : `the pass removed ${count(pass.messages)} messages (${count(d.old)} were received before the cutoff ${pass.before}), ${count(pass.statuses)} statuses, ${count(pass.deadLetters)} dead letters`
    }; in the file afterwards: ${count(t.oldLeft)} received before the cutoff, ${count(t.recentKept)} of the ${count(d.rows - d.old)} recent rows kept, ${count(t.webhooksStored)} webhooks stored (${count(t.acknowledged)} acknowledged); /stats total ${count(t.statsTotal)}, expected ${count(d.rows - d.old)} + ${count(t.webhooksStored)} = ${count(t.expectedTotal)} | ${passFail(exactOk)} |`,
    `| the purge's rate and duration (reported) | ${pass === null ? 'n/a' : `${rate(pass.messages / purgeSeconds)} messages/s: ${count(pass.messages)} in ${seconds(purgeSeconds)}, ${count(pass.batches)} batches`} | — |`,
    `| webhooks after the purge, same server (reported) | ${after === null ? (finished ? 'not measured: the pass outlasted the window, and the load stopped with it' : 'n/a') : windowText(after)} | — |`,
  ];
  const nonOkCount = nonOk2xx(t.alone.statusCounts) + (during === null ? 0 : nonOk2xx(during.statusCounts));
  return {
    markdown: lines.join('\n'),
    passed: p99Ok && exactOk,
    clean: exactOk && t.stopOk && nonOkCount === 0 && t.errors + t.aloneErrors === 0,
  };
}
