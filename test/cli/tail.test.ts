// `webhook-inbox tail` following a real service: events stored while it runs arrive as lines (JSON
// or for people), a restart of the service is survived without losing or repeating an event, and
// Ctrl-C ends it with exit code 0.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { message, postWebhook } from '../e2e/client.js';
import { freePort } from '../helpers/net.js';
import { type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { errorLine, type RunningCli, runCli, startCli } from './cli.js';

const SECRET = 'cli-tail-secret';

interface FeedItem {
  position: number;
  type: string;
  received_at: string;
  data: { message_id: string; from: string; text: string | null };
}

describe('webhook-inbox tail', () => {
  const tmp = tempDir();
  let server: RunningServer;
  let port: number;
  let env: Record<string, string>;
  const tails: RunningCli[] = [];
  const start = () =>
    startServer({ env: { WEBHOOK_SECRET: SECRET, PORT: String(port), DATABASE_URL: `sqlite:///${tmp.dir}/tail.db` } });
  const post = async (id: string, from = '+919876543210') =>
    expect((await postWebhook(server.baseUrl, SECRET, { ...message(id), from })).status).toBe(200);

  beforeAll(async () => {
    port = await freePort();
    server = await start();
    env = { WEBHOOK_INBOX_URL: server.baseUrl };
  });
  afterEach(async () => {
    for (const tail of tails.splice(0)) await tail.cleanup();
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  function tail(args: string[]): RunningCli {
    const running = startCli(['tail', ...args], { env });
    tails.push(running);
    return running;
  }

  it('--json prints each event as its feed item, resumes after a restart of the service, and ends with 0 on SIGINT', async () => {
    const following = tail(['--after', '0', '--json']);
    await post('tail-1');
    await post('tail-2');
    const before = (await following.waitForLines(2)).map((line) => JSON.parse(line) as FeedItem);
    expect(before.map((item) => [item.position, item.type, item.data.message_id])).toEqual([
      [1, 'message.created', 'tail-1'],
      [2, 'message.created', 'tail-2'],
    ]);
    expect(before[0]?.data.text).toBe('hello tail-1');

    // The service stops and comes back on the same port: tail reconnects and goes on after #2.
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
    await waitFor('tail to notice the service is gone', () =>
      following.stderrLines.some((line) => line.includes('reconnecting')),
    );
    server = await start();
    await post('tail-3');
    const after = (await following.waitForLines(3)).map((line) => JSON.parse(line) as FeedItem);
    expect(after.map((item) => item.data.message_id)).toEqual(['tail-1', 'tail-2', 'tail-3']);
    expect(after.map((item) => item.position)).toEqual([1, 2, 3]);
    expect(following.stderrLines.some((line) => line.endsWith('to resume after #2'))).toBe(true);

    following.child.kill('SIGINT');
    expect(await following.exited).toEqual({ code: 0, signal: null });
    expect(following.stdoutLines).toHaveLength(3);
  });

  it('starts at the current end, prints lines for people, and keeps to --from', async () => {
    await post('before-start', '+447700900123');
    const following = tail(['--from', '+447700900123']);
    // Subscribed once an event stored now reaches it.
    await waitFor('tail to subscribe', async () => {
      await post(`probe-${Date.now()}`, '+447700900123');
      return following.stdoutLines.length > 0;
    });
    await post('elsewhere-1');
    await post('tail-from-1', '+447700900123');
    const line = await waitFor('the line of tail-from-1', () => following.stdoutLines.find((l) => l.includes(' tail-from-1 ')));
    expect(line).toMatch(
      /^#\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z message\.created tail-from-1 \+447700900123 → \+14155550100 "hello tail-from-1"$/,
    );
    const printed = following.stdoutLines.join('\n');
    expect(printed).not.toContain('before-start');
    expect(printed).not.toContain('elsewhere-1');
    following.child.kill('SIGINT');
    expect((await following.exited).code).toBe(0);
  });

  it('a refused subscription (401) or a service that is not there: one line, exit 1', async () => {
    const guarded = await startServer({
      env: { WEBHOOK_SECRET: SECRET, API_TOKEN: 'reader-token', DATABASE_URL: `sqlite:///${tmp.dir}/guarded.db` },
    });
    try {
      const refused = await runCli(['tail', '--url', guarded.baseUrl, '--token', 'wrong-token']);
      expect(refused.code).toBe(1);
      expect(errorLine(refused, 'tail')).toMatch(/^webhook-inbox tail: the service answered 401: /);
      const allowed = startCli(['tail', '--url', guarded.baseUrl, '--after', '0', '--json'], {
        env: { API_TOKEN: 'reader-token' },
      });
      tails.push(allowed);
      expect((await postWebhook(guarded.baseUrl, SECRET, message('guarded-1'))).status).toBe(200);
      expect(JSON.parse((await allowed.waitForLines(1))[0] ?? '')).toMatchObject({ data: { message_id: 'guarded-1' } });
    } finally {
      await guarded.cleanup();
    }
    const gone = await runCli(['tail', '--url', `http://127.0.0.1:${await freePort()}`]);
    expect(gone.code).toBe(1);
    expect(errorLine(gone, 'tail')).toMatch(/cannot reach .*: ECONNREFUSED$/);
  });
});
