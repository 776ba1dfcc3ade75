// Starts the real service the way users do (`npm start`) on loopback with PORT=0, reads its
// stdout as the log stream, and stops it by pid.

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningServer {
  readonly baseUrl: string;
  readonly port: number;
  /** pid of the node process serving (not of npm in front of it). */
  readonly pid: number;
  /** Every stdout line so far, raw. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the exit code of `npm start` (the server's own code; npm passes it on). */
  readonly exited: Promise<number | null>;
  /** Signals the serving node process itself. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILLs the whole process group if anything is still running; safe to call twice. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  readonly env: Record<string, string>;
  readonly cwd?: string;
  /** When false, resolves once the process exits instead of waiting for the "started" line. */
  readonly expectStart?: boolean;
}

function baseEnv(): Record<string, string> {
  // A clean environment: only what npm and node need, so the developer's variables cannot leak in.
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache'];
  const env: Record<string, string> = {};
  for (const key of keep) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export function startProcess(options: StartOptions): { child: ChildProcess; stdout: string[]; stderr: string[] } {
  const child = spawn('npm', ['start', '--silent', '--prefix', PROJECT_ROOT], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...baseEnv(), HOST: '127.0.0.1', PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so cleanup can stop npm, sh and node together
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  return { child, stdout, stderr };
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { child, stdout, stderr } = startProcess(options);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const groupPid = child.pid;
  if (groupPid === undefined) throw new Error('npm start did not spawn');

  const started = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setInterval(() => {
      for (const line of stdout) {
        try {
          const parsed = JSON.parse(line) as { msg?: string; port?: number; pid?: number };
          if (parsed.msg === 'webhook-inbox started' && parsed.port !== undefined && parsed.pid !== undefined) {
            clearInterval(timer);
            resolve({ port: parsed.port, pid: parsed.pid });
            return;
          }
        } catch {
          // not JSON: the tests that read the log will say so
        }
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`server exited with ${code} before starting:\n${stdout.join('\n')}\n${stderr.join('\n')}`));
    });
  });

  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  return {
    baseUrl: `http://127.0.0.1:${started.port}`,
    port: started.port,
    pid: started.pid,
    stdout,
    stderr,
    exited,
    signal(signal) {
      process.kill(started.pid, signal);
    },
    async cleanup() {
      if (!alive) return;
      try {
        process.kill(-groupPid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    },
  };
}

/** Runs `npm start` expecting it to exit without serving (bad configuration); returns its exit code and output. */
export async function runToExit(options: StartOptions): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const { child, stdout, stderr } = startProcess(options);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}
