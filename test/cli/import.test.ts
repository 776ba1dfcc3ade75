// `webhook-inbox import` of real exports: into SQLite and into PostgreSQL, an export imported and
// exported again is the same bytes; ids already stored are skipped; a malformed line stops the
// import with its number, and exactly the chunks before it are stored; so does a chunk the
// database refuses.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/store/sqlite/connection.js';
import { message, postWebhook } from '../e2e/client.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { whsecSecret } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { errorLine, linesOf, runCli } from './cli.js';

const SECRETS = {
  WEBHOOK_SECRET: 'cli-import-secret',
  WHATSAPP_APP_SECRET: 'ffeeddccbbaa99887766554433221100',
  STANDARD_WEBHOOKS_SECRET: whsecSecret('cli import: standard key'),
};

/** Every message of a service, as `webhook-inbox export` writes it. */
async function exportOf(server: RunningServer): Promise<string> {
  const run = await runCli(['export'], { env: { WEBHOOK_INBOX_URL: server.baseUrl } });
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

/** `count` valid export lines, numbered from 1, of the core form. */
function exportLines(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => {
    const core = {
      message_id: `${prefix}-${i + 1}`,
      from: '+14155550123',
      to: '+14155550100',
      ts: '2025-05-01T08:00:00Z',
      text: `n${i}`,
    };
    return JSON.stringify({
      ...core,
      type: null,
      source: 'spec',
      received_at: '2025-05-01T08:00:01.250Z',
      contact_name: null,
      reply_to: null,
      phone_number_id: null,
      raw: core,
    });
  });
}

function storedCount(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.prepare('SELECT count(*) FROM messages').pluck().get());
  } finally {
    db.close();
  }
}

