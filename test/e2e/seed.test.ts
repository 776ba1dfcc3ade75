// `npm run seed` refuses to write into the server's default database unless told to: without
// DATABASE_URL it stops with a clear line and creates nothing.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = path.join(PROJECT_ROOT, 'bench', 'seed.ts');
const TSX = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');

function seed(cwd: string, env: Record<string, string>, args: string[]) {
  const { DATABASE_URL: _unset, ...inherited } = process.env;
  return spawnSync(TSX, [SEED, ...args], { cwd, env: { ...inherited, ...env }, encoding: 'utf8' });
}

describe('npm run seed', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('without DATABASE_URL refuses, names the variable and the flag, and creates no database', () => {
    const run = seed(tmp.dir, {}, ['--count', '10']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('DATABASE_URL is not set');
    expect(run.stderr).toContain('--default-database');
    expect(existsSync(path.join(tmp.dir, 'data'))).toBe(false);
  });

  it('with --default-database seeds ./data/app.db, as asked', () => {
    const run = seed(tmp.dir, {}, ['--count', '10', '--senders', '2', '--default-database']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/seeded 10 messages \(10 created/);
    expect(existsSync(path.join(tmp.dir, 'data', 'app.db'))).toBe(true);
  });

  it('with DATABASE_URL seeds that database', () => {
    const file = path.join(tmp.dir, 'named.db');
    const run = seed(tmp.dir, { DATABASE_URL: `sqlite:///${file}` }, ['--count', '5']);
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
  });
});
