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
  {
    version: 2,
    name: 'trigram text index and hourly counts',
    sql: `
      -- Rows per UTC hour of the instant ('YYYY-MM-DDTHH'), so an exact total for ?since= adds up
      -- whole hours and counts rows only inside the hour the since falls in.
      CREATE TABLE hour_counts (
        hour  TEXT PRIMARY KEY,
        count INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO hour_counts (hour, count) SELECT substr(ts_key, 1, 13), count(*) FROM messages GROUP BY 1;
      CREATE TRIGGER messages_hour_insert AFTER INSERT ON messages BEGIN
        INSERT INTO hour_counts (hour, count) VALUES (substr(NEW.ts_key, 1, 13), 1)
          ON CONFLICT (hour) DO UPDATE SET count = count + 1;
      END;

      -- Substring search for ?q= on the folded text: trigrams serve any term of 3 or more
      -- characters. The text is folded by the application (foldCase), so the index is case-sensitive.
      CREATE VIRTUAL TABLE messages_fts USING fts5(
        text_folded, content = 'messages', content_rowid = 'id', tokenize = 'trigram case_sensitive 1'
      );
      INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
      CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NEW.text_folded IS NOT NULL BEGIN
        INSERT INTO messages_fts (rowid, text_folded) VALUES (NEW.id, NEW.text_folded);
      END;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = sqliteMigrations.reduce((max, m) => Math.max(max, m.version), 0);
