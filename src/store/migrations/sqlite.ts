// Versioned SQLite schema. A migration, once released, never changes: add a new one instead.

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'messages with aggregates',
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

      -- Aggregates for /stats and for exact totals, kept in the inserting transaction by a trigger,
      -- so reading them never scans the messages.
      CREATE TABLE sender_counts (
        sender TEXT PRIMARY KEY,
        count  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX sender_counts_by_rank ON sender_counts (count DESC, sender);
      CREATE TABLE totals (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        messages INTEGER NOT NULL,
        senders  INTEGER NOT NULL
      );
      INSERT INTO totals (id, messages, senders) VALUES (1, 0, 0);

      CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
        UPDATE totals SET
          messages = messages + 1,
          senders = senders + NOT EXISTS (SELECT 1 FROM sender_counts WHERE sender = NEW.from_number)
        WHERE id = 1;
        INSERT INTO sender_counts (sender, count) VALUES (NEW.from_number, 1)
          ON CONFLICT (sender) DO UPDATE SET count = count + 1;
      END;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = sqliteMigrations.reduce((max, m) => Math.max(max, m.version), 0);
