// The SQLite files deleted under a running server, end to end: from then on /webhook answers 503
// (a 200 would promise a row that only the unlinked file holds, lost at the next start) and
// /health/ready answers 503 with the database check failed, so an orchestrator takes the instance
// out; the log says why.

import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { getJson, message, postWebhook } from './client.js';

const SECRET = 'e2e-deleted-database-secret';

describe('the SQLite database deleted under a running server', () => {
  const tmp = tempDir();
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.cleanup();
    tmp.cleanup();
  });

  it('refuses webhooks with 503 and reports not ready, naming the database check', async () => {
    const dbPath = path.join(tmp.dir, 'messages.db');
    server = await startServer({ runner: 'node', env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${dbPath}` } });
    const base = server.baseUrl;

    expect((await postWebhook(base, SECRET, message('before-rm'))).status).toBe(200);
    expect((await getJson(`${base}/health/ready`)).status).toBe(200);

    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`);

    for (const id of ['after-rm-1', 'after-rm-2']) {
      const answer = await postWebhook(base, SECRET, message(id));
      expect(answer.status, JSON.stringify(answer.json)).toBe(503);
    }
    const ready = await getJson(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({
      status: 'not ready',
      checks: { database: expect.stringMatching(/^failed/), webhook_secret: 'ok' },
    });
    // No fresh, empty file was opened in its place.
    expect(existsSync(dbPath)).toBe(false);

    // The log says what happened, for the refused webhooks and for the probe, and what the operator has to do.
    const reasonsOf = (msg: string) =>
      waitFor(`"${msg}" in the log`, () => {
        const errors = jsonLines(server?.stdout ?? [])
          .filter((line) => line.msg === msg)
          .map((line) => JSON.stringify(line.err));
        return errors.length > 0 ? errors.join('\n') : undefined;
      });
    const reason = /messages\.db was deleted or replaced while open.*restore.*restart/;
    expect(await reasonsOf('storing the message failed')).toMatch(reason);
    expect(await reasonsOf('readiness: database check failed')).toMatch(reason);
  });
});
