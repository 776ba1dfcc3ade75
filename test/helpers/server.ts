// Starts the real service the way users do (`npm start`) on loopback with PORT=0, reads its
// stdout as the log stream, and stops it by pid. The one launcher: the benchmarks (bench/server.ts)
// start their servers with it too, their stdout going to a file.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningServer {
  readonly baseUrl: string;
  readonly port: number;
  /** pid of the node process serving (not of npm in front of it). */
  readonly pid: number;
  /** Every stdout line so far, raw: the lines kept in memory, or read back from `output`'s file. */
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  /**
   * Resolves with the exit code of `npm start` (the server's own code; npm passes it on), once
   * the process has exited and its output has been read to the end.
   */
  readonly exited: Promise<number | null>;
  /** Signals the serving node process itself. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILLs the whole process group if anything is still running; safe to call twice. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  readonly env: Record<string, string>;
  readonly cwd?: string;
  /**
   * 'clean' (default): only what npm and node need, under `env`, so the developer's variables cannot
   * leak in. 'inherit': all of this process's environment under `env` (the benchmarks').
   */
  readonly baseEnv?: 'clean' | 'inherit';
  /**
   * 'npm' (default): `npm start --prefix PROJECT_ROOT`, the way a developer starts it. npm runs the
   * script in PROJECT_ROOT whatever `cwd` is, so the server's working directory is PROJECT_ROOT.
   * 'node': `node dist/server.js` (built by global-setup.ts) run in `cwd`, the way the container starts it;
   * use it when the working directory matters (relative DATABASE_URL paths).
   */
  readonly runner?: 'npm' | 'node';
  /**
   * 'log' (default): wait for the "webhook-inbox started" line, which carries the port and pid.
   * 'probe': pick a free port and poll GET /health/live, for a LOG_LEVEL that hides that line.
   */
  readonly readiness?: 'log' | 'probe';
  /** How long to wait for the server to start (default 90 s: the first npm start compiles). */
  readonly startTimeoutMs?: number;
  /**
   * Where stdout and stderr go: kept in memory (default), or written by the server straight to
   * these files, which keeps a busy server's log (a line a request) off this process and its pipes.
   */
  readonly output?: { readonly stdoutPath: string; readonly stderrPath: string };
  /** Aborting it while the server starts kills the process group at once and rejects the start. */
  readonly signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns something other than undefined/false, or throws after
 * `timeoutMs` with `what` in the message. Tests wait on conditions this way, never on fixed sleeps.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Parses log lines; a line that is not a JSON object fails with the line in the message. */
