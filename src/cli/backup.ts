// `webhook-inbox backup --output F`: a consistent copy of a SQLite database while the service keeps
// storing webhooks, made with SQLite's online backup API, then opened and checked before it is
// given its name. PostgreSQL has its own tools: the command says which to run.

import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { CliError, commandConfig, type DatabaseOptions, type Env, formatCount, withDatabaseOption } from './command.js';

interface BackupOptions extends DatabaseOptions {
  readonly output: string;
  readonly force?: boolean;
}

export function backupCommand(program: Command, env: Env): Command {
  return withDatabaseOption(
    program
      .command('backup')
      .summary('copy a live SQLite database, consistently, and check the copy')
      .description(
        'Copies the SQLite database to --output while the service keeps running and storing webhooks: the copy holds ' +
          'every message committed before the backup began, as of one moment. The copy is one self-contained file, ' +
          'checked with PRAGMA integrity_check before it takes its name. For PostgreSQL it prints the pg_dump command ' +
          'to run instead, and exits non-zero.',
      )
      .requiredOption('--output <file>', 'where to write the copy')
      .option('--force', 'replace --output when it exists'),
  ).action(async (_options: unknown, command: Command) => {
    await backup(command.opts<BackupOptions>(), env);
  });
}

/** The pg_dump command for a PostgreSQL URL, with the password left out (pg_dump asks for it, or reads PGPASSWORD). */
function pgDumpCommand(url: string): string {
  const safe = new URL(url);
  if (safe.password !== '') safe.password = '';
  return `pg_dump --format=custom --file=backup.dump '${safe.href}'`;
}

async function backup(options: BackupOptions, env: Env): Promise<void> {
  const { database } = commandConfig(env, options);
  if (database.kind === 'postgres') {
    throw new CliError(`backup copies SQLite databases; for PostgreSQL run: ${pgDumpCommand(database.url)}`);
  }
  if (database.kind !== 'sqlite' || database.path === ':memory:')
    throw new CliError(`there is no database file to copy: ${database.url}`);
  if (!existsSync(database.path)) throw new CliError(`no database at ${database.path}`);

  const output = path.resolve(options.output);
  if (output === database.path) throw new CliError('--output is the database itself');
  if (existsSync(output) && options.force !== true) throw new CliError(`${options.output} exists; pass --force to replace it`);
  if (!existsSync(path.dirname(output))) throw new CliError(`the folder of ${options.output} does not exist`);

  // Written beside the output, so the final rename stays on one file system and never leaves a
  // half-written file under the output's name.
  const partial = `${output}.partial-${process.pid}`;
  const removePartial = () =>
    Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(`${partial}${suffix}`, { force: true })));
  let messages: number;
  try {
    const source = new Database(database.path, { fileMustExist: true });
    try {
      // The service writes all the time; wait for its locks rather than fail.
      source.pragma('busy_timeout = 10000');
      // One step copies every page: a backup step reads inside one transaction, so the copy is the
      // database as of that moment. In smaller steps, each commit of the service in between would
      // start the copy over, and a busy inbox could keep it from ever finishing.
      await source.backup(partial, { progress: () => 0x7fffffff });
    } finally {
      source.close();
    }
    const copy = new Database(partial, { fileMustExist: true });
    try {
      const verdict = copy.pragma('integrity_check', { simple: true });
      if (verdict !== 'ok') throw new CliError(`the copy failed PRAGMA integrity_check: ${String(verdict)}`);
      // The service runs in WAL mode; the copy is one file on its own (the service switches it back
      // when it opens it after a restore).
      copy.pragma('journal_mode = DELETE');
      messages = Number(copy.prepare('SELECT count(*) FROM messages').pluck().get());
    } finally {
      copy.close();
    }
    await rename(partial, output);
  } catch (error) {
    await removePartial();
    if (error instanceof CliError) throw error;
    throw new CliError(`the backup failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  process.stdout.write(
    `backed up ${database.path} to ${options.output}: ${formatCount(messages)} messages, integrity_check ok\n`,
  );
}
