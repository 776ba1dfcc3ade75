// Versioned SQLite schema, applied at start by openConnection (connection.ts). A migration, once
// released, never changes: add a new one instead.

import type { Migration } from '../migration.js';

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'messages, aggregates and text index',
    sql: `
      CREATE TABLE messages (
        id          INTEGER PRIMARY KEY,
        message_id  TEXT NOT NULL UNIQUE,
        from_number TEXT NOT NULL,
        to_number   TEXT NOT NULL,
        ts          TEXT NOT NULL,   -- exactly as sent, for display
        ts_key      TEXT NOT NULL,   -- the instant, byte-ordered (see instantKey), for order and since
        text        TEXT,
        text_folded TEXT,            -- foldCase(text), for the case-insensitive q filter
        created_at  TEXT NOT NULL
      );
      CREATE INDEX messages_by_instant ON messages (ts_key, message_id);
      CREATE INDEX messages_by_sender ON messages (from_number, ts_key, message_id);

      -- Aggregates, updated by the store in the transaction that inserts the rows, so /stats and
      -- exact totals never scan the messages.
      CREATE TABLE totals (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        messages INTEGER NOT NULL,
        senders  INTEGER NOT NULL
      );
      INSERT INTO totals (id, messages, senders) VALUES (1, 0, 0);
      CREATE TABLE sender_counts (
        sender TEXT PRIMARY KEY,
        count  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX sender_counts_by_rank ON sender_counts (count DESC, sender);
      -- Rows per UTC hour of the instant ('YYYY-MM-DDTHH'): a total for ?since= adds up whole
      -- hours and counts rows only inside the hour the since falls in.
      CREATE TABLE hour_counts (
        hour  TEXT PRIMARY KEY,
        count INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Candidates for ?q=: every 3-character sequence of the folded text. detail=none keeps
      -- the index small and cheap to write; the exact substring test (instr) runs on the candidates.
      CREATE VIRTUAL TABLE messages_trigrams USING fts5(
        text_folded, content = 'messages', content_rowid = 'id',
        tokenize = 'trigram case_sensitive 1', detail = 'none'
      );
    `,
  },
  {
    version: 2,
    name: 'text index built behind the writes',
    sql: `
      -- The trigram index is no longer written in the transaction that acknowledges a webhook:
      -- the writer adds rows to it later, in chunks, and records here how far it has got. Rows
      -- after indexed_upto are searched by scanning them (see SqliteStore), so ?q= stays exact.
      -- Rows stored before this migration were indexed as they were written.
      CREATE TABLE text_index_progress (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_upto INTEGER NOT NULL
      );
      INSERT INTO text_index_progress (id, indexed_upto) SELECT 1, coalesce(max(id), 0) FROM messages;
    `,
  },
  {
    version: 3,
    name: 'message types, delivery statuses and dead letters',
    sql: `
      -- The provider's message type ("text", "image", …); null for core-form messages, which have none.
      -- Adding a nullable column without a default rewrites nothing: old rows read it as null.
      ALTER TABLE messages ADD COLUMN type TEXT;

      -- What a provider reports about a message (usually one the business sent): each status of
      -- a message is kept once, the first report of it wins. No list of status names here: the
      -- ingest decides which it accepts, and a new one needs no table rebuild.
      -- The key serves both the duplicate check and the reading of one message's statuses.
      CREATE TABLE delivery_statuses (
        message_id   TEXT NOT NULL,
        status       TEXT NOT NULL,
        ts           TEXT NOT NULL,   -- as received, in the UTC form
        ts_key       TEXT NOT NULL,   -- the instant, byte-ordered (see instantKey), for order
        recipient_id TEXT,
        errors       TEXT,            -- JSON text of the provider's errors array
        created_at   TEXT NOT NULL,
        PRIMARY KEY (message_id, status)
      ) WITHOUT ROWID;

      -- Items of a delivery that could not be read, kept whole with the reason. Read oldest
      -- first, by id: rows are never deleted, so a new id is always larger than every earlier one.
      CREATE TABLE dead_letters (
        id          INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        source      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        item        TEXT NOT NULL,    -- JSON text of the item
        item_hash   TEXT NOT NULL,    -- sha256 of item: a redelivered item is kept once
        item_id     TEXT
      );
      CREATE UNIQUE INDEX dead_letters_once ON dead_letters (source, kind, item_hash);
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = sqliteMigrations.reduce((max, m) => Math.max(max, m.version), 0);
