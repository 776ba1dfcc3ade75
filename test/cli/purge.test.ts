// `webhook-inbox purge` on the database of a running service: without --yes it only counts what was
// received before the cutoff (messages, statuses, dead letters) and removes nothing; with --yes it
// removes exactly that, and the service's counts follow.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, message, postWebhook } from '../e2e/client.js';
import { PROJECT_ROOT, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { errorLine, linesOf, runCli } from './cli.js';

const SECRET = 'cli-purge-secret';
const APP_SECRET = '1234567890abcdef1234567890abcdef';
const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'whatsapp');

describe('webhook-inbox purge', () => {
  const tmp = tempDir();
  const database = path.join(tmp.dir, 'purge.db');
  const env = { DATABASE_URL: `sqlite:///${database}` };
  let server: RunningServer;
  let cutoff: string;

  async function total(): Promise<number> {
    const { json } = await getJson(`${server.baseUrl}/stats`);
    return (json as { total_messages: number }).total_messages;
  }

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: SECRET, WHATSAPP_APP_SECRET: APP_SECRET, ...env } });
    for (const id of ['old-1', 'old-2', 'old-3'])
      expect((await postWebhook(server.baseUrl, SECRET, message(id))).status).toBe(200);
    // Three messages, five statuses and nine dead letters, in two envelopes.
    for (const fixture of ['statuses.json', 'mixed-unreadable.json']) {
      const sent = await runCli(
        ['send', '--scheme', 'whatsapp', '--secret', APP_SECRET, '--file', path.join(FIXTURES, fixture)],
        {
          env: { WEBHOOK_INBOX_URL: server.baseUrl },
        },
      );
      expect(sent.code, sent.stderr).toBe(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    cutoff = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await postWebhook(server.baseUrl, SECRET, message('new-1'))).status).toBe(200);
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('without --yes counts what was received before the cutoff and removes nothing', async () => {
    const before = await total();
    const run = await runCli(['purge', '--before', cutoff], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(linesOf(run.stdout)).toEqual([
      `${database}: received before ${cutoff}: 6 messages, 5 delivery statuses and 9 dead letters; nothing removed (run again with --yes to remove them)`,
    ]);
    expect(await total()).toBe(before);
    expect(before).toBe(7);
  });

  it('with --yes removes exactly that, while the service runs', async () => {
    const run = await runCli(['purge', '--before', cutoff, '--yes'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(linesOf(run.stdout)).toEqual([
      `${database}: removed 6 messages, 5 delivery statuses and 9 dead letters received before ${cutoff}`,
    ]);
    expect(await total()).toBe(1);
    const { json } = await getJson(`${server.baseUrl}/messages`);
    expect((json as { data: { message_id: string }[] }).data.map((m) => m.message_id)).toEqual(['new-1']);
    const again = await runCli(['purge', '--before', cutoff, '--yes'], { env });
    expect(linesOf(again.stdout)).toEqual([
      `${database}: removed 0 messages, 0 delivery statuses and 0 dead letters received before ${cutoff}`,
    ]);
  });

  it('refuses a cutoff in the future: one line, exit 1', async () => {
    const run = await runCli(['purge', '--before', '2999-01-01T00:00:00Z', '--yes'], { env });
    expect(run.code).toBe(1);
    expect(errorLine(run, 'purge')).toMatch(/^webhook-inbox purge: --before 2999-01-01T00:00:00Z is in the future \(now is /);
    expect(await total()).toBe(1);
  });
});
