// Runs the README's "Use it" shell block against a real server, so the documented commands
// cannot drift from the code.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const tools = ['bash', 'curl', 'openssl'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

function usageBlock(): string {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it'));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error('README has no sh block under "## Use it"');
  return match[1];
}

describe.skipIf(!tools)('README usage commands', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: 'dev-secret', DATABASE_URL: `sqlite:///${tmp.dir}/readme.db` } });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('run as written, with BASE pointing at the test server', () => {
    const block = usageBlock();
    expect(block).toContain('BASE=http://127.0.0.1:8000');
    // Each command prints its answer on a line of its own.
    const script = block.replace('BASE=http://127.0.0.1:8000', `BASE=${server.baseUrl}`).replace(/^(curl .*)$/gm, '$1; echo');
    const output = execFileSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8' }).trim().split('\n');

    expect(output[0]).toBe('{"status":"ok"}');
    expect(output[1]).toBe('{"detail":"invalid signature"}');
    const listed = JSON.parse(output[2] ?? '') as { data: { message_id: string; text: string }[]; total: number };
    expect(listed.total).toBe(1);
    expect(listed.data[0]).toEqual({
      message_id: 'm1',
      from: '+919876543210',
      to: '+14155550100',
      ts: '2025-01-15T10:00:00Z',
      text: 'Hello',
    });
    const filtered = JSON.parse(output[3] ?? '') as { total: number };
    expect(filtered.total).toBe(1);
    const keyset = JSON.parse(output[4] ?? '') as { next_cursor: string | null };
    expect(keyset.next_cursor).toBeNull();
    expect(JSON.parse(output[5] ?? '')).toMatchObject({ total_messages: 1, senders_count: 1 });
    expect(JSON.parse(output[6] ?? '')).toEqual({ status: 'ok' });
    expect(JSON.parse(output[7] ?? '')).toMatchObject({ status: 'ready' });
    expect(output.join('\n')).toContain('webhook_requests_total{result="created"} 1');
  });
});
