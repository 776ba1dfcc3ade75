// Opening a SQLite file the way every connection of the service needs it: WAL, synchronous=FULL,
// and the schema migrated to the version this code expects; and noticing when the path no longer
// names the files that were opened.

import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Migration } from '../migration.js';
import { StoreUnavailable } from '../store.js';
import { sqliteMigrations } from './migrations.js';

function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  // IMMEDIATE takes the write lock first, so two connections (or processes) opening one file
  // apply each migration once: the second waits (busy_timeout), then sees it applied.
  const applyPending = db.transaction(() => {
    const applied = new Set(
      db
        .prepare('SELECT version FROM schema_migrations')
        .pluck()
        .all()
        .map((v) => Number(v)),
    );
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
    }
  });
  applyPending.immediate();
}

/**
 * What a connection is for. A reader keeps a large page cache for the hot parts of the indexes.
 * The writer thread's connection keeps SQLite's default 2 MiB: at the end of every transaction
 * SQLite walks its whole page cache, which with 64 MiB cost more per small commit than re-reading
 * pages from the operating system's cache does (`npm run bench:commits` shows the difference).
 * An export connection keeps 2 MiB too: an export reads every page of the messages once, in
 * order, so a large cache would only fill with pages it never reads again (growing the process by
 * as much, and pushing out the pages the other reads keep going back to).
 */
export type ConnectionRole = 'reader' | 'writer' | 'export';

const CACHE_KIB: Record<ConnectionRole, number> = { reader: 65536, writer: 2048, export: 2048 };

/**
 * A writer's page cache for bulk loads (`webhook-inbox import`, in a process of its own): a
 * transaction of thousands of rows touches thousands of index pages, which a 2 MiB cache would
 * keep reading back from the operating system, commit after commit. Importing the benchmark's
 * 1,000,000 messages 20,000 lines a transaction took 51 s with this (twice), 68 s with 2 MiB and
 * 60 s with 256 MiB.
 */
export const BULK_WRITER_CACHE_KIB = 65536;

/**
 * A bulk load's checkpoint interval, in pages of log (about 400 MB): each transaction of an import
 * rewrites most leaves of the random indexes (message_id, sender, conversations), and every
 * checkpoint copies each page it finds in the log back to the database once. Checkpointed every
 * 10,000 pages, as the service does, the log was copied back after almost every transaction;
 * every 100,000, once in several. Importing the benchmark's 1,000,000 messages took 37.6 s instead
 * of 42.1 s. The log grows to about that size (plus one transaction) before it is copied back and
 * reused, and is removed when the import closes the database. A service writing to the same file
 * meanwhile checkpoints at its own 10,000 pages.
 */
export const BULK_WRITER_AUTOCHECKPOINT_PAGES = 100_000;

/**
 * Opens (creating the folder and file if needed) and migrates; ':memory:' is for tests only.
 * `mustExist`: fail rather than create the file (a connection added to a store already open).
 * `cacheKiB`: a page cache of this size instead of the role's. `autocheckpointPages`: a checkpoint
 * interval instead of 10,000 pages.
 */
export function openConnection(
  file: string,
  role: ConnectionRole = 'reader',
  options: { readonly mustExist?: boolean; readonly cacheKiB?: number; readonly autocheckpointPages?: number } = {},
): Database.Database {
  if (file !== ':memory:' && options.mustExist !== true) mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { fileMustExist: options.mustExist === true });
  try {
    db.pragma('journal_mode = WAL');
    // FULL: every commit is synced to disk before it returns, so a 200 means the row is on disk.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma(`cache_size = -${options.cacheKiB ?? CACHE_KIB[role]}`);
    // Checkpoint the WAL every ~40 MB instead of every 4 MB: index pages that many small commits
    // touch again and again are copied back to the database once instead of ten times, and a
    // commit that happens to run the checkpoint stalls ten times less often.
    db.pragma(`wal_autocheckpoint = ${options.autocheckpointPages ?? 10000}`);
    migrate(db, sqliteMigrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** One file, as the operating system tells files apart. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** The files an open database consists of: the database file and, once it exists, its -wal. */
export interface FileIdentities {
  readonly db: FileIdentity;
  readonly wal: FileIdentity | null;
}

function identify(file: string): FileIdentity | null {
  const stats = statSync(file, { throwIfNoEntry: false });
  return stats === undefined ? null : { dev: stats.dev, ino: stats.ino };
}

function sameFile(a: FileIdentity, b: FileIdentity | null): boolean {
  return b !== null && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Whether a path still names the database files that were opened on it. An open connection keeps
 * writing into a file that was deleted or renamed away (the operating system frees it only once
 * the last descriptor closes), so without this check every commit after an `rm` is acknowledged
 * into a file that the next start will not find. Only the -wal is checked besides the database:
 * while any connection is open SQLite rewinds or truncates the -wal but never deletes it (it goes
 * only when the last connection closes), so a different -wal means someone else removed it, and
 * the commits it held that were not yet copied into the database file are gone with it.
 */
export class OpenedFiles {
  readonly path: string;
  readonly identities: FileIdentities;
  /** Once the files are found gone, they stay gone: data acknowledged before is in the unlinked ones. */
  #lost: StoreUnavailable | null = null;

  /** What `file` names now: call right after a connection has opened it (and so created the -wal). */
  static of(file: string): OpenedFiles {
    const db = identify(file);
    if (db === null) throw new StoreUnavailable(`the database file ${file} does not exist`);
    return new OpenedFiles(file, { db, wal: identify(`${file}-wal`) });
  }

  constructor(file: string, identities: FileIdentities) {
    this.path = file;
    this.identities = identities;
  }

  /**
   * Throws StoreUnavailable if the path no longer names the files that were opened, and from then
   * on always. Never opens anything in their place: an empty file at the path would take new
   * writes while what was acknowledged before sits in the unlinked file.
   */
  check(): void {
    if (this.#lost !== null) throw this.#lost;
    const { db, wal } = this.identities;
    let gone: string;
    if (!sameFile(db, identify(this.path))) gone = `the database file ${this.path}`;
    else if (wal !== null && !sameFile(wal, identify(`${this.path}-wal`))) gone = `the database file's log ${this.path}-wal`;
    else return;
    this.#lost = new StoreUnavailable(
      `${gone} was deleted or replaced while open; writes are refused, since nothing ` +
        'acknowledged into the unlinked file would survive a restart. What was committed until then is only in that ' +
        `file, which this process still holds open: restore it (on Linux, copy it and its -wal from /proc/${process.pid}/fd ` +
        'before the process stops) or restart the service to carry on with the file now at the path.',
    );
    throw this.#lost;
  }
}
