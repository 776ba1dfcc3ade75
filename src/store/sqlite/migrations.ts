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
  {
    version: 4,
    name: 'what providers sent, and the aggregates of inbox reads',
    sql: `
      -- What a message keeps besides the core fields. Nullable columns without defaults: adding
      -- them rewrites nothing, and rows from before read them as null. A null source reads as
      -- "whatsapp" when the row has a type and "spec" otherwise (the best that is known of it); a
      -- null raw with a source set is the core form's body, rebuilt from the row (see
      -- delivery-rows.ts), so the commonest message does not store its fields twice.
      -- created_at is when the store took the message in: the received_at it reads back.
      ALTER TABLE messages RENAME COLUMN created_at TO received_at;
      ALTER TABLE messages ADD COLUMN source TEXT;
      ALTER TABLE messages ADD COLUMN raw TEXT;              -- JSON text as the provider sent it
      ALTER TABLE messages ADD COLUMN contact_name TEXT;
      ALTER TABLE messages ADD COLUMN reply_to TEXT;
      ALTER TABLE messages ADD COLUMN phone_number_id TEXT;  -- WhatsApp metadata.phone_number_id

      -- First pages of ?to= and ?type= in either order, whatever the value. Core-form messages
      -- have no type, so the partial index holds only provider messages.
      CREATE INDEX messages_by_recipient ON messages (to_number, ts_key, message_id);
      CREATE INDEX messages_by_type ON messages (type, ts_key, message_id) WHERE type IS NOT NULL;

      -- Exact totals of ?to= and ?type= without counting, kept like sender_counts.
      CREATE TABLE recipient_counts (
        recipient TEXT PRIMARY KEY,
        count     INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE type_counts (
        type  TEXT PRIMARY KEY,
        count INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- One row per (from, to) pair, updated in the transaction that inserts its messages. The
      -- first, last and contact messages are kept with their (ts_key, message_id) place, so a later
      -- write compares against them.
      CREATE TABLE conversations (
        from_number        TEXT NOT NULL,
        to_number          TEXT NOT NULL,
        messages           INTEGER NOT NULL,
        first_ts_key       TEXT NOT NULL,
        first_message_id   TEXT NOT NULL,
        first_ts           TEXT NOT NULL,
        last_ts_key        TEXT NOT NULL,
        last_message_id    TEXT NOT NULL,
        last_ts            TEXT NOT NULL,
        last_text          TEXT,
        last_type          TEXT,
        contact_name       TEXT,
        contact_ts_key     TEXT,
        contact_message_id TEXT,
        PRIMARY KEY (from_number, to_number)
      ) WITHOUT ROWID;
      CREATE INDEX conversations_by_recency ON conversations (last_ts_key DESC, from_number, to_number);
      CREATE INDEX conversations_by_recipient ON conversations (to_number, last_ts_key DESC, from_number);
      ALTER TABLE totals ADD COLUMN conversations INTEGER NOT NULL DEFAULT 0;

      -- The aggregates of the rows already stored.
      INSERT INTO recipient_counts (recipient, count) SELECT to_number, count(*) FROM messages GROUP BY to_number;
      INSERT INTO type_counts (type, count) SELECT type, count(*) FROM messages WHERE type IS NOT NULL GROUP BY type;
      INSERT INTO conversations (from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                                 last_ts_key, last_message_id, last_ts, last_text, last_type)
        SELECT f.from_number, f.to_number, f.n, f.ts_key, f.message_id, f.ts, l.ts_key, l.message_id, l.ts, l.text, l.type
        FROM (SELECT from_number, to_number, ts_key, message_id, ts,
                     count(*) OVER (PARTITION BY from_number, to_number) AS n,
                     row_number() OVER (PARTITION BY from_number, to_number ORDER BY ts_key, message_id) AS r
              FROM messages) AS f
        JOIN (SELECT from_number, to_number, ts_key, message_id, ts, text, type,
                     row_number() OVER (PARTITION BY from_number, to_number ORDER BY ts_key DESC, message_id DESC) AS r
              FROM messages) AS l
          ON l.from_number = f.from_number AND l.to_number = f.to_number AND l.r = 1
        WHERE f.r = 1;
      UPDATE totals SET conversations = (SELECT count(*) FROM conversations) WHERE id = 1;
    `,
  },
  {
    version: 5,
    name: 'the feed: every stored event in commit order',
    sql: `
      -- One row per stored message, delivery status and dead letter, written in the transaction
      -- that stores it. The single writer commits one transaction at a time, so the rowid it hands
      -- out is commit order; AUTOINCREMENT keeps a position from ever being handed out twice, even
      -- after the newest events are removed. An event names its row and keeps no copy of it.
      CREATE TABLE events (
        position    INTEGER PRIMARY KEY AUTOINCREMENT,
        type        TEXT NOT NULL,     -- message.created, status.created or dead_letter.created
        message_id  TEXT,              -- message.created and status.created
        status      TEXT,              -- status.created
        dead_letter INTEGER,           -- dead_letter.created: dead_letters.id
        received_at TEXT NOT NULL      -- when the store took the row in (the commit's server time)
      );
      -- Finding the event of a row (to remove it with the row).
      CREATE INDEX events_by_message ON events (message_id, status) WHERE message_id IS NOT NULL;
      CREATE INDEX events_by_dead_letter ON events (dead_letter) WHERE dead_letter IS NOT NULL;

      -- The rows stored before, in the order they were received (ties: messages, then statuses,
      -- then dead letters; messages and dead letters in the order they were inserted, statuses by
      -- their key).
      INSERT INTO events (type, message_id, status, dead_letter, received_at)
        SELECT type, message_id, status, dead_letter, received_at FROM (
          SELECT 'message.created' AS type, message_id, NULL AS status, NULL AS dead_letter, received_at, 0 AS kind, id AS seq
            FROM messages
          UNION ALL
          SELECT 'status.created', message_id, status, NULL, created_at, 1, 0 FROM delivery_statuses
          UNION ALL
          SELECT 'dead_letter.created', NULL, NULL, id, received_at, 2, id FROM dead_letters
        ) ORDER BY received_at, kind, seq, message_id, status;
    `,
  },
  {
    version: 6,
    name: 'each row names its feed event',
    sql: `
      -- The position of a row's event, kept in the row: whoever removes the row finds its event
      -- there. It replaces the events' indexes by message and by dead letter, which cost every
      -- stored message an insert at a random place in another B-tree (about a sixth of the pages
      -- a small commit wrote). The writer hands the position out before it inserts the row.
      ALTER TABLE messages ADD COLUMN event INTEGER;
      ALTER TABLE delivery_statuses ADD COLUMN event INTEGER;
      ALTER TABLE dead_letters ADD COLUMN event INTEGER;
      UPDATE messages SET event =
        (SELECT position FROM events WHERE events.message_id = messages.message_id AND events.status IS NULL);
      UPDATE delivery_statuses SET event =
        (SELECT position FROM events WHERE events.message_id = delivery_statuses.message_id
                                       AND events.status = delivery_statuses.status);
      UPDATE dead_letters SET event = (SELECT position FROM events WHERE events.dead_letter = dead_letters.id);
      DROP INDEX events_by_message;
      DROP INDEX events_by_dead_letter;

      -- Feed reads of some types: each type's events in position order. New events go at the end
      -- of their type's part, so a commit adds to a page or two.
      CREATE INDEX events_by_type ON events (type, position);
    `,
  },
  {
    version: 7,
    name: 'rows found by age, and text erased from the index for good',
    sql: `
      -- Retention removes the oldest rows first and asks for the oldest one kept: each table's
      -- rows in the order they were received, ties by key (an index holds the rowid, or the key
      -- of a table without one, after its columns). Rows are deleted from now on, so an id of
      -- dead_letters may be handed out again once every row above it is gone: it is still larger
      -- than every id kept, which is all the listing's order needs.
      CREATE INDEX messages_by_arrival ON messages (received_at, message_id);
      CREATE INDEX delivery_statuses_by_arrival ON delivery_statuses (created_at);
      CREATE INDEX dead_letters_by_arrival ON dead_letters (received_at);

      -- An erased row's trigrams are taken out of the index's pages at once instead of being
      -- masked by a delete marker (which leaves them in the file until segments merge). Kept in
      -- the index's own configuration, so every connection deletes this way.
      INSERT INTO messages_trigrams (messages_trigrams, rank) VALUES ('secure-delete', 1);
    `,
  },
  {
    version: 8,
    name: 'feed events name their message by rowid',
    sql: `
      -- A message.created event keeps the rowid of its message (messages.id), so a page of the
      -- feed reads its messages by rowid: consecutive events name consecutive rowids (the writer
      -- hands out both in commit order), so a page reads a few neighbouring pages of the table.
      -- By message_id it went through the unique index first, one lookup at a random place per
      -- event. message_id stays: status events need it, and removals find events by position.
      -- Null for the other types (a dead letter's rowid is in dead_letter already; statuses have
      -- no rowid). The rowid of a removed row may be handed out again, but its event goes in the
      -- same transaction, so no event names a row it did not create.
      ALTER TABLE events ADD COLUMN message_row INTEGER;
      -- Each message names its event (migration 6): walk the messages, find each event by its
      -- position, the events' rowid.
      UPDATE events SET message_row = m.id FROM messages AS m WHERE m.event = events.position;
    `,
  },
  {
    version: 9,
    name: 'conversations in order of their last message, old entries removed behind the writes',
    sql: `
      -- The two indexes of conversations by their last message moved an entry on every message:
      -- the old one deleted at a random place, the new one added at the end. Each delete dirtied a
      -- page of its own, about a fifth of what a small commit wrote. They become tables the writer
      -- only adds to in the transaction that stores the message (at the end, where the newest
      -- entries go); an entry whose conversation has moved on since is stale, and readers skip it
      -- (an entry counts only while conversations.last_ts_key equals its last_ts_key). Stale entries
      -- are listed in conversation_order_stale and deleted later in chunks, with the text index
      -- (see SqliteWriter.indexText), where many of them share a page.
      CREATE TABLE conversation_order (
        last_ts_key TEXT NOT NULL,
        from_number TEXT NOT NULL,
        to_number   TEXT NOT NULL,
        PRIMARY KEY (last_ts_key DESC, from_number, to_number)
      ) WITHOUT ROWID;
      CREATE TABLE conversation_order_by_recipient (
        to_number   TEXT NOT NULL,
        last_ts_key TEXT NOT NULL,
        from_number TEXT NOT NULL,
        PRIMARY KEY (to_number, last_ts_key DESC, from_number)
      ) WITHOUT ROWID;
      CREATE TABLE conversation_order_stale (
        id          INTEGER PRIMARY KEY,
        last_ts_key TEXT NOT NULL,
        from_number TEXT NOT NULL,
        to_number   TEXT NOT NULL
      );
      INSERT INTO conversation_order (last_ts_key, from_number, to_number)
        SELECT last_ts_key, from_number, to_number FROM conversations;
      INSERT INTO conversation_order_by_recipient (to_number, last_ts_key, from_number)
        SELECT to_number, last_ts_key, from_number FROM conversations;
      DROP INDEX conversations_by_recency;
      DROP INDEX conversations_by_recipient;

      -- The conversations of each recipient, kept with its message count: ?to= totals of
      -- /conversations without counting (the recipient's index was what counted them).
      ALTER TABLE recipient_counts ADD COLUMN conversations INTEGER NOT NULL DEFAULT 0;
      UPDATE recipient_counts SET conversations = c.n
        FROM (SELECT to_number, count(*) AS n FROM conversations GROUP BY to_number) AS c
        WHERE c.to_number = recipient_counts.recipient;
    `,
  },
  {
    version: 10,
    name: 'the leading senders in a short table instead of an index of every sender by count',
    sql: `
      -- sender_counts_by_rank moved an entry of every sender a commit touched (a delete at the old
      -- count, an insert at the new one, mostly on pages of their own), for a ranking of which
      -- /stats shows ten. Instead the writer keeps the first 50 senders in leading_senders and, in
      -- totals, the bound: the first sender after them when they were ranked, or one that has come
      -- up to that place since; no sender outside the table is ahead of it (see
      -- src/store/sqlite/leading-senders.ts).
      CREATE TABLE leading_senders (
        sender TEXT PRIMARY KEY,
        count  INTEGER NOT NULL
      ) WITHOUT ROWID;
      ALTER TABLE totals ADD COLUMN leading_bound_sender TEXT;
      ALTER TABLE totals ADD COLUMN leading_bound_count INTEGER;
      INSERT INTO leading_senders (sender, count)
        SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT 50;
      UPDATE totals SET (leading_bound_sender, leading_bound_count) =
        (SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT 1 OFFSET 50)
        WHERE id = 1;
      DROP INDEX sender_counts_by_rank;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = sqliteMigrations.reduce((max, m) => Math.max(max, m.version), 0);
