// Large tables in a second or two, for tests that need slow reads: one SQL statement inserts the
// messages (one a second from 2024-01-01, 100 new senders to one business number, texts without a
// "z"), and the aggregates, conversations and the text index are brought up to date in the same
// transaction, as the store's writer leaves them. Writing them through insertMany would take ten times as long.

import pg from 'pg';
import { openConnection } from '../../src/store/sqlite/connection.js';
import { RANK_LEADING_BOUND, RANK_LEADING_SENDERS } from '../../src/store/sqlite/leading-senders.js';

/** 2024-01-01T00:00:00Z in Unix seconds: the first bulk message's instant. */
const FIRST_SECOND = 1_704_067_200;

/**
 * The conversations of the bulk rows, as the writer would have made them (the same SQL in both
 * databases). The bulk senders are new, so every pair is new: a clash fails loudly.
 */
const BULK_CONVERSATIONS = `
  INSERT INTO conversations (from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                             last_ts_key, last_message_id, last_ts, last_text, last_type)
    SELECT f.from_number, f.to_number, f.n, f.ts_key, f.message_id, f.ts, l.ts_key, l.message_id, l.ts, l.text, l.type
    FROM (SELECT from_number, to_number, ts_key, message_id, ts,
                 count(*) OVER (PARTITION BY from_number, to_number) AS n,
                 row_number() OVER (PARTITION BY from_number, to_number ORDER BY ts_key, message_id) AS r
          FROM messages WHERE message_id LIKE 'bulk-%') AS f
    JOIN (SELECT from_number, to_number, ts_key, message_id, ts, text, type,
                 row_number() OVER (PARTITION BY from_number, to_number ORDER BY ts_key DESC, message_id DESC) AS r
          FROM messages WHERE message_id LIKE 'bulk-%') AS l
      ON l.from_number = f.from_number AND l.to_number = f.to_number AND l.r = 1
    WHERE f.r = 1`;

/**
 * Adds `count` messages (bulk-0000001 …) to a SQLite file, which a store may have open. `padding`
 * lengthens each text by that many "0"s, for tests that need large rows; the folded text (and so
 * the search index) leaves the padding out, which keeps the index as small as without it.
 */
export function bulkInsertSqlite(file: string, count: number, { padding = 0 }: { padding?: number } = {}): void {
  const db = openConnection(file, 'reader', { mustExist: true });
  try {
    const insert = db.transaction(() => {
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
         INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, received_at)
         SELECT printf('bulk-%07d', i), '+1555000' || (i % 100), '+14155550100',
           strftime('%Y-%m-%dT%H:%M:%SZ', @first + i, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%S', @first + i, 'unixepoch'),
           'hello number ' || i || substr(hex(zeroblob((@padding + 1) / 2)), 1, @padding), 'hello number ' || i,
           '2025-01-15T10:00:00.000Z'
         FROM n`,
      ).run({ count, first: FIRST_SECOND, padding });
      db.exec(`
        INSERT INTO sender_counts (sender, count)
          SELECT from_number, count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY from_number
          ON CONFLICT (sender) DO UPDATE SET count = count + excluded.count;
        INSERT INTO hour_counts (hour, count)
          SELECT substr(ts_key, 1, 13), count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY 1
          ON CONFLICT (hour) DO UPDATE SET count = count + excluded.count;
        INSERT INTO recipient_counts (recipient, count)
          SELECT to_number, count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY to_number
          ON CONFLICT (recipient) DO UPDATE SET count = count + excluded.count;
        ${BULK_CONVERSATIONS};
        INSERT INTO conversation_order (last_ts_key, from_number, to_number)
          SELECT last_ts_key, from_number, to_number FROM conversations WHERE first_message_id LIKE 'bulk-%';
        INSERT INTO conversation_order_by_recipient (to_number, last_ts_key, from_number)
          SELECT to_number, last_ts_key, from_number FROM conversations WHERE first_message_id LIKE 'bulk-%';
        UPDATE recipient_counts SET conversations = (SELECT count(*) FROM conversations WHERE to_number = recipient);
        UPDATE totals SET messages = (SELECT count(*) FROM messages), senders = (SELECT count(*) FROM sender_counts),
          conversations = (SELECT count(*) FROM conversations);
        DELETE FROM leading_senders;
        ${RANK_LEADING_SENDERS};
        ${RANK_LEADING_BOUND};
        INSERT INTO messages_trigrams (messages_trigrams) VALUES ('rebuild');
        UPDATE text_index_progress SET indexed_upto = (SELECT coalesce(max(id), 0) FROM messages);
      `);
    });
    insert.immediate();
  } finally {
    db.close();
  }
}

/** Adds `count` messages (bulk-0000001 …) to a PostgreSQL database the store has migrated. */
export async function bulkInsertPostgres(url: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, received_at)
       SELECT 'bulk-' || lpad(i::text, 7, '0'), '+1555000' || (i % 100), '+14155550100',
         to_char(to_timestamp($2 + i) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         to_char(to_timestamp($2 + i) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'),
         'hello number ' || i, 'hello number ' || i, now()
       FROM generate_series(1, $1::int) AS i`,
      [count, FIRST_SECOND],
    );
    await client.query(`
      INSERT INTO sender_counts AS c (sender, count)
        SELECT from_number, count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY from_number
        ON CONFLICT (sender) DO UPDATE SET count = c.count + excluded.count;
      INSERT INTO hour_counts AS c (hour, count)
        SELECT left(ts_key, 13), count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY 1
        ON CONFLICT (hour) DO UPDATE SET count = c.count + excluded.count;
      INSERT INTO recipient_counts AS c (recipient, count)
        SELECT to_number, count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY to_number
        ON CONFLICT (recipient) DO UPDATE SET count = c.count + excluded.count;
      ${BULK_CONVERSATIONS};
      UPDATE totals SET messages = (SELECT count(*) FROM messages), senders = (SELECT count(*) FROM sender_counts),
        conversations = (SELECT count(*) FROM conversations);
      COMMIT;
      ANALYZE messages;
    `);
  } finally {
    await client.end();
  }
}
