// `webhook-inbox seed`: synthetic messages into an empty database; a database that holds messages
// already is refused unless --force, and keeps what it had.

import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { errorLine, linesOf, runCli } from './cli.js';

function stored(file: string): { messages: number; senders: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      messages: Number(db.prepare('SELECT count(*) FROM messages').pluck().get()),
      senders: Number(db.prepare('SELECT count(DISTINCT from_number) FROM messages').pluck().get()),
    };
  } finally {
    db.close();
  }
}

describe('webhook-inbox seed', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('fills an empty database, refuses it once it holds messages, and adds more with --force', async () => {
    const file = path.join(tmp.dir, 'seeded.db');
    const env = { DATABASE_URL: `sqlite:///${file}` };
    const first = await runCli(['seed', '--count', '300', '--senders', '7'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(linesOf(first.stdout)).toHaveLength(1);
    expect(first.stdout).toMatch(new RegExp(`^seeded 300 messages \\(300 created, 0 already there\\) in .* into ${file}\\n$`));
    expect(stored(file).messages).toBe(300);
    expect(stored(file).senders).toBeLessThanOrEqual(7);

    const refused = await runCli(['seed', '--count', '10'], { env });
    expect(refused.code).toBe(1);
    expect(errorLine(refused, 'seed')).toBe(
      `webhook-inbox seed: ${file} already holds 300 messages; pass --force to add synthetic ones`,
    );
    expect(stored(file).messages).toBe(300);

    const forced = await runCli(['seed', '--count', '10', '--seed', '2', '--force'], { env });
    expect(forced.code, forced.stderr).toBe(0);
    expect(stored(file).messages).toBe(310);
  });

  it('the same --seed and --until give the same messages', async () => {
    const dump = async (name: string) => {
      const file = path.join(tmp.dir, name);
      const run = await runCli([
        'seed',
        '--count',
        '50',
        '--seed',
        '9',
        '--until',
        '2025-06-01T00:00:00Z',
        '--database-url',
        `sqlite:///${file}`,
      ]);
      expect(run.code, run.stderr).toBe(0);
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT message_id, from_number, ts, text FROM messages ORDER BY message_id').all();
      } finally {
        db.close();
      }
    };
    expect(await dump('a.db')).toEqual(await dump('b.db'));
  });
});
