// `webhook-inbox backup` of a live SQLite database: taken while webhooks keep being stored, the copy
// holds every message acknowledged before the backup began and passes integrity_check; an existing
// file is replaced only with --force; PostgreSQL is pointed at pg_dump.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, postWebhook, runPool } from '../e2e/client.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { errorLine, linesOf, runCli } from './cli.js';

const SECRET = 'cli-backup-secret';

describe('webhook-inbox backup', () => {
  const tmp = tempDir();
  const database = path.join(tmp.dir, 'live.db');
  const databaseUrl = `sqlite:///${database}`;
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: databaseUrl } });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('copies the database while webhooks are stored: every message acknowledged before it began is in the copy', async () => {
    const acknowledged: { id: string; at: number }[] = [];
    let stop = false;
    const ids = (function* () {
      for (let i = 0; i < 20_000; i++) yield `live-${i}`;
    })();
    // Four senders, bounded in count, until the backup is done.
    const senders = runPool(
      ids,
      4,
      async (id) => {
        const { status } = await postWebhook(server.baseUrl, SECRET, message(id));
        if (status === 200) acknowledged.push({ id, at: performance.now() });
      },
      () => stop,
    );
    while (acknowledged.length < 300) await new Promise((resolve) => setTimeout(resolve, 20));

    const copy = path.join(tmp.dir, 'copy.db');
    const began = performance.now();
    const run = await runCli(['backup', '--output', copy], { env: { DATABASE_URL: databaseUrl } });
    stop = true;
    await senders;
    expect(run.code, run.stderr).toBe(0);

    const before = acknowledged.filter((ack) => ack.at < began).map((ack) => ack.id);
    expect(before.length).toBeGreaterThanOrEqual(300);
    const db = new Database(copy, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
      const inCopy = new Set(db.prepare('SELECT message_id FROM messages').pluck().all() as string[]);
      expect(before.filter((id) => !inCopy.has(id))).toEqual([]);
      expect(linesOf(run.stdout)).toEqual([
        `backed up ${database} to ${copy}: ${inCopy.size.toLocaleString('en-US')} messages, integrity_check ok`,
      ]);
    } finally {
      db.close();
    }
    // The service went on storing: the copy is a snapshot, the database moved on.
    expect(acknowledged.length).toBeGreaterThan(before.length);
    expect(existsSync(`${copy}-wal`)).toBe(false);
  });

  it('refuses an existing file without --force, and replaces it with --force', async () => {
    const target = path.join(tmp.dir, 'existing.db');
    writeFileSync(target, 'not a backup');
    const refused = await runCli(['backup', '--output', target, '--database-url', databaseUrl]);
    expect(refused.code).toBe(1);
    expect(errorLine(refused, 'backup')).toBe(`webhook-inbox backup: ${target} exists; pass --force to replace it`);
    expect(readFileSync(target, 'utf8')).toBe('not a backup');

    const forced = await runCli(['backup', '--output', target, '--force', '--database-url', databaseUrl]);
    expect(forced.code, forced.stderr).toBe(0);
    const db = new Database(target, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });

  it('for PostgreSQL, a missing database or the database itself: one line, exit 1', async () => {
    const output = path.join(tmp.dir, 'pg.db');
    const postgres = await runCli([
      'backup',
      '--output',
      output,
      '--database-url',
      'postgres://inbox:s3cret@db.internal:5432/inbox',
    ]);
    expect(postgres.code).toBe(1);
    expect(errorLine(postgres, 'backup')).toBe(
      "webhook-inbox backup: backup copies SQLite databases; for PostgreSQL run: pg_dump --format=custom --file=backup.dump 'postgres://inbox@db.internal:5432/inbox'",
    );
    const missing = path.join(tmp.dir, 'missing.db');
    const absent = await runCli(['backup', '--output', output, '--database-url', `sqlite:///${missing}`]);
    expect(errorLine(absent, 'backup')).toBe(`webhook-inbox backup: no database at ${missing}`);
    expect(existsSync(missing)).toBe(false);
    const itself = await runCli(['backup', '--output', database, '--force', '--database-url', databaseUrl]);
    expect(errorLine(itself, 'backup')).toBe('webhook-inbox backup: --output is the database itself');
    expect(existsSync(output)).toBe(false);
  });
});
