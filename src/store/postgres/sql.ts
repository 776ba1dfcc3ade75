// The SQL the PostgreSQL store runs: the writes of a batch or delivery, the reads, and the
// listing statement built for each filter (its total from the aggregate countPlan picks).

import { countPlan } from '../count-plan.js';
import { STATUS_ORDER_SQL } from '../delivery-rows.js';
import { foldCase, type MessageFilter, type Page } from '../store.js';
import { MESSAGE_COLUMNS } from './rows.js';

/**
 * A LIKE pattern matching `q` anywhere, with `%`, `_` and `\` in q taken literally (backslash is
 * LIKE's default escape character). A pg_trgm GIN index serves it; see migrations.ts.
 */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, '\\$&')}%`;
}

/**
 * One statement for the whole batch: the rows arrive as arrays, one per column, unnested WITH
 * ORDINALITY. They are inserted in message_id order (ties by position), so that concurrent batches
 * of several replicas take their row locks in one global order and cannot deadlock, and the first
 * occurrence of a message_id repeated inside the batch is the one inserted.
 */
export const INSERT_BATCH = `
  INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, created_at)
  SELECT b.message_id, b.from_number, b.to_number, b.ts, b.ts_key, b.text, b.text_folded, b.type, $9::timestamptz
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
    WITH ORDINALITY AS b (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, position)
  ORDER BY b.message_id COLLATE "C", b.position
  ON CONFLICT (message_id) DO NOTHING
  RETURNING message_id, from_number, ts_key`;

// A delivery's statuses, in key order for the same reason, and a pair repeated inside the
// delivery is inserted from its first occurrence.
export const INSERT_STATUSES = `
  INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at)
  SELECT s.message_id, s.status, s.ts, s.ts_key, s.recipient_id, s.errors, $7::timestamptz
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    WITH ORDINALITY AS s (message_id, status, ts, ts_key, recipient_id, errors, position)
  ORDER BY s.message_id COLLATE "C", s.status COLLATE "C", s.position
  ON CONFLICT (message_id, status) DO NOTHING
  RETURNING message_id, status`;

// Dead letters take their ids in the order the delivery lists them, and a redelivered one is kept
// once. Unlike the keys above they are not inserted in key order: only two replicas taking in the
// same partly unreadable envelope at the same moment can wait on each other's rows, and if that
// ever ends in a deadlock, PostgreSQL fails one delivery (503), which the provider then retries.
export const INSERT_DEAD_LETTERS = `
  INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id)
  SELECT $1::timestamptz, $2, d.kind, d.reason, d.item, d.item_hash, d.item_id
  FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    WITH ORDINALITY AS d (kind, reason, item, item_hash, item_id, position)
  ORDER BY d.position
  ON CONFLICT (source, kind, item_hash) DO NOTHING`;

// The aggregates of the rows just inserted, each in key order for the same reason as above; the
// totals row, which every batch updates, comes last so it is held for the shortest time.
export const ADD_SENDERS = `
  INSERT INTO sender_counts AS c (sender, count)
  SELECT s.sender, s.count FROM unnest($1::text[], $2::bigint[]) AS s (sender, count) ORDER BY s.sender COLLATE "C"
  ON CONFLICT (sender) DO UPDATE SET count = c.count + excluded.count
  RETURNING sender, count`;
export const ADD_HOURS = `
  INSERT INTO hour_counts AS c (hour, count)
  SELECT h.hour, h.count FROM unnest($1::text[], $2::bigint[]) AS h (hour, count) ORDER BY h.hour COLLATE "C"
  ON CONFLICT (hour) DO UPDATE SET count = c.count + excluded.count`;
export const ADD_TOTALS = 'UPDATE totals SET messages = messages + $1, senders = senders + $2 WHERE id = 1';

export const STATS = `
  SELECT t.messages, t.senders,
    (SELECT coalesce(json_agg(json_build_array(s.sender, s.count) ORDER BY s.count DESC, s.sender), '[]')
       FROM (SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT $1) AS s) AS top,
    (SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS first_ts,
    (SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last_ts
  FROM totals AS t WHERE t.id = 1`;

// One statement each, so that every part of the answer comes from one snapshot.
export const MESSAGE_DETAIL = `
  SELECT
    (SELECT json_build_array(${MESSAGE_COLUMNS.join(', ')}) FROM messages WHERE message_id = $1) AS message,
    (SELECT coalesce(json_agg(json_build_array(status, ts, recipient_id, errors) ORDER BY ${STATUS_ORDER_SQL}), '[]')
       FROM delivery_statuses WHERE message_id = $1) AS statuses`;
// received_at as JavaScript's toISOString writes it: it was stored from one, so no precision is lost.
export const DEAD_LETTERS = `
  SELECT (SELECT count(*) FROM dead_letters) AS total,
    (SELECT coalesce(json_agg(json_build_array(d.id, d.received_at, d.source, d.kind, d.reason, d.item, d.item_id) ORDER BY d.id), '[]')
       FROM (SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
                    source, kind, reason, item, item_id
             FROM dead_letters ORDER BY id LIMIT $1 OFFSET $2) AS d) AS rows`;

export const HEALTH =
  'SELECT (SELECT max(version) FROM schema_migrations) AS version, EXISTS (SELECT 1 FROM messages) AS reachable';

/**
 * One statement for a page of the listing and its total, so that both come from one snapshot. It
 * answers one row: `total`, and `rows`, a JSON array of the page's messages (one more than the
 * limit, to tell whether more follow) in the order stored() reads.
 */
export function listMessagesQuery(filter: MessageFilter, page: Page): { text: string; values: (string | number)[] } {
  const values: (string | number)[] = [];
  const param = (value: string | number): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const where: string[] = [];
  if (filter.from !== undefined) where.push(`from_number = ${param(filter.from)}`);
  if (filter.sinceKey !== undefined) where.push(`ts_key >= ${param(filter.sinceKey)}`);
  // Folded on both sides by the same function, so case-insensitivity is exactly SQLite's.
  if (filter.q !== undefined) where.push(`text_folded LIKE ${param(containsPattern(foldCase(filter.q)))}`);

  let count: string;
  const plan = countPlan(filter);
  switch (plan.kind) {
    case 'total':
      count = 'SELECT messages FROM totals WHERE id = 1';
      break;
    case 'sender':
      count = `SELECT coalesce((SELECT count FROM sender_counts WHERE sender = ${param(plan.from)}), 0)`;
      break;
    case 'since':
      count = `SELECT (SELECT coalesce(sum(count), 0) FROM hour_counts WHERE hour > ${param(plan.hour)})
        + (SELECT count(*) FROM messages WHERE ts_key >= ${param(plan.sinceKey)} AND ts_key < ${param(plan.hourEnd)})`;
      break;
    case 'scan':
      count = `SELECT count(*) FROM messages WHERE ${where.join(' AND ')}`;
      break;
  }

  // A position whose message_id holds U+0000 (a crafted cursor) is cut before it: no stored id
  // holds one, so the ids after 'm\0…' are exactly the ids after 'm'.
  const afterId = page.after?.messageId.split('\0', 1)[0];
  const paged =
    page.after === undefined ? where : [...where, `(ts_key, message_id) > (${param(page.after.tsKey)}, ${param(afterId ?? '')})`];
  const rows = `SELECT ${MESSAGE_COLUMNS.join(', ')} FROM messages
      ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
      ORDER BY ts_key, message_id LIMIT ${param(page.limit + 1)} OFFSET ${param(page.offset)}`;
  const text = `SELECT (${count}) AS total,
      (SELECT coalesce(json_agg(json_build_array(${MESSAGE_COLUMNS.map((c) => `r.${c}`).join(', ')})
         ORDER BY r.ts_key, r.message_id), '[]') FROM (${rows}) AS r) AS rows`;
  return { text, values };
}
