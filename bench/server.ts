// Starts the real service for a benchmark with the e2e tier's launcher (test/helpers/server.ts):
// `npm start` on 127.0.0.1 with an ephemeral port and stdout in a log file; measures the serving
// process from /proc; stops it by pid.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningServer as LaunchedServer, startServer as launch } from '../test/helpers/server.js';

export interface ServerOptions {
  readonly databaseUrl: string;
  /** Tells servers of one run apart (log file names; replicas later). */
  readonly index: number;
  readonly secret: string;
  /** Where the log files go. */
  readonly workDir: string;
  /** Extra variables for the service, over the bench's own environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
}

export interface StopResult {
  /** Exit code of `npm start`, which is the server's own; null if it had to be killed. */
  readonly exitCode: number | null;
  /** Exited by itself within the grace period after SIGTERM. */
  readonly graceful: boolean;
  readonly ms: number;
}

export interface RunningServer {
  readonly index: number;
  readonly databaseUrl: string;
  readonly baseUrl: string;
  readonly port: number;
  /** The node process serving (from its "webhook-inbox started" line), not npm in front of it. */
  readonly pid: number;
  readonly logPath: string;
  /** SIGTERM to the server's pid, then waits for it (and npm) to exit; SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<StopResult>;
}

const running = new Set<RunningServer>();
/** Servers being started, whose serving pid is not known yet. */
const starting = new Set<AbortController>();

/** Stops every server still running or starting; for error paths and signals. */
export async function stopAll(): Promise<void> {
  for (const start of starting) start.abort();
  await Promise.all([...running].map((server) => server.stop(5000)));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logPath = path.join(options.workDir, `server-${options.index}.log`);
  const start = new AbortController();
  starting.add(start);
  let launched: LaunchedServer;
  try {
    launched = await launch({
      // The bench's own environment goes through: a benchmark runs the service as the shell would.
      baseEnv: 'inherit',
      env: {
        ...options.env,
        DATABASE_URL: options.databaseUrl,
        // The throughput ceiling runs the no-op store, which the service refuses unless asked by name.
        ...(options.databaseUrl === 'noop://' ? { ALLOW_NOOP_DATABASE: '1' } : {}),
        WEBHOOK_SECRET: options.secret,
      },
      output: { stdoutPath: logPath, stderrPath: path.join(options.workDir, `server-${options.index}.err`) },
      startTimeoutMs: options.startTimeoutMs ?? 120_000,
      signal: start.signal,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`server ${options.index} (${options.databaseUrl}): ${reason}`, { cause: error });
  } finally {
    starting.delete(start);
  }

  const { pid } = launched;
  let stopped: Promise<StopResult> | null = null;
  const server: RunningServer = {
    index: options.index,
    databaseUrl: options.databaseUrl,
    baseUrl: launched.baseUrl,
    port: launched.port,
    pid,
    logPath,
    stop(graceMs = 20_000) {
      stopped ??= (async (): Promise<StopResult> => {
        const begin = performance.now();
        if (alive(pid)) launched.signal('SIGTERM');
        const exitCode = await Promise.race([launched.exited, sleep(graceMs, 'timeout' as const)]);
        let graceful = exitCode !== 'timeout';
        // Only the processes the launcher started: its process group (npm and the server).
        if (!graceful) await launched.cleanup();
        // npm has exited; the server it ran must be gone too.
        for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
        if (alive(pid)) {
          graceful = false;
          process.kill(pid, 'SIGKILL');
        }
        running.delete(server);
        return { exitCode: graceful && exitCode !== 'timeout' ? exitCode : null, graceful, ms: performance.now() - begin };
      })();
      return stopped;
    },
  };
  running.add(server);
  return server;
}

/** Resident memory of a process from /proc, in KiB: current (VmRSS) and peak (VmHWM). Linux only. */
export function readMemory(pid: number): { rssKiB: number; hwmKiB: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

export interface RssSampler {
  /** Stops sampling; peak is the larger of the sampled maximum and VmHWM. */
  stop(): { peakKiB: number; samples: number[] };
}

/** Samples VmRSS every `intervalMs`. */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  const samples: number[] = [];
  const take = (): void => {
    const memory = readMemory(pid);
    if (memory !== null && Number.isFinite(memory.rssKiB)) samples.push(memory.rssKiB);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      const hwm = readMemory(pid)?.hwmKiB ?? 0;
      return { peakKiB: samples.reduce((max, v) => Math.max(max, v), hwm), samples };
    },
  };
}

/** CPU time a process (all its threads) has used, in seconds, from /proc/<pid>/stat; null if gone. Linux only. */
/** CPU seconds (user + system) of the process `pid`, all threads; null once it is gone. */
export function readCpuSeconds(pid: number): number | null {
  return cpuSecondsOf(`/proc/${pid}/stat`);
}

/** CPU seconds of the process's main thread alone: for a Node server, its event loop. */
export function readMainThreadCpuSeconds(pid: number): number | null {
  return cpuSecondsOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuSecondsOf(statPath: string): number | null {
  let stat: string;
  try {
    stat = readFileSync(statPath, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may contain spaces) start at the state, field 3;
  // utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / 100 : null;
}

/**
 * The machine's CPU time so far, in clock ticks over all cores: idle (idle + iowait) and the total
 * (steal included). Null where /proc/stat cannot be read.
 */
export function readMachineTicks(): { readonly idle: number; readonly total: number } | null {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  } catch {
    return null;
  }
  const ticks = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return null;
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { idle, total: ticks.reduce((sum, t) => sum + t, 0) };
}
