// Starts the real service for a benchmark the way users do (`npm start`), on 127.0.0.1 with an
// ephemeral port and stdout in a log file; measures its memory; stops it by pid.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

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
/** npm processes spawned whose server has not announced itself yet. */
const starting = new Set<number>();

/** Stops every server still running or starting; for error paths and signals. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop(5000)));
  await Promise.all([...starting].map((npmPid) => stopTree(npmPid)));
}

/** The processes descended from `root` (its children, theirs, …), deepest first, from /proc. Linux only. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const visit = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      visit(child);
      found.push(child);
    }
  };
  visit(root);
  return found;
}

/**
 * Stops an `npm start` that has not said which pid serves yet: SIGTERM to each process it started
 * (found by pid under it, deepest first) and to npm itself, SIGKILL to whatever is left after a grace.
 */
async function stopTree(npmPid: number, graceMs = 5000): Promise<void> {
  const pids = [...descendants(npmPid), npmPid];
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  starting.delete(npmPid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface StartedLine {
  readonly port: number;
  readonly pid: number;
}

function findStartedLine(log: string): StartedLine | null {
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue; // npm's own banner lines
    try {
      const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown; pid?: unknown };
      if (parsed.msg === 'webhook-inbox started' && typeof parsed.port === 'number' && typeof parsed.pid === 'number') {
        return { port: parsed.port, pid: parsed.pid };
      }
    } catch {
      // a partial line still being written
    }
  }
  return null;
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logPath = path.join(options.workDir, `server-${options.index}.log`);
  const errPath = path.join(options.workDir, `server-${options.index}.err`);
  const out = openSync(logPath, 'w');
  const err = openSync(errPath, 'w');
  let child: ChildProcess;
  try {
    child = spawn('npm', ['start'], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        ...options.env,
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: options.databaseUrl,
        // The throughput ceiling runs the no-op store, which the service refuses unless asked by name.
        ...(options.databaseUrl === 'noop://' ? { ALLOW_NOOP_DATABASE: '1' } : {}),
        WEBHOOK_SECRET: options.secret,
      },
      stdio: ['ignore', out, err],
      // Its own process group: a Ctrl-C in the terminal reaches the bench, which stops it by pid.
      detached: true,
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const npmPid = child.pid;
  if (npmPid === undefined) throw new Error('npm start did not spawn');
  starting.add(npmPid);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );

  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  let started: StartedLine | null = null;
  while (started === null) {
    started = findStartedLine(readFileSync(logPath, 'utf8'));
    if (started !== null) break;
    if (exitCode !== undefined || Date.now() > deadline) {
      await stopTree(npmPid);
      throw new Error(
        `server ${options.index} (${options.databaseUrl}) ${exitCode !== undefined ? `exited with ${exitCode}` : 'did not start in time'}:\n` +
          `${tail(logPath)}\n${tail(errPath)}`,
      );
    }
    await sleep(50);
  }

  starting.delete(npmPid);
  const { port, pid } = started;
  let stopped: Promise<StopResult> | null = null;
  const server: RunningServer = {
    index: options.index,
    databaseUrl: options.databaseUrl,
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    pid,
    logPath,
    stop(graceMs = 20_000) {
      stopped ??= (async (): Promise<StopResult> => {
        const begin = performance.now();
        if (alive(pid)) process.kill(pid, 'SIGTERM');
        const timedOut = Symbol('timeout');
        const result = await Promise.race([exited, sleep(graceMs).then(() => timedOut)]);
        let graceful = result !== timedOut;
        if (!graceful) {
          // Only the processes this function started, by pid: the server, then npm.
          if (alive(pid)) process.kill(pid, 'SIGKILL');
          if (alive(npmPid)) process.kill(npmPid, 'SIGKILL');
          await Promise.race([exited, sleep(5000)]);
        }
        // npm has exited; the server it ran must be gone too.
        for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
        if (alive(pid)) {
          graceful = false;
          process.kill(pid, 'SIGKILL');
        }
        running.delete(server);
        return { exitCode: graceful ? (exitCode ?? null) : null, graceful, ms: performance.now() - begin };
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
