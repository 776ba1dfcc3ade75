// Runs the documentation's blocks that use the command line, as written, against real servers and
// databases: README.md "The command line", and docs/operations.md on backups, moving to
// PostgreSQL, retention and erasure. The blocks run from the repository folder (where
// `npx webhook-inbox` is); a block's folders and database URLs, set on its first lines, are
// pointed at the test's own.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, message, postWebhook } from '../e2e/client.js';
import { type CodeBlock, codeBlocks, haveTools, runBlock, shBlockUnder } from '../e2e/doc-blocks.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const tools = haveTools('bash', 'curl', 'cmp');
const SECRET = 'dev-secret';

/** The block with its `NAME=value` lines (the first of each) set to these values instead. */
function withValues(block: CodeBlock, values: Record<string, string>): CodeBlock {
  let code = block.code;
  for (const [name, value] of Object.entries(values)) {
    const line = new RegExp(`^${name}=.*$`, 'm');
    if (!line.test(code)) throw new Error(`${block.file}:${block.line}: the block does not set ${name}`);
    code = code.replace(line, `${name}=${value}`);
  }
  return { ...block, code };
}

const withoutCr = (line: string): string => line.replace(/\r$/, '');

/** The sh blocks under a heading, in order. */
function shBlocksUnder(file: string, heading: string): CodeBlock[] {
  return codeBlocks(file).filter((block) => block.lang === 'sh' && block.heading === heading);
}

async function post(server: RunningServer, id: string, from?: string): Promise<void> {
  const body = from === undefined ? message(id) : { ...message(id), from };
  expect((await postWebhook(server.baseUrl, SECRET, body)).status).toBe(200);
}

async function listedIds(server: RunningServer): Promise<string[]> {
  const { json } = await getJson(`${server.baseUrl}/messages`);
  return (json as { data: { message_id: string }[] }).data.map((m) => m.message_id);
}

describe.skipIf(!tools)('README.md "The command line"', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${tmp.dir}/readme.db` } });
    // What the README's first block stored.
    const m1 = { message_id: 'm1', from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text: 'Hello' };
    expect((await postWebhook(server.baseUrl, SECRET, m1)).status).toBe(200);
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('sends a message and exports every message as CSV, as the comments say', () => {
    // CSV records end with CRLF.
    const lines = runBlock(shBlockUnder('README.md', 'The command line'), { baseUrl: server.baseUrl }).lines.map(withoutCr);
    expect(lines[0]).toBe('{"status":"ok"}');
    expect(lines[1]).toBe('message_id,from,to,ts,text,type,source,received_at');
    expect(lines[2]).toMatch(/^m1,\+919876543210,\+14155550100,2025-01-15T10:00:00Z,Hello,,spec,\d{4}-.*Z$/);
    expect(lines[3]).toMatch(
      /^m2,\+442071838750,\+14155550100,2025-01-15T11:00:00Z,Hello from the command line,,spec,\d{4}-.*Z$/,
    );
    expect(lines).toHaveLength(4);
  });
});

describe.skipIf(!tools)('docs/operations.md "SQLite" (backups)', () => {
  // The server runs the way the page assumes: in its own folder, with the default DATABASE_URL.
  const tmp = tempDir();
  const backups = path.join(tmp.dir, 'backups');
  const database = path.join(tmp.dir, 'data', 'app.db');
  let server: RunningServer;
  const start = () => startServer({ runner: 'node', cwd: tmp.dir, env: { WEBHOOK_SECRET: SECRET } });

  beforeAll(async () => {
    server = await start();
    for (const id of ['ops-1', 'ops-2', 'ops-3']) await post(server, id);
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('the backup of the live database holds every message, and restoring it brings back exactly those', async () => {
    const [backup, restore] = shBlocksUnder('docs/operations.md', 'SQLite');
    if (!backup || !restore) throw new Error('docs/operations.md: expected two sh blocks under "SQLite"');

    const out = runBlock(withValues(backup, { BACKUPS: backups }), { env: { DATABASE_URL: `sqlite:///${database}` } }).lines;
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      new RegExp(`^backed up ${database} to ${backups}/app-\\d{8}T\\d{6}Z\\.db: 3 messages, integrity_check ok$`),
    );
    // Stored after the backup: the restore must not bring it back.
    await post(server, 'ops-4');

    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
    runBlock(withValues(restore, { BACKUPS: backups }), { cwd: tmp.dir });
    expect(readdirSync(tmp.dir).some((name) => name.startsWith('data.before-restore-'))).toBe(true);

    server = await start();
    expect(await listedIds(server)).toEqual(['ops-1', 'ops-2', 'ops-3']);
    expect((await getJson(`${server.baseUrl}/health/ready`)).status).toBe(200);
  });
});

