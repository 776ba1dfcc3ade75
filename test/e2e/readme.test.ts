// Runs the README's shell blocks ("Use it", and "Try it" under "Connecting providers") against a
// real server, so the documented commands cannot drift from the code.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const tools = ['bash', 'curl', 'openssl'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

/** The first sh block after `heading` in the README. */
function shBlockAfter(heading: string): string {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const match = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match?.[1]) throw new Error(`README has no sh block under "${heading}"`);
  return match[1];
}

/** Runs a block with BASE pointed at `baseUrl`; each curl's answer becomes a line of its own. */
function runBlock(block: string, baseUrl: string): string[] {
  expect(block).toContain('BASE=http://127.0.0.1:8000');
  const script = block.replace('BASE=http://127.0.0.1:8000', `BASE=${baseUrl}`).replace(/^(curl .*)$/gm, '$1; echo');
  return execFileSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.trim() !== '');
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
    const output = runBlock(shBlockAfter('## Use it'), server.baseUrl);

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

describe.skipIf(!tools)('README provider commands ("Try it")', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({
      env: {
        WHATSAPP_APP_SECRET: 'meta-app-secret',
        WHATSAPP_VERIFY_TOKEN: 'verify-me',
        STANDARD_WEBHOOKS_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        API_TOKEN: 'read-token',
        DATABASE_URL: `sqlite:///${tmp.dir}/providers.db`,
      },
    });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('run as written: handshake, a WhatsApp envelope with a dead letter, a Standard Webhooks message, token-guarded reads', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    // The start command the section gives sets exactly the variables this server runs with.
    expect(readme).toContain(
      'WHATSAPP_APP_SECRET=meta-app-secret WHATSAPP_VERIFY_TOKEN=verify-me STANDARD_WEBHOOKS_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw API_TOKEN=read-token npm start',
    );
    const output = runBlock(shBlockAfter('### Try it'), server.baseUrl);

    expect(output[0]).toBe('1158201444');
    expect(output[1]).toBe('{"status":"ok"}');
    expect(output[2]).toBe('{"status":"ok"}');
    expect(output[3]).toBe('401');
    expect(JSON.parse(output[4] ?? '')).toEqual({
      message_id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZCMTM',
      from: '+16505551234',
      to: '+15550783881',
      ts: '2025-06-08T20:59:43Z',
      text: 'Hi there',
      type: 'text',
      statuses: [],
    });
    const deadLetters = JSON.parse(output[5] ?? '') as { total: number; data: { item_id: string | null; kind: string }[] };
    expect(deadLetters.total).toBe(1);
    expect(deadLetters.data[0]).toMatchObject({ kind: 'message', item_id: 'wamid.broken' });
    expect(JSON.parse(output[6] ?? '')).toMatchObject({ total_messages: 2, senders_count: 2 });
  });
});
