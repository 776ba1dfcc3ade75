// Running the command line the way users do: `node bin/webhook-inbox.js …` as a real process (the
// launcher that `npx webhook-inbox` runs), with only the environment a test gives it.

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT, waitFor } from '../helpers/server.js';

export const BIN = path.join(PROJECT_ROOT, 'bin', 'webhook-inbox.js');

export interface CliOptions {
  readonly env?: Record<string, string>;
  /** Working directory (default: the repository root). */
  readonly cwd?: string;
  /** Written to standard input, which is then closed (default: nothing, closed at once). */
  readonly input?: string | Buffer;
  readonly timeoutMs?: number;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Only what node needs, then `env`: the developer's own DATABASE_URL, secrets or tokens stay out. */
export function cleanEnv(env: Record<string, string> = {}): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache']) {
    const value = process.env[key];
    if (value !== undefined) kept[key] = value;
  }
  return { ...kept, ...env };
}

/** Runs one command to its end; fails the test when it outlives `timeoutMs`. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: cleanEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {}); // a command that never reads its input
  child.stdin.end(options.input);
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`webhook-inbox ${args.join(' ')} still ran after ${timeoutMs} ms:\n${Buffer.concat(stderr).toString()}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}

/** The lines of a text, without the empty one after its final newline. */
export function linesOf(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** A command that keeps running (tail): its output as it comes, and a way to signal and await it. */
export interface RunningCli {
  readonly child: ChildProcess;
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until stdout has at least `count` lines. */
  waitForLines(count: number, timeoutMs?: number): Promise<string[]>;
  /** SIGKILLs it if it still runs; safe to call twice. */
  cleanup(): Promise<void>;
}

export function startCli(args: readonly string[], options: Omit<CliOptions, 'input' | 'timeoutMs'> = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdoutLines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => stderrLines.push(line));
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  return {
    child,
    stdoutLines,
    stderrLines,
    exited,
    waitForLines: (count, timeoutMs = 30_000) =>
      waitFor(
        `${count} lines from webhook-inbox ${args.join(' ')} (stderr: ${stderrLines.join(' | ')})`,
        () => stdoutLines.length >= count && stdoutLines,
        timeoutMs,
      ),
    async cleanup() {
      if (running) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The one line a failed command writes on stderr, checked to be exactly one and to start with the
 * command's name ('' for the program itself).
 */
export function errorLine(result: CliResult, command: string): string {
  const lines = linesOf(result.stderr);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${result.stderr}`);
  const [line = ''] = lines;
  const prefix = command === '' ? 'webhook-inbox: ' : `webhook-inbox ${command}: `;
  if (!line.startsWith(prefix)) throw new Error(`the error line does not name the command: ${line}`);
  return line;
}