export function jsonLines(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`stdout line is not JSON: ${line}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`stdout line is not a JSON object: ${line}`);
    }
    return parsed as Record<string, unknown>;
  });
}

function baseEnv(base: StartOptions['baseEnv']): Record<string, string> {
  const keep = base === 'inherit' ? Object.keys(process.env) : ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache'];
  const env: Record<string, string> = {};
  for (const key of keep) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Linux: the pid of the `node …/dist/server.js` process in a process group, read from /proc. */
function findServerPid(groupPid: number): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces: state ppid pgrp …
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== groupPid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((arg) => arg.endsWith(path.join('dist', 'server.js'))) && !argv.some((arg) => arg === 'sh' || arg === '-c')) {
        return Number(entry);
      }
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

interface Spawned {
  /** pid of what was spawned (npm, or node itself), which leads its own process group. */
  groupPid: number | undefined;
  /** The output so far, as lines. */
  stdout(): string[];
  stderr(): string[];
  /** 'close', not 'exit': resolves only after stdout and stderr have been read to the end. */
  closed: Promise<number | null>;
}

/** The lines of a file a process is writing; the last may be partial. */
function fileLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

function spawnServer(options: StartOptions, extraEnv: Record<string, string> = {}): Spawned {
  const env = { ...baseEnv(options.baseEnv), HOST: '127.0.0.1', PORT: '0', ...options.env, ...extraEnv };
  const [command, args, cwd] =
    options.runner === 'node'
      ? [process.execPath, [path.join(PROJECT_ROOT, 'dist', 'server.js')], options.cwd ?? PROJECT_ROOT]
      : ['npm', ['start', '--silent', '--prefix', PROJECT_ROOT], options.cwd ?? PROJECT_ROOT];
  const files = options.output && [openSync(options.output.stdoutPath, 'w'), openSync(options.output.stderrPath, 'w')];
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd,
      env,
      stdio: ['ignore', files?.[0] ?? 'pipe', files?.[1] ?? 'pipe'],
      detached: true, // its own process group, so cleanup can stop npm, sh and node together
    });
  } finally {
    for (const fd of files ?? []) closeSync(fd);
  }
  const closed = new Promise<number | null>((resolve) => {
    child.on('close', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  if (options.output) {
    const { stdoutPath, stderrPath } = options.output;
    return { groupPid: child.pid, stdout: () => fileLines(stdoutPath), stderr: () => fileLines(stderrPath), closed };
  }
  const stdout: string[] = [];
  const stderr: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  return { groupPid: child.pid, stdout: () => stdout, stderr: () => stderr, closed };
}

function killGroup(groupPid: number): void {
  try {
    process.kill(-groupPid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  options.signal?.throwIfAborted();
  const probePort = options.readiness === 'probe' ? await freePort() : undefined;
  const output = spawnServer(options, probePort === undefined ? {} : { PORT: String(probePort) });
  const { groupPid, closed } = output;
  if (groupPid === undefined) throw new Error('the server process did not spawn');
  let running = true;
  void closed.then(() => {
    running = false;
  });
  // At once, not at the next poll: whoever aborts may be about to exit.
  const abort = (): void => killGroup(groupPid);
  options.signal?.addEventListener('abort', abort, { once: true });

  const startLine = (): { port: number; pid: number } | undefined => {
    for (const line of output.stdout()) {
      try {
        const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown; pid?: unknown };
        if (parsed.msg === 'webhook-inbox started' && typeof parsed.port === 'number' && typeof parsed.pid === 'number') {
          return { port: parsed.port, pid: parsed.pid };
        }
      } catch {
        // not JSON (or a line still being written): the tests that read the log will say so
      }
    }
    return undefined;
  };
  const live = async (port: number): Promise<{ port: number; pid: number } | undefined> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health/live`);
      await response.arrayBuffer();
      if (response.status !== 200) return undefined;
    } catch {
      return undefined; // not listening yet
    }
    const pid = options.runner === 'node' ? groupPid : findServerPid(groupPid);
    if (pid === undefined) throw new Error('the server answers but its node process was not found in /proc');
    return { port, pid };
  };

  let started: { port: number; pid: number };
  try {
    started = await waitFor(
      'the server to start',
      () => {
        options.signal?.throwIfAborted();
        if (!running) throw new Error('the server exited before starting');
        return probePort === undefined ? startLine() : live(probePort);
      },
      options.startTimeoutMs ?? 90_000,
    );
  } catch (error) {
    killGroup(groupPid);
    await closed;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${reason}:\n${output.stdout().join('\n')}\n${output.stderr().join('\n')}`, { cause: error });
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }

  return {
    baseUrl: `http://127.0.0.1:${started.port}`,
    port: started.port,
    pid: started.pid,
    get stdout() {
      return output.stdout();
    },
    get stderr() {
      return output.stderr();
    },
    exited: closed,
    signal(signal) {
      process.kill(started.pid, signal);
    },
    async cleanup() {
      if (running) killGroup(groupPid);
      await closed;
    },
  };
}

/** Runs the server expecting it to exit without serving (bad configuration); returns its exit code and output. */
export async function runToExit(
  options: StartOptions & { readonly timeoutMs?: number },
): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const { groupPid, stdout, stderr, closed } = spawnServer(options);
  const timeoutMs = options.timeoutMs ?? 90_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const result = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') {
    if (groupPid !== undefined) killGroup(groupPid);
    await closed;
    throw new Error(`the server was still running after ${timeoutMs} ms:\n${stdout().join('\n')}\n${stderr().join('\n')}`);
  }
  return { code: result, stdout: stdout(), stderr: stderr() };
}
