// The command line as a whole: `npx webhook-inbox` runs in a checkout, every command answers
// --help, a mistake on the command line is one line on stderr and a non-zero exit, and the
// launcher compiles a checkout that has no dist/ yet, once.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openApiDocument, openApiText } from '../../src/cli/openapi.js';
import { freePort } from '../helpers/net.js';
import { PROJECT_ROOT, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { cleanEnv, errorLine, linesOf, runCli, startCli } from './cli.js';

const COMMANDS = ['serve', 'send', 'tail', 'export', 'import', 'backup', 'purge', 'seed', 'openapi'];

describe('webhook-inbox', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('runs through npx in the repository, as the package bin', () => {
    // --no-install: never look beyond the project for it.
    const run = spawnSync('npx', ['--no-install', 'webhook-inbox', '--version'], {
      cwd: PROJECT_ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      version: string;
      bin: Record<string, string>;
    };
    expect(run.stdout.trim()).toBe(manifest.version);
    expect(manifest.bin).toEqual({ 'webhook-inbox': 'bin/webhook-inbox.js' });
  });

  it('--help lists every command', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    for (const command of COMMANDS) expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it.each(COMMANDS)('%s --help describes it and exits 0', async (command) => {
    const run = await runCli([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`Usage: webhook-inbox ${command} [options]`);
    expect(run.stdout).toContain('-h, --help');
  });

  it('without a command: one line naming the commands, exit 1', async () => {
    const run = await runCli([]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(errorLine(run, '')).toBe(`webhook-inbox: give a command: ${COMMANDS.join(', ')} (see webhook-inbox --help)`);
  });

  it('an unknown command, an unknown option, a bad value, a missing option or argument: one line each, exit 1', async () => {
    const cases: [string[], string, RegExp][] = [
      [['frobnicate'], '', /unknown command 'frobnicate'/],
      [['send', '--shceme', 'spec'], 'send', /unknown option '--shceme'.*Did you mean --scheme\?/],
      [['send', '--scheme', 'smtp'], 'send', /'smtp' is invalid\. Allowed choices are spec, whatsapp, standard/],
      [['purge'], 'purge', /required option '--before <timestamp>' not specified/],
      [
        ['purge', '--before', '2025-02-30T00:00:00Z'],
        'purge',
        /'2025-02-30T00:00:00Z' is invalid\. expected YYYY-MM-DDTHH:MM:SS/,
      ],
      [['seed', '--count', '0'], 'seed', /'--count <n>' argument '0' is invalid\. expected a positive integer/],
      [['import'], 'import', /missing required argument 'file'/],
      [
        ['import', 'x.ndjson', '--chunk', '1.5'],
        'import',
        /'--chunk <lines>' argument '1\.5' is invalid\. expected a positive integer/,
      ],
      [['backup'], 'backup', /required option '--output <file>' not specified/],
      [['tail', '--types', 'message.deleted'], 'tail', /expected a comma-separated list of message\.created/],
      [['export', '--format', 'xml'], 'export', /Allowed choices are ndjson, csv/],
    ];
    for (const [args, command, expected] of cases) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stdout, args.join(' ')).toBe('');
      expect(errorLine(run, command)).toMatch(expected);
    }
  });

  it('a service that cannot be reached, or a bad --url: one line, exit 1', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const refused = await runCli(['send', '--secret', 's', '--text', 'hi', '--url', closed]);
    expect(refused.code).toBe(1);
    expect(errorLine(refused, 'send')).toBe(`webhook-inbox send: cannot reach ${closed}: ECONNREFUSED`);
    const bad = await runCli(['export', '--url', 'ftp://example']);
    expect(bad.code).toBe(1);
    expect(errorLine(bad, 'export')).toBe('webhook-inbox export: --url: expected http:// or https://, got ftp://example');
  });

  it('a bad --database-url: one line naming the option, exit 1', async () => {
    const run = await runCli(['purge', '--before', '2025-01-01T00:00:00Z', '--database-url', 'mysql://db/inbox']);
    expect(run.code).toBe(1);
    expect(errorLine(run, 'purge')).toMatch(/^webhook-inbox purge: --database-url: unsupported scheme "mysql"; expected sqlite:/);
  });

  it('serve runs the service as npm start does, on --database-url, and stops with 0 on SIGTERM', async () => {
    const database = path.join(tmp.dir, 'served.db');
    const serving = startCli(['serve', '--database-url', `sqlite:///${database}`], {
      env: { WEBHOOK_SECRET: 'serve-secret', HOST: '127.0.0.1', PORT: '0' },
    });
    try {
      const started = await waitFor('the service to start', () =>
        serving.stdoutLines
          .map((line) => JSON.parse(line) as { msg?: string; port?: number })
          .find((line) => line.msg === 'webhook-inbox started'),
      );
      const response = await fetch(`http://127.0.0.1:${started.port}/health/ready`);
      expect(response.status).toBe(200);
      expect(existsSync(database)).toBe(true);
      serving.child.kill('SIGTERM');
      expect(await serving.exited).toEqual({ code: 0, signal: null });
    } finally {
      await serving.cleanup();
    }
  });

  it('openapi writes the document the routes generate, to stdout or to --output', async () => {
    const expected = openApiText(await openApiDocument());
    const run = await runCli(['openapi']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(expected);
    const file = path.join(tmp.dir, 'openapi.json');
    const written = await runCli(['openapi', '--output', file]);
    expect(written.code).toBe(0);
    expect(linesOf(written.stdout)).toEqual([`wrote ${file}`]);
    expect(readFileSync(file, 'utf8')).toBe(expected);
    const nowhere = await runCli(['openapi', '--output', path.join(tmp.dir, 'missing', 'openapi.json')]);
    expect(nowhere.code).toBe(1);
    expect(errorLine(nowhere, 'openapi')).toContain('ENOENT');
  });

  it('in a checkout without dist/, compiles it and bundles the dashboard on first use, and not again while nothing changed', async () => {
    // A copy of what a fresh clone has, sharing this checkout's installed packages.
    const clone = path.join(tmp.dir, 'clone');
    for (const entry of ['bin', 'src', 'web', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(path.join(PROJECT_ROOT, entry), path.join(clone, entry), { recursive: true });
    }
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    const bin = path.join(clone, 'bin', 'webhook-inbox.js');
    expect(existsSync(path.join(clone, 'dist'))).toBe(false);

    const first = spawnSync(process.execPath, [bin, 'openapi'], {
      cwd: tmp.dir,
      env: cleanEnv(),
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ openapi: '3.1.0' });
    const built = path.join(clone, 'dist', '.tsbuildinfo');
    const builtAt = statSync(built).mtimeMs;
    // The dashboard GET / serves, its script named in the page (the bundler's report went to stderr).
    const page = path.join(clone, 'dist', 'web', 'index.html');
    const script = /src="(assets\/app-[A-Z0-9]+\.js)"/.exec(readFileSync(page, 'utf8'))?.[1] ?? 'no script named';
    expect(existsSync(path.join(clone, 'dist', 'web', script))).toBe(true);
    const bundledAt = statSync(page).mtimeMs;

    const second = spawnSync(process.execPath, [bin, '--version'], { cwd: tmp.dir, env: cleanEnv(), encoding: 'utf8' });
    expect(second.status, second.stderr).toBe(0);
    expect(statSync(built).mtimeMs).toBe(builtAt);
    expect(statSync(page).mtimeMs).toBe(bundledAt);
    expect(existsSync(path.join(clone, 'dist', '.build.lock'))).toBe(false);
  });
});
