// the contract end to end: a configuration value that cannot be used stops the process with exit
// code 1 and one clear line naming the variable; the default database lives under the working directory.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, runToExit, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { message, postWebhook } from './client.js';

const SECRET = 'e2e-config-secret-Hn4tR8';

describe('configuration from the environment', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.cleanup();
  });
  afterAll(() => tmp.cleanup());

  it.each([
    { variable: 'PORT', value: 'abc', accepted: /integer|65535/i },
    { variable: 'DATABASE_URL', value: 'mysql://x', accepted: /sqlite.*postgres|postgres.*sqlite/i },
    { variable: 'LOG_LEVEL', value: 'LOUD', accepted: /DEBUG.*ERROR|ERROR.*DEBUG/ },
    { variable: 'MAX_BODY_BYTES', value: 'abc', accepted: /integer|bytes/i },
  ])('$variable=$value exits 1 with one clear line naming $variable', async ({ variable, value, accepted }) => {
    const { code, stdout, stderr } = await runToExit({
      env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${path.join(tmp.dir, 'never.db')}`, [variable]: value },
    });
    expect(code).toBe(1);

    // stdout stays JSON lines even when failing; the human-readable line may be on either stream.
    const logged = jsonLines(stdout);
    const stderrLines = stderr.filter((line) => line.trim() !== '');
    expect(stderrLines.length, stderr.join('\n')).toBeLessThanOrEqual(1);
    const said = [...stderrLines, ...logged.map((line) => String(line.msg))];
    const naming = said.filter((line) => line.includes(variable));
    expect(naming.length, said.join('\n')).toBeGreaterThanOrEqual(1);
    for (const line of naming) expect(line).toMatch(accepted);
    // A clear line, not a crash: no stack trace anywhere.
    expect([...stdout, ...stderr].join('\n')).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
    expect([...stdout, ...stderr].join('\n')).not.toContain(SECRET);
  });

  it('does not echo a password from an unusable DATABASE_URL', async () => {
    const { code, stdout, stderr } = await runToExit({
      env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: 'mysql://admin:hunter2-pw@db.example/inbox' },
    });
    expect(code).toBe(1);
    const output = [...stdout, ...stderr].join('\n');
    expect(output).toContain('DATABASE_URL');
    expect(output).not.toContain('hunter2-pw');
  });

  it('stores in ./data/app.db under the working directory when DATABASE_URL is unset', async () => {
    const cwd = path.join(tmp.dir, 'workdir');
    mkdirSync(cwd);
    // `npm start` always runs in the project folder, so the working directory is set by starting
    // node directly, as the container does.
    const server = await startServer({ env: { WEBHOOK_SECRET: SECRET }, runner: 'node', cwd });
    servers.push(server);

    const result = await postWebhook(server.baseUrl, SECRET, message('default-db-1'));
    expect(result.status).toBe(200);

    const dbPath = path.join(cwd, 'data', 'app.db');
    expect(existsSync(dbPath)).toBe(true);
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare('SELECT message_id FROM messages').pluck().all()).toEqual(['default-db-1']);
    } finally {
      db.close();
    }
  });
});
