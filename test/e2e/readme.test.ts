// Runs the README's shell block ("Send a first webhook") against a real server, so the documented
// commands cannot drift from the code. Which blocks run, and how, is the rule at the top of
// doc-blocks.ts; docs.test.ts does the same for docs/*.md.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { codeBlocks, haveTools, runBlock, shBlockIds, shBlockUnder } from './doc-blocks.js';

const tools = haveTools('bash', 'curl', 'openssl', 'sed');

describe('README.md', () => {
  it('has no sh block that no test here runs', () => {
    // "The command line" is run by test/cli/docs.test.ts.
    expect(shBlockIds(['README.md'])).toEqual(['README.md#Send a first webhook', 'README.md#The command line']);
  });

  it('gives as "Run it" the commands CI runs', () => {
    // Not run here (npm ci would reinstall the project under its own tests): .ci/run runs npm ci
    // and npm test (then the suite on the other Node.js lines), and every end-to-end test starts the server with npm start.
    const commands = codeBlocks('README.md')
      .filter((block) => block.heading === 'Run it')
      .flatMap((block) => block.code.split('\n'))
      .filter((line) => line.trim() !== '');
    expect(commands).toEqual(['npm ci', 'WEBHOOK_SECRET=dev-secret npm start', 'npm test']);
    const ci = readFileSync(path.join(PROJECT_ROOT, '.ci', 'run'), 'utf8').split('\n');
    // npm ci's output goes through tee, to refuse an EBADENGINE warning.
    expect(ci.some((line) => line.startsWith('npm ci '))).toBe(true);
    expect(ci).toContain('npm test');
    // The README's requirements say CI runs the suite on Node.js 22 and 24 too.
    expect(ci).toContain('npm run test:node-lines');
    expect(readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')).toContain('`npm run test:node-lines`');
  });
});

describe.skipIf(!tools)('README "Send a first webhook"', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: 'dev-secret', DATABASE_URL: `sqlite:///${tmp.dir}/readme.db` } });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('runs as written, with BASE pointing at the test server', () => {
    const output = runBlock(shBlockUnder('README.md', 'Send a first webhook'), { baseUrl: server.baseUrl }).lines;

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

  it('serves what the README says it serves: /docs and /openapi.json, open without a token', async () => {
    const docs = await fetch(`${server.baseUrl}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(await docs.text()).toContain('swagger-ui');
    const document = await fetch(`${server.baseUrl}/openapi.json`);
    expect(document.status).toBe(200);
    expect(((await document.json()) as { openapi: string }).openapi).toBe('3.1.0');
  });
});