describe.skipIf(!tools)('docs/operations.md "Moving from SQLite to PostgreSQL"', () => {
  const tmp = tempDir();
  const postgres = useTestDatabase('cli-docs-move');
  let sqlite: RunningServer;

  beforeAll(async () => {
    sqlite = await startServer({ env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${tmp.dir}/app.db` } });
    for (const id of ['move-1', 'move-2', 'move-3']) await post(sqlite, id);
  });
  afterAll(async () => {
    await sqlite.cleanup();
    tmp.cleanup();
  });

  it('exports from SQLite, imports into PostgreSQL, and the service on PostgreSQL exports the same bytes', async () => {
    const [move, check] = shBlocksUnder('docs/operations.md', 'Moving from SQLite to PostgreSQL');
    if (!move || !check) throw new Error('docs/operations.md: expected two sh blocks under "Moving from SQLite to PostgreSQL"');
    const { url } = await postgres();
    const where = new URL(url);

    const out = runBlock(withValues(move, { BACKUPS: tmp.dir, PG: url }), { baseUrl: sqlite.baseUrl }).lines;
    expect(out).toEqual([
      `exported 3 messages to ${tmp.dir}/inbox.ndjson`,
      `imported ${tmp.dir}/inbox.ndjson into PostgreSQL at ${where.host}${where.pathname}: 3 added, 0 skipped (already stored)`,
    ]);

    const moved = await startServer({ env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: url } });
    try {
      expect(await listedIds(moved)).toEqual(['move-1', 'move-2', 'move-3']);
      expect(runBlock(withValues(check, { BACKUPS: tmp.dir }), { baseUrl: moved.baseUrl }).lines).toEqual(['the same messages']);
    } finally {
      await moved.cleanup();
    }
  });
});

describe.skipIf(!tools)('docs/operations.md "Retention and erasure"', () => {
  const tmp = tempDir();
  const database = path.join(tmp.dir, 'app.db');
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({
      env: { WEBHOOK_SECRET: SECRET, ADMIN_TOKEN: 'docs-admin', DATABASE_URL: `sqlite:///${database}` },
    });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('"Removing what is old": counts, then removes, exactly what was received before the cutoff', async () => {
    for (const id of ['old-1', 'old-2', 'old-3']) await post(server, id);
    const cutoff = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await post(server, 'new-1');

    const block = withValues(shBlockUnder('docs/operations.md', 'Removing what is old'), { BEFORE: cutoff });
    const out = runBlock(block, { env: { DATABASE_URL: `sqlite:///${database}` } }).lines;
    expect(out).toEqual([
      `${database}: received before ${cutoff}: 3 messages, 0 delivery statuses and 0 dead letters; nothing removed (run again with --yes to remove them)`,
      `${database}: removed 3 messages, 0 delivery statuses and 0 dead letters received before ${cutoff}`,
    ]);
    expect(await listedIds(server)).toEqual(['new-1']);
  });

  it('"Erasing a person\'s messages": exports what is stored from the number, then erases it', async () => {
    await post(server, 'ops-1', '+14155550123');
    await post(server, 'other-1', '+442071838750');
    const block = shBlockUnder('docs/operations.md', "Erasing a person's messages");
    const out = runBlock(block, { baseUrl: server.baseUrl, env: { ADMIN_TOKEN: 'docs-admin' } }).lines.map(withoutCr);
    expect(out[0]).toBe('message_id,from,to,ts,text,type,source,received_at');
    expect(out[1]).toMatch(/^ops-1,\+14155550123,\+14155550100,2025-01-15T10:00:00Z,hello ops-1,,spec,\d{4}-.*Z$/);
    expect(out[2]).toBe('{"deleted":1}');
    expect(out).toHaveLength(3);
    expect(await listedIds(server)).not.toContain('ops-1');
    expect(await listedIds(server)).toContain('other-1');
  });
});
