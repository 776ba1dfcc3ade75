// Large tables in a second or two, for tests that need slow reads: one SQL statement inserts the
// messages (one a second from 2024-01-01, 100 senders, texts without a "z"), and the aggregates
// and the text index are brought up to date in the same transaction, as the store's writer leaves
// them. Writing them through insertMany would take ten times as long.

import pg from 'pg';
import { openConnection } from '../../src/store/sqlite/connection.js';

/** 2024-01-01T00:00:00Z in Unix seconds: the first bulk message's instant. */
const FIRST_SECOND = 1_704_067_200;

/** Adds `count` messages (bulk-0000001 …) to a SQLite file, which a store may have open. */
export function bulkInsertSqlite(file: string, count: number): void {
  const db = openConnection(file, 'reader', { mustExist: true });
  try {
    const insert = db.transaction(() => {
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
         INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at)
         SELECT printf('bulk-%07d', i), '+1555000' || (i % 100), '+14155550100',
           strftime('%Y-%m-%dT%H:%M:%SZ', @first + i, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%S', @first + i, 'unixepoch'),
           'hello number ' || i, 'hello number ' || i, '2025-01-15T10:00:00.000Z'
         FROM n`,
      ).run({ count, first: FIRST_SECOND });
      db.exec(`
        INSERT INTO sender_counts (sender, count)
          SELECT from_number, count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY from_number
          ON CONFLICT (sender) DO UPDATE SET count = count + excluded.count;
        INSERT INTO hour_counts (hour, count)
          SELECT substr(ts_key, 1, 13), count(*) FROM messages WHERE message_id LIKE 'bulk-%' GROUP BY 1
          ON CONFLICT (hour) DO UPDATE SET count = count + excluded.count;
        UPDATE totals SET messages = (SELECT count(*) FROM messages), senders = (SELECT count(*) FROM sender_counts);
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
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at)
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
      UPDATE totals SET messages = (SELECT count(*) FROM messages), senders = (SELECT count(*) FROM sender_counts);
      COMMIT;
      ANALYZE messages;
    `);
  } finally {
    await client.end();
  }
}
