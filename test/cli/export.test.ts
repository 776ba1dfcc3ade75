// `webhook-inbox export` against a real service: what it writes, to a file or to stdout, is byte
// for byte what GET /messages/export answers, in both formats and with filters; a refused request
// leaves no file behind.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, postWebhook } from '../e2e/client.js';
import { haveTools } from '../e2e/doc-blocks.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { BIN, cleanEnv, errorLine, linesOf, runCli } from './cli.js';

const SECRET = 'cli-export-secret';
const APP_SECRET = '00112233445566778899aabbccddeeff';
const TOKEN = 'cli-export-reader';

describe('webhook-inbox export', () => {
  const tmp = tempDir();
  let server: RunningServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({
      env: {
        WEBHOOK_SECRET: SECRET,
        WHATSAPP_APP_SECRET: APP_SECRET,
        API_TOKEN: TOKEN,
        DATABASE_URL: `sqlite:///${tmp.dir}/export.db`,
      },
    });
    env = { WEBHOOK_INBOX_URL: server.baseUrl, API_TOKEN: TOKEN };
    const texts = ['plain', 'with, a comma', 'with "quotes"', 'two\nlines', 'crlf\r\ninside', '', null, 'ünïcödé 🚀'];
    for (const [i, text] of texts.entries()) {
      const body = { ...message(`exp-${i}`, text as string), ts: `2025-04-0${1 + (i % 3)}T10:00:0${i}Z` };
      expect((await postWebhook(server.baseUrl, SECRET, body)).status).toBe(200);
    }
    for (const fixture of ['image', 'location', 'text-reply-context']) {
      const sent = await runCli(['send', '--whatsapp-fixture', fixture, '--secret', APP_SECRET], { env });
      expect(sent.code, sent.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  async function endpoint(query: string): Promise<Buffer> {
    const response = await fetch(`${server.baseUrl}/messages/export?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  it.each([
    ['ndjson', 11],
    ['csv', 11],
  ])('--format %s --output F writes exactly what the endpoint answers', async (format, count) => {
    const file = path.join(tmp.dir, `all.${format}`);
    const run = await runCli(['export', '--format', format, '--output', file], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(linesOf(run.stdout)).toEqual([`exported ${count} messages to ${file}`]);
    expect(run.stderr).toBe('');
    const expected = await endpoint(`format=${format}`);
    expect(readFileSync(file).equals(expected)).toBe(true);
    if (format === 'ndjson') expect(linesOf(expected.toString('utf8'))).toHaveLength(count);
    expect(readdirSync(tmp.dir).filter((name) => name.includes('.partial'))).toEqual([]);
  });

  it('to standard output, NDJSON by default, with the filters passed on', async () => {
    const all = await runCli(['export'], { env });
    expect(all.code, all.stderr).toBe(0);
    expect(Buffer.from(all.stdout).equals(await endpoint('format=ndjson'))).toBe(true);

    const args = ['--from', '+919876543210', '--since', '2025-04-02T00:00:00Z', '--until', '2025-04-03T00:00:00Z', '--q', 'with'];
    const filtered = await runCli(['export', '--format', 'csv', ...args], { env });
    expect(filtered.code, filtered.stderr).toBe(0);
    const query = 'format=csv&from=%2B919876543210&since=2025-04-02T00:00:00Z&until=2025-04-03T00:00:00Z&q=with';
    expect(Buffer.from(filtered.stdout).equals(await endpoint(query))).toBe(true);
    expect(filtered.stdout).toContain('with, a comma');

    const typed = await runCli(['export', '--type', 'image'], { env });
    const lines = linesOf(typed.stdout).map((line) => JSON.parse(line) as { type: string; source: string; raw: unknown });
    expect(lines.map((line) => [line.type, line.source])).toEqual([['image', 'whatsapp']]);
  });

  it.skipIf(!haveTools('script'))('on a terminal, stderr shows the count and the rate as it goes', async () => {
    // script(1) gives the command a terminal; what it wrote to it comes back on stdout.
    const file = path.join(tmp.dir, 'terminal.ndjson');
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} export --output ${JSON.stringify(file)}`;
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { env: cleanEnv(env), encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/exporting 11 messages \| [\d,]+ messages\/s/);
    expect(run.stdout).toContain(`exported 11 messages to ${file}`);
  });

  it('a refused export (a bad filter, a missing token): one line, exit 1, and no file', async () => {
    const file = path.join(tmp.dir, 'refused.ndjson');
    const bad = await runCli(['export', '--since', 'yesterday', '--output', file], { env });
    expect(bad.code).toBe(1);
    expect(errorLine(bad, 'export')).toMatch(/^webhook-inbox export: the service answered 422: .*"query","since"/);
    const anonymous = await runCli(['export', '--output', file], { env: { WEBHOOK_INBOX_URL: server.baseUrl } });
    expect(anonymous.code).toBe(1);
    expect(errorLine(anonymous, 'export')).toMatch(/^webhook-inbox export: the service answered 401: /);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });
});