describe('webhook-inbox import', () => {
  const tmp = tempDir();
  const postgres = useTestDatabase('cli-import');
  let source: RunningServer;
  let exported: string;
  let exportFile: string;

  beforeAll(async () => {
    source = await startServer({ env: { ...SECRETS, DATABASE_URL: `sqlite:///${tmp.dir}/source.db` } });
    const env = { WEBHOOK_INBOX_URL: source.baseUrl, ...SECRETS };
    for (const [i, text] of ['Hello', 'with, "quotes"\nand a line', null, 'ünïcödé 🚀'].entries()) {
      expect(
        (await postWebhook(source.baseUrl, SECRETS.WEBHOOK_SECRET, { ...message(`imp-${i}`, text as string), extra: { i } }))
          .status,
      ).toBe(200);
    }
    for (const args of [
      ['--whatsapp-fixture', 'image'],
      ['--whatsapp-fixture', 'text-reply-context'],
      ['--whatsapp-fixture', 'contacts'],
      ['--scheme', 'standard', '--id', 'imp-standard', '--text', 'standard'],
    ]) {
      const sent = await runCli(['send', ...args], { env });
      expect(sent.code, sent.stderr).toBe(0);
    }
    exported = await exportOf(source);
    exportFile = path.join(tmp.dir, 'source.ndjson');
    writeFileSync(exportFile, exported);
  });
  afterAll(async () => {
    await source.cleanup();
    tmp.cleanup();
  });

  it('into SQLite: adds every message, then skips them all; the import exports as the same bytes', async () => {
    expect(linesOf(exported)).toHaveLength(8);
    const target = path.join(tmp.dir, 'target.db');
    const databaseUrl = `sqlite:///${target}`;
    const first = await runCli(['import', exportFile, '--database-url', databaseUrl]);
    expect(first.code, first.stderr).toBe(0);
    expect(linesOf(first.stdout)).toEqual([`imported ${exportFile} into ${target}: 8 added, 0 skipped (already stored)`]);
    const again = await runCli(['import', exportFile], { env: { DATABASE_URL: databaseUrl } });
    expect(again.code, again.stderr).toBe(0);
    expect(linesOf(again.stdout)).toEqual([`imported ${exportFile} into ${target}: 0 added, 8 skipped (already stored)`]);

    const server = await startServer({ env: { ...SECRETS, DATABASE_URL: databaseUrl } });
    try {
      expect(await exportOf(server)).toBe(exported);
      // Imported messages are new events of the feed, each keeping its received_at.
      const feed = (await (await fetch(`${server.baseUrl}/feed`)).json()) as { data: { type: string; received_at: string }[] };
      const receivedAt = linesOf(exported).map((line) => (JSON.parse(line) as { received_at: string }).received_at);
      expect(feed.data.map((event) => event.type)).toEqual(Array(8).fill('message.created'));
      expect(feed.data.map((event) => event.received_at).sort()).toEqual([...receivedAt].sort());
    } finally {
      await server.cleanup();
    }
  });

  it('SQLite → NDJSON → PostgreSQL → NDJSON: the same bytes', async () => {
    const { url } = await postgres();
    const run = await runCli(['import', exportFile, '--database-url', url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/: 8 added, 0 skipped \(already stored\)\n$/);
    expect(run.stdout).not.toContain(new URL(url).password || 'no password');
    const server = await startServer({ env: { ...SECRETS, DATABASE_URL: url } });
    try {
      expect(await exportOf(server)).toBe(exported);
    } finally {
      await server.cleanup();
    }
  });

  it('a malformed line stops the import with its number; every chunk before its chunk is stored', async () => {
    const lines = exportLines(2500, 'bulk');
    lines[2202] = lines[2202]?.replace('"ts":"2025-05-01T08:00:00Z"', '"ts":"2025-05-01 08:00:00"') ?? '';
    const file = path.join(tmp.dir, 'malformed.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const target = path.join(tmp.dir, 'malformed.db');
    const run = await runCli(['import', file, '--chunk', '1000', '--database-url', `sqlite:///${target}`]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(errorLine(run, 'import')).toBe(
      `webhook-inbox import: ${file}: line 2203 is not a valid message: ts: Timestamp should be YYYY-MM-DDTHH:MM:SS[.fraction]Z ` +
        '(at most 64 fraction digits) naming a real UTC instant; lines 1-2000 were stored (2,000 added, 0 skipped) and nothing after them',
    );
    expect(storedCount(target)).toBe(2000);
  });

  it('starts with a chunk of 1,000 lines, each next one twice as large up to --chunk', async () => {
    const lines = exportLines(3500, 'ramp');
    lines[3199] = lines[3199]?.replace('"ts":"2025-05-01T08:00:00Z"', '"ts":"2025-05-01 08:00:00"') ?? '';
    const file = path.join(tmp.dir, 'ramp.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const target = path.join(tmp.dir, 'ramp.db');
    // Chunks of lines 1-1000, 1001-3000, then 3001-7000, which holds the bad line.
    const run = await runCli(['import', file, '--database-url', `sqlite:///${target}`]);
    expect(run.code).toBe(1);
    expect(errorLine(run, 'import')).toMatch(
      /: line 3200 is not a valid message: ts: .*; lines 1-3000 were stored \(3,000 added, 0 skipped\) and nothing after them$/,
    );
    expect(storedCount(target)).toBe(3000);
  });

  it('a chunk the database refuses stops the import with its last line; the chunks before it are stored, none after', async () => {
    // Chunks are read and checked while the one before is committed, and handed over before that
    // commit is done: the store refuses those that follow a failed one (an import sequence), so
    // nothing after a refused chunk is stored either.
    const file = path.join(tmp.dir, 'refused.ndjson');
    writeFileSync(file, `${exportLines(4500, 'refused').join('\n')}\n`);
    const target = path.join(tmp.dir, 'refused.db');
    openConnection(target).close();
    const db = new Database(target);
    try {
      db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.message_id = 'refused-2600'
               BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    } finally {
      db.close();
    }
    const run = await runCli(['import', file, '--chunk', '1000', '--database-url', `sqlite:///${target}`]);
    expect(run.code).toBe(1);
    expect(errorLine(run, 'import')).toBe(
      'webhook-inbox import: storing stopped at line 3000: refused by the test; lines 1-2000 were stored (2,000 added, 0 skipped)',
    );
    expect(storedCount(target)).toBe(2000);
  });

  it('names what is wrong with a line as the webhook would, and a file it cannot read', async () => {
    const [good = ''] = exportLines(1, 'one');
    const cases: [string, RegExp][] = [
      ['not json', /line 1 is not a valid message: line: JSON decode error: .*; nothing was stored$/],
      ['[1, 2]', /line 1 is not a valid message: line: Input should be a valid dictionary or object; nothing was stored$/],
      [good.replace('"from":"+14155550123"', '"from":"12"'), /line 1 is not a valid message: from: String should match pattern/],
      [
        good.replace('"source":"spec"', '"source":"smtp"'),
        /line 1 is not a valid message: source: expected one of spec, standard, whatsapp/,
      ],
      [good.replace('"received_at":"2025-05-01T08:00:01.250Z"', '"received_at":"yesterday"'), /received_at: expected YYYY-MM-DD/],
      [
        `${good}\n\n${good.replace('"message_id":"one-1"', '"message_id":""')}`,
        /line 3 is not a valid message: message_id: String should have at least 1 character/,
      ],
    ];
    for (const [text, expected] of cases) {
      const file = path.join(tmp.dir, 'bad.ndjson');
      writeFileSync(file, `${text}\n`);
      const run = await runCli(['import', file, '--database-url', `sqlite:///${tmp.dir}/bad.db`]);
      expect(run.code, text).toBe(1);
      expect(errorLine(run, 'import')).toMatch(expected);
    }
    const missing = await runCli([
      'import',
      path.join(tmp.dir, 'missing.ndjson'),
      '--database-url',
      `sqlite:///${tmp.dir}/bad.db`,
    ]);
    expect(missing.code).toBe(1);
    expect(errorLine(missing, 'import')).toBe(
      `webhook-inbox import: cannot read ${path.join(tmp.dir, 'missing.ndjson')}: ENOENT`,
    );
  });

  it('reads standard input when the file is "-"', async () => {
    const target = path.join(tmp.dir, 'stdin.db');
    const run = await runCli(['import', '-', '--database-url', `sqlite:///${target}`], {
      input: `${exportLines(3, 'stdin').join('\r\n')}\r\n`,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(linesOf(run.stdout)).toEqual([`imported - into ${target}: 3 added, 0 skipped (already stored)`]);
  });
});
