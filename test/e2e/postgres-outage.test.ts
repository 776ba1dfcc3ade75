// A PostgreSQL outage under a running server (issue 4), end to end, on a PostgreSQL server of this
// file's own: while the database is stopped, /webhook answers 503 (never 500, never a 200) and
// /health/ready 503; once it is back, the same server process recovers by itself; and every
// message it acknowledged, before, during or after, is in the database exactly once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type PostgresServer,
  startEmbeddedPostgres,
  storedCountsById,
  type TestDatabase,
} from '../helpers/postgres-server.js';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { getJson, message, postWebhook, runPool } from './client.js';

const SECRET = 'e2e-outage-secret';

describe('a PostgreSQL outage under a running server', () => {
  let postgres: PostgresServer | undefined;
  let database: TestDatabase | undefined;
  let server: RunningServer | undefined;

  beforeAll(async () => {
    postgres = await startEmbeddedPostgres();
    database = await createTestDatabase(postgres.adminUrl, 'e2e-outage');
  });
  afterAll(async () => {
    await server?.cleanup();
    await postgres?.destroy();
  });

  it('answers 503 while the database is down, recovers without a restart, and keeps every acknowledged message', async () => {
    if (postgres === undefined || database === undefined) throw new Error('beforeAll did not run');
    const db = postgres;
    server = await startServer({ runner: 'node', env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: database.url } });
    const base = server.baseUrl;

    // Senders keep delivering, 8 at a time, through the whole outage; every answer is recorded.
    type Phase = 'before' | 'down' | 'restarting' | 'back';
    let phase: Phase = 'before';
    const answers: { id: string; phase: Phase; status: number }[] = [];
    let stop = false;
    let sent = 0;
    function* ids(): Generator<string> {
      for (let i = 0; i < 20_000; i++) yield `out-${String(i).padStart(5, '0')}`;
    }
    const load = runPool(
      ids(),
      8,
      async (id) => {
        const during = phase;
        sent += 1;
        const { status } = await postWebhook(base, SECRET, message(id));
        answers.push({ id, phase: during, status });
        // While the database is down the answers come at once; do not spin.
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
      },
      () => stop,
    );
    const count = (p: Phase, status: number) => answers.filter((a) => a.phase === p && a.status === status).length;

    try {
      await waitFor('100 messages acknowledged before the outage', () => count('before', 200) >= 100);
      await db.stop();
      phase = 'down';

      const ready = await getJson(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(ready.json)).toMatch(/database/);
      expect((await getJson(`${base}/health/live`)).status).toBe(200);
      expect((await getJson(`${base}/messages`)).status).toBe(503);
      expect((await getJson(`${base}/stats`)).status).toBe(503);
      const refused = await postWebhook(base, SECRET, message('while-down'));
      expect(refused.status).toBe(503);
      await waitFor('50 deliveries refused during the outage', () => count('down', 503) >= 50);

      // Answers to what is sent while it starts may be either: they belong to neither side.
      phase = 'restarting';
      await db.start();
      phase = 'back';
      // The same process, never restarted: its pool opens new connections by itself.
      await waitFor('readiness to return', async () => (await getJson(`${base}/health/ready`)).status === 200, 60_000);
      await waitFor('100 messages acknowledged after the outage', () => count('back', 200) >= 100, 60_000);
    } finally {
      stop = true;
      await load;
    }

    expect(answers).toHaveLength(sent);
    // Only 200 and 503: never a 500, never another status.
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    // Nothing sent while the database was stopped was acknowledged.
    expect(answers.filter((a) => a.phase === 'down' && a.status === 200)).toEqual([]);

    const stored = await storedCountsById(database.url);
    const acknowledged = answers.filter((a) => a.status === 200).map((a) => a.id);
    for (const id of acknowledged) expect(stored.get(id), id).toBe(1);
    expect(stored.has('while-down')).toBe(false);

    const lines = jsonLines(server.stdout);
    // The 503s were logged as errors, and the process never restarted (one start line).
    expect(lines.filter((l) => l.msg === 'webhook-inbox started')).toHaveLength(1);
    expect(lines.some((l) => l.path === '/webhook' && l.status === 503 && l.result === 'unavailable')).toBe(true);
    expect(server.stdout.join('\n')).not.toContain(new URL(database.url).password);
  });
});
