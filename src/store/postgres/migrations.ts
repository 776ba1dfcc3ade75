// Versioned PostgreSQL schema, applied at start by migratePostgres under an advisory lock so that
// several replicas starting together migrate once. A migration, once released, never changes:
// add a new one instead.

import type pg from 'pg';
import type { Migration } from '../migration.js';

export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'messages and aggregates',
    // COLLATE "C" on every column that is ordered or compared: byte order of UTF-8, which is code
    // point order, the same as SQLite's BINARY, whatever locale the database was created with.
    sql: `
      CREATE TABLE messages (
        message_id  text COLLATE "C" PRIMARY KEY,  -- exactly once: ON CONFLICT (message_id) DO NOTHING
        from_number text COLLATE "C" NOT NULL,
        to_number   text NOT NULL,
        ts          text NOT NULL,                  -- exactly as sent, for display
        ts_key      text COLLATE "C" NOT NULL,      -- the instant, byte-ordered (see instantKey)
        text        text,
        text_folded text COLLATE "C",               -- foldCase(text), for the case-insensitive q filter
        created_at  timestamptz NOT NULL
      );
      CREATE INDEX messages_by_instant ON messages (ts_key, message_id);
      CREATE INDEX messages_by_sender ON messages (from_number, ts_key, message_id);

      -- Aggregates, updated in the transaction that inserts the rows, so /stats and exact totals
      -- never scan the messages.
      CREATE TABLE totals (
        id       integer PRIMARY KEY CHECK (id = 1),
        messages bigint NOT NULL,
        senders  bigint NOT NULL
      );
      INSERT INTO totals (id, messages, senders) VALUES (1, 0, 0);
      CREATE TABLE sender_counts (
        sender text COLLATE "C" PRIMARY KEY,
        count  bigint NOT NULL
      );
      CREATE INDEX sender_counts_by_rank ON sender_counts (count DESC, sender);
      -- Rows per UTC hour of the instant ('YYYY-MM-DDTHH'): a total for ?since= adds up whole
      -- hours and counts rows only inside the hour the since falls in.
      CREATE TABLE hour_counts (
        hour  text COLLATE "C" PRIMARY KEY,
        count bigint NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'message types, delivery statuses and dead letters',
    // Replicas still running the previous release keep working during a rolling update: they
    // name their columns, and the new column is nullable. Adding it without a default changes
    // only the catalog: the exclusive lock it takes on messages is held for a moment, not for a
    // rewrite of the table.
    sql: `
      ALTER TABLE messages ADD COLUMN type text;  -- the provider's message type; null for core-form messages

      -- Each status of a message is kept once (the first report wins: ON CONFLICT DO NOTHING).
      -- No list of status names here: the ingest decides which it accepts. The key serves both
      -- the duplicate check and the reading of one message's statuses.
      CREATE TABLE delivery_statuses (
        message_id   text COLLATE "C" NOT NULL,
        status       text COLLATE "C" NOT NULL,
        ts           text NOT NULL,                 -- as received, in the UTC form
        ts_key       text COLLATE "C" NOT NULL,     -- the instant, byte-ordered (see instantKey)
        recipient_id text,
        errors       text,                          -- JSON text of the provider's errors array
        created_at   timestamptz NOT NULL,
        PRIMARY KEY (message_id, status)
      );

      -- Items of a delivery that could not be read, kept whole with the reason; read oldest
      -- first, by id (the primary key's index serves that order).
      CREATE TABLE dead_letters (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        received_at timestamptz NOT NULL,
        source      text NOT NULL,
        kind        text NOT NULL,
        reason      text NOT NULL,
        item        text NOT NULL,                  -- JSON text of the item
        item_hash   text COLLATE "C" NOT NULL,      -- sha256 of item: a redelivered item is kept once
        item_id     text
      );
      CREATE UNIQUE INDEX dead_letters_once ON dead_letters (source, kind, item_hash);
    `,
  },
  {
    version: 3,
    name: 'what providers sent, and the aggregates of inbox reads',
    // The new columns are nullable without a default and totals.conversations has a constant
    // default: adding them changes only the catalog. Writes wait while the two new indexes of
    // messages are built and the aggregates filled (some six seconds at a million rows in a
    // test). Replicas still running the previous release must not write afterwards: they know
    // nothing of the new aggregates, and what they inserted would be missing from them for good.
    // So created_at is renamed to received_at (what it always meant): their INSERT names
    // created_at and fails, they answer 503, and the provider's retry reaches a replica of this
    // release. Their /health/ready fails too, on the schema version.
    sql: `
      -- What a message keeps besides the core fields; rows from before read them as null. A null
      -- source reads as "whatsapp" when the row has a type and "spec" otherwise (the best that is
      -- known of it); a null raw with a source set is the core form's body, rebuilt from the row
      -- (see delivery-rows.ts), so the commonest message does not store its fields twice.
      ALTER TABLE messages RENAME COLUMN created_at TO received_at;
      ALTER TABLE messages
        ADD COLUMN source          text,
        ADD COLUMN raw             text,          -- JSON text as the provider sent it
        ADD COLUMN contact_name    text,
        ADD COLUMN reply_to        text,
        ADD COLUMN phone_number_id text;          -- WhatsApp metadata.phone_number_id

      -- First pages of ?to= and ?type= in either order, whatever the value. to_number and type
      -- were created with the database's collation; these indexes compare them in "C" (bytes,
      -- like every other key here, and cheaper to maintain than a locale's rules), so the queries
      -- say COLLATE "C" too, or the planner could not use them. Core-form messages have no type,
      -- so the partial index holds only provider messages.
      CREATE INDEX messages_by_recipient ON messages (to_number COLLATE "C", ts_key, message_id);
      CREATE INDEX messages_by_type ON messages (type COLLATE "C", ts_key, message_id) WHERE type IS NOT NULL;

      -- Exact totals of ?to= and ?type= without counting, kept like sender_counts.
      CREATE TABLE recipient_counts (
        recipient text COLLATE "C" PRIMARY KEY,
        count     bigint NOT NULL
      );
      CREATE TABLE type_counts (
        type  text COLLATE "C" PRIMARY KEY,
        count bigint NOT NULL
      );

      -- One row per (from, to) pair, updated in the transaction that inserts its messages. The
      -- first, last and contact messages are kept with their (ts_key, message_id) place, so a
      -- later write compares against them.
      CREATE TABLE conversations (
        from_number        text COLLATE "C" NOT NULL,
        to_number          text COLLATE "C" NOT NULL,
        messages           bigint NOT NULL,
        first_ts_key       text COLLATE "C" NOT NULL,
        first_message_id   text COLLATE "C" NOT NULL,
        first_ts           text NOT NULL,
        last_ts_key        text COLLATE "C" NOT NULL,
        last_message_id    text COLLATE "C" NOT NULL,
        last_ts            text NOT NULL,
        last_text          text,
        last_type          text,
        contact_name       text,
        contact_ts_key     text COLLATE "C",
        contact_message_id text COLLATE "C",
        PRIMARY KEY (from_number, to_number)
      );
      -- The listing's order, and the same inside one recipient (the business number that most
      -- conversations share); one sender's few conversations are found by the primary key.
      CREATE INDEX conversations_by_recency ON conversations (last_ts_key DESC, from_number, to_number);
      CREATE INDEX conversations_by_recipient ON conversations (to_number, last_ts_key DESC, from_number);
      ALTER TABLE totals ADD COLUMN conversations bigint NOT NULL DEFAULT 0;

      -- The aggregates of the rows already stored (none of them has a contact name yet).
      INSERT INTO recipient_counts (recipient, count) SELECT to_number, count(*) FROM messages GROUP BY to_number;
      INSERT INTO type_counts (type, count) SELECT type, count(*) FROM messages WHERE type IS NOT NULL GROUP BY type;
      -- One sort of the messages, by pair then place: every row of a pair sees the whole pair
      -- (the frame), its first and its last message; the pair's first row is kept.
      INSERT INTO conversations (from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                                 last_ts_key, last_message_id, last_ts, last_text, last_type)
        SELECT p.from_number, p.to_number, p.n, p.first[1], p.first[2], p.first[3],
               p.last[1], p.last[2], p.last[3], p.last[4], p.last[5]
        FROM (SELECT from_number, to_number COLLATE "C" AS to_number,
                     count(*) OVER pair AS n,
                     first_value(ARRAY[ts_key, message_id, ts]) OVER pair AS first,
                     last_value(ARRAY[ts_key, message_id, ts, text, type]) OVER pair AS last,
                     row_number() OVER pair AS r
              FROM messages
              WINDOW pair AS (PARTITION BY from_number, to_number COLLATE "C" ORDER BY ts_key, message_id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS p
        WHERE p.r = 1;
      UPDATE totals SET conversations = (SELECT count(*) FROM conversations) WHERE id = 1;
    `,
  },
  {
    version: 4,
    name: 'the feed: every stored event in commit order',
    // Sequences hand out numbers in the order transactions ask, not the order they commit, so a
    // position is not an identity: each writing transaction adds to feed_head as its last lock
    // and holds that row until COMMIT (see storeDelivery), so positions are handed out in commit
    // order across every replica. The tables are new, and the backfill reads the rows once.
    // Replicas of the previous release write no events: rows they store after this migration are
    // missing from the feed for good, so they are stopped before it runs (their readiness fails on
    // the schema version once it has).
    sql: `
      -- One row per stored message, delivery status and dead letter, written in the transaction
      -- that stores it. An event names its row and keeps no copy of it, so a row removed later
      -- (with its event) leaves nothing of itself here.
      CREATE TABLE events (
        position    bigint PRIMARY KEY,
        type        text COLLATE "C" NOT NULL
                    CHECK (type IN ('message.created', 'status.created', 'dead_letter.created')),
        message_id  text COLLATE "C",      -- message.created and status.created
        status      text COLLATE "C",      -- status.created
        dead_letter bigint,                -- dead_letter.created: dead_letters.id
        received_at timestamptz NOT NULL   -- when the store took the row in
      );
      -- Finding the event of a row (to remove it with the row).
      CREATE INDEX events_by_message ON events (message_id, status) WHERE message_id IS NOT NULL;
      CREATE INDEX events_by_dead_letter ON events (dead_letter) WHERE dead_letter IS NOT NULL;

      -- The last position handed out: never goes back, even when the newest events are removed.
      CREATE TABLE feed_head (
        id       integer PRIMARY KEY CHECK (id = 1),
        position bigint NOT NULL
      );

      -- The rows stored before, in the order they were received (ties: messages, then statuses,
      -- then dead letters; inside one transaction in the order the store inserted them: messages
      -- and statuses by key, dead letters by id).
      INSERT INTO events (position, type, message_id, status, dead_letter, received_at)
        SELECT row_number() OVER (ORDER BY r.received_at, r.kind, r.dead_letter, r.message_id, r.status),
               r.type, r.message_id, r.status, r.dead_letter, r.received_at
        FROM (SELECT 'message.created' AS type, message_id, NULL::text COLLATE "C" AS status, NULL::bigint AS dead_letter,
                     received_at, 0 AS kind
                FROM messages
              UNION ALL
              SELECT 'status.created', message_id, status, NULL, created_at, 1 FROM delivery_statuses
              UNION ALL
              SELECT 'dead_letter.created', NULL, NULL, id, received_at, 2 FROM dead_letters) AS r;
      INSERT INTO feed_head (id, position) SELECT 1, coalesce(max(position), 0) FROM events;
    `,
  },
  {
    version: 5,
    name: 'rows found by age',
    // Indexes only: replicas of the previous release run on beside it. Writes wait while the
    // three are built (a second or two per million rows).
    sql: `
      -- Retention removes the oldest rows first (each table in the order its rows were received,
      -- ties by key) and asks for the oldest one kept.
      CREATE INDEX messages_by_arrival ON messages (received_at, message_id);
      CREATE INDEX delivery_statuses_by_arrival ON delivery_statuses (created_at, message_id, status);
      CREATE INDEX dead_letters_by_arrival ON dead_letters (received_at, id);
    `,
  },
];

export const POSTGRES_SCHEMA_VERSION = postgresMigrations.reduce((max, m) => Math.max(max, m.version), 0);

/** Any fixed 64-bit number, the same in every replica: the key of the advisory lock migrations take. */
const MIGRATION_LOCK = 7_315_204_925_871_113;

/** The trigram index for ?q=, kept apart from the versioned schema: it needs an extension that may be missing. */
const TRIGRAM_INDEX = 'messages_text_trigrams';

export interface MigrationResult {
  /** Migrations applied by this call (none when another process had applied them first). */
  readonly applied: number[];
  /** Whether the pg_trgm index that serves ?q= exists. */
  readonly trigramIndex: boolean;
  /** Why the trigram index could not be made, when it could not. */
  readonly trigramProblem?: string;
}

/**
 * Brings the database to POSTGRES_SCHEMA_VERSION on one dedicated connection. A session-level
 * advisory lock makes concurrent starts take turns: the first migrates, the others find the work
 * done. The lock is released when the connection ends, even if this process dies meanwhile.
 */
export async function migratePostgres(client: pg.ClientBase): Promise<MigrationResult> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const known = new Set(done.rows.map((r) => r.version));
    const newest = Math.max(0, ...known);
    if (newest > POSTGRES_SCHEMA_VERSION) {
      throw new Error(`the database schema is version ${newest}, newer than this release knows (${POSTGRES_SCHEMA_VERSION})`);
    }
    const applied: number[] = [];
    for (const migration of postgresMigrations) {
      if (known.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      applied.push(migration.version);
    }
    return { applied, ...(await ensureTrigramIndex(client)) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}

/**
 * Creates the pg_trgm GIN index on the folded text, which lets `text_folded LIKE '%…%'` find
 * candidates without reading every row. Tried at every start, so a database whose extension
 * arrives later gets the index then; without it ?q= still answers correctly, by scanning.
 */
async function ensureTrigramIndex(client: pg.ClientBase): Promise<{ trigramIndex: boolean; trigramProblem?: string }> {
  const existing = await client.query('SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1', [
    TRIGRAM_INDEX,
  ]);
  if (existing.rowCount !== 0) return { trigramIndex: true };
  await client.query('BEGIN');
  try {
    // pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database owner may
    // create it. A managed service may still refuse; that is reported, not fatal.
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    // New entries wait in the GIN "pending list" until it is merged, and every search scans that
    // list. Searching for a rare word on 200,000 messages while batches kept arriving took 13 ms
    // at the median and 50 ms at p99 with the default 4 MB list, 2.5 ms and 7 ms with 512 kB, at
    // the same ingest rate (fastupdate=off removes the list but made ingest three times slower).
    await client.query(
      `CREATE INDEX IF NOT EXISTS ${TRIGRAM_INDEX} ON messages USING gin (text_folded gin_trgm_ops) WITH (gin_pending_list_limit = 512)`,
    );
    await client.query('COMMIT');
    return { trigramIndex: true };
  } catch (error) {
    await client.query('ROLLBACK');
    return { trigramIndex: false, trigramProblem: error instanceof Error ? error.message : String(error) };
  }
}
