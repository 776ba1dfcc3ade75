// The benchmark's Markdown: the ingest and read tables with pass/fail against the issue's targets,
// and the machine and options they were measured with.

import os from 'node:os';
import type { ReadResult } from './reads.js';
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

export function environmentSection(
  machine: Machine,
  options: Readonly<Record<string, string | number | boolean>>,
  command: string,
): string {
  const serviceEnv = ['BATCH_MAX_SIZE', 'BATCH_MAX_WAIT_MS', 'LOG_LEVEL']
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
