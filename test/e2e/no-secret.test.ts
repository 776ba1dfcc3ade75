// the contract end to end: without WEBHOOK_SECRET the process still starts and serves probes, but
// refuses webhooks with 503 and stores nothing.

import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, startServer } from '../helpers/server.js';
import { hmacHex } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { getJson, message } from './client.js';

describe('without WEBHOOK_SECRET', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.cleanup();
  });
  afterAll(() => tmp.cleanup());

  it.each<{ label: string; secretEnv: Record<string, string> }>([
    { label: 'unset', secretEnv: {} },
    { label: 'empty', secretEnv: { WEBHOOK_SECRET: '' } },
  ])('when $label: starts, is live but not ready, answers /webhook 503 and stores nothing', async ({ label, secretEnv }) => {
    const dbPath = path.join(tmp.dir, `${label}.db`);
    const server = await startServer({ env: { ...secretEnv, DATABASE_URL: `sqlite:///${dbPath}` } });
    servers.push(server);

    const errors = jsonLines(server.stdout).filter(
      (line) => line.level === 'ERROR' && String(line.msg).includes('WEBHOOK_SECRET'),
    );
    expect(errors.length, server.stdout.join('\n')).toBeGreaterThanOrEqual(1);

    expect((await getJson(`${server.baseUrl}/health/live`)).status).toBe(200);
    const ready = await getJson(`${server.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    // The body says which check failed.
    expect(JSON.stringify(ready.json)).toMatch(/secret/i);

    // Signed with the empty key, with some other key, and not signed at all: all 503, none stored.
    const raw = JSON.stringify(message(`no-secret-${label}`));
    for (const signature of [hmacHex('', raw), hmacHex('guess', raw), undefined]) {
      const response = await fetch(`${server.baseUrl}/webhook`, {
        method: 'POST',
        body: raw,
        headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-signature': signature }) },
      });
      await response.arrayBuffer();
      expect(response.status).toBe(503);
    }

    expect(await getJson(`${server.baseUrl}/messages`)).toMatchObject({ status: 200, json: { data: [], total: 0 } });
    expect(await getJson(`${server.baseUrl}/stats`)).toMatchObject({ status: 200, json: { total_messages: 0 } });
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });
});
