// A SQLite file as an earlier release of the schema left it, for the tests of upgrades: the
// migrations up to that version applied, and rows written by the store's writer.

import Database from 'better-sqlite3';
import { sqliteMigrations } from '../../src/store/sqlite/migrations.js';
import { SqliteWriter } from '../../src/store/sqlite/writer.js';

/**
 * Makes `file` at schema `version` (6 or later) and lets `write` store rows with a writer on it.
 * Releases 6 and 7 wrote the rows today's writer writes, without the rowid a message event keeps
 * since migration 8: below 8 the column is added while `write` runs, then dropped again, so the
 * file holds exactly what the release wrote. Likewise below 9, the tables of the conversations'
 * order and the recipients' conversation counts: the release kept its order in indexes of
 * conversations, which are there until 9 and kept by SQLite itself. Below 10, the table of
 * leading senders and its bound: the release ranked senders with an index, there until 10.
 */
export function fileAtRelease(file: string, version: number, write: (writer: SqliteWriter) => void): void {
  if (version < 6) throw new Error('test bug: releases before 6 wrote other rows (see fileAtVersion in sqlite.test.ts)');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const migration of sqliteMigrations.filter((m) => m.version <= version)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        '2025-01-01T00:00:00.000Z',
      );
    }
    if (version < 8) db.exec('ALTER TABLE events ADD COLUMN message_row INTEGER');
    if (version < 9) {
      db.exec(`
        CREATE TABLE conversation_order (last_ts_key, from_number, to_number, PRIMARY KEY (last_ts_key, from_number, to_number)) WITHOUT ROWID;
        CREATE TABLE conversation_order_by_recipient (to_number, last_ts_key, from_number, PRIMARY KEY (to_number, last_ts_key, from_number)) WITHOUT ROWID;
        CREATE TABLE conversation_order_stale (id INTEGER PRIMARY KEY, last_ts_key, from_number, to_number);
        ALTER TABLE recipient_counts ADD COLUMN conversations INTEGER NOT NULL DEFAULT 0;
      `);
    }
    if (version < 10) {
      db.exec(`
        CREATE TABLE leading_senders (sender TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
        ALTER TABLE totals ADD COLUMN leading_bound_sender TEXT;
        ALTER TABLE totals ADD COLUMN leading_bound_count INTEGER;
      `);
    }
    write(new SqliteWriter(db));
    if (version < 10) {
      db.exec(`
        DROP TABLE leading_senders;
        ALTER TABLE totals DROP COLUMN leading_bound_sender;
        ALTER TABLE totals DROP COLUMN leading_bound_count;
      `);
    }
    if (version < 8) db.exec('ALTER TABLE events DROP COLUMN message_row');
    if (version < 9) {
      db.exec(`
        DROP TABLE conversation_order;
        DROP TABLE conversation_order_by_recipient;
        DROP TABLE conversation_order_stale;
        ALTER TABLE recipient_counts DROP COLUMN conversations;
      `);
    }
  } finally {
    db.close();
  }
}
