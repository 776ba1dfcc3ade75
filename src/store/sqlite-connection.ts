// Opening a SQLite file the way every connection of the service needs it: WAL, synchronous=FULL,
// and the schema migrated to the version this code expects.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type Migration, sqliteMigrations } from './migrations/sqlite.js';

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
 */
export type ConnectionRole = 'reader' | 'writer';

const CACHE_KIB: Record<ConnectionRole, number> = { reader: 65536, writer: 2048 };

/** Opens (creating the folder and file if needed) and migrates; ':memory:' is for tests only. */
export function openConnection(file: string, role: ConnectionRole = 'reader'): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // FULL: every commit is synced to disk before it returns, so a 200 means the row is on disk.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma(`cache_size = -${CACHE_KIB[role]}`);
    // Checkpoint the WAL every ~40 MB instead of every 4 MB: index pages that many small commits
    // touch again and again are copied back to the database once instead of ten times, and a
    // commit that happens to run the checkpoint stalls ten times less often.
    db.pragma('wal_autocheckpoint = 10000');
    migrate(db, sqliteMigrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
