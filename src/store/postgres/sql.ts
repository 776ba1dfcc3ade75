// The SQL the PostgreSQL store runs: the writes of a batch, delivery or import with their
// aggregates, the removals of erasures and retention, the reads, and the statements built for each
// listing (a total from the aggregate countPlan picks), export chunk and time series.

import { countPlan, type HourWindow, hourKey, hourWindow } from '../count-plan.js';
import { STATUS_ORDER_SQL } from '../delivery-rows.js';
import {
  type Bucket,
  type ConversationFilter,
  type ConversationPosition,
  type FeedQuery,
  foldCase,
  type MessageFilter,
  type Page,
  type Position,
  type TimeseriesQuery,
} from '../store.js';
import { CONVERSATION_COLUMNS, DETAIL_COLUMNS, isoText, MESSAGE_COLUMNS } from './rows.js';

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
 * occurrence of a message_id repeated inside the batch is the one inserted. `$14` is the
 * received_at of every row, or (an import) an array of each row's own.
 */
function insertMessages(receivedAtOfEach: boolean): string {
  return `
  INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, received_at,
                        source, raw, contact_name, reply_to, phone_number_id)
  SELECT b.message_id, b.from_number, b.to_number, b.ts, b.ts_key, b.text, b.text_folded, b.type,
         ${receivedAtOfEach ? 'b.received_at' : '$14::timestamptz'},
         b.source, b.raw, b.contact_name, b.reply_to, b.phone_number_id
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
              $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]${receivedAtOfEach ? ', $14::timestamptz[]' : ''})
    WITH ORDINALITY AS b (message_id, from_number, to_number, ts, ts_key, text, text_folded, type,
                          source, raw, contact_name, reply_to, phone_number_id,${receivedAtOfEach ? ' received_at,' : ''} position)
  ORDER BY b.message_id COLLATE "C", b.position
  ON CONFLICT (message_id) DO NOTHING
  RETURNING message_id`;
}

export const INSERT_BATCH = insertMessages(false);
/** INSERT_BATCH for an import: `$14` holds each message's received_at. */
export const IMPORT_BATCH = insertMessages(true);

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
  ON CONFLICT (source, kind, item_hash) DO NOTHING
  RETURNING id, kind, item_hash`;

// The aggregates of the rows just inserted, each table in key order for the same reason as above,
// and the tables in one order too: senders, recipients, types, hours, conversations, then the
// totals row, which every batch that creates messages updates, late so it is held for the shortest
// time; only feed_head (ADD_EVENTS) comes after it. (The previous release's order, senders, hours,
// totals, is a part of it: replicas of both may run together.)

/** Adds counts to a table keyed by one text column: `$1` the keys, `$2` the counts. */
function addCounts(table: string, key: string): string {
  return `
  INSERT INTO ${table} AS c (${key}, count)
  SELECT k.key, k.count FROM unnest($1::text[], $2::bigint[]) AS k (key, count) ORDER BY k.key COLLATE "C"
  ON CONFLICT (${key}) DO UPDATE SET count = c.count + excluded.count`;
}

export const ADD_SENDERS = `${addCounts('sender_counts', 'sender')}
  RETURNING sender, count`;
export const ADD_RECIPIENTS = addCounts('recipient_counts', 'recipient');
export const ADD_TYPES = addCounts('type_counts', 'type');
export const ADD_HOURS = addCounts('hour_counts', 'hour');

/** `col = CASE WHEN <condition> THEN excluded.col ELSE c.col END` for each column, in an upsert's SET. */
function takeWhen(condition: string, columns: readonly string[]): string {
  return columns.map((col) => `${col} = CASE WHEN ${condition} THEN excluded.${col} ELSE c.${col} END`).join(',\n      ');
}

/**
 * Adds each conversation's delta (see aggregates.ts), one array per column in the order of the
 * column list (conversationArrays in store.ts builds them): the count, and the first, last and contact messages where the delta's come earlier,
 * later, later. Every SET expression reads the row as it was. Answers each pair's new count:
 * equal to the delta's when the conversation is new.
 */
export const ADD_CONVERSATIONS = `
  INSERT INTO conversations AS c (from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                                  last_ts_key, last_message_id, last_ts, last_text, last_type,
                                  contact_name, contact_ts_key, contact_message_id)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
    AS d (from_number, to_number, messages, first_ts_key, first_message_id, first_ts, last_ts_key, last_message_id,
          last_ts, last_text, last_type, contact_name, contact_ts_key, contact_message_id)
  ORDER BY d.from_number COLLATE "C", d.to_number COLLATE "C"
  ON CONFLICT (from_number, to_number) DO UPDATE SET
      messages = c.messages + excluded.messages,
      ${takeWhen('(excluded.first_ts_key, excluded.first_message_id) < (c.first_ts_key, c.first_message_id)', ['first_ts_key', 'first_message_id', 'first_ts'])},
      ${takeWhen('(excluded.last_ts_key, excluded.last_message_id) > (c.last_ts_key, c.last_message_id)', ['last_ts_key', 'last_message_id', 'last_ts', 'last_text', 'last_type'])},
      ${takeWhen(
        'excluded.contact_name IS NOT NULL AND (c.contact_ts_key IS NULL OR (excluded.contact_ts_key, excluded.contact_message_id) > (c.contact_ts_key, c.contact_message_id))',
        ['contact_name', 'contact_ts_key', 'contact_message_id'],
      )}
  RETURNING from_number, to_number, messages`;

export const ADD_TOTALS =
  'UPDATE totals SET messages = messages + $1, senders = senders + $2, conversations = conversations + $3 WHERE id = 1';

/** The channel a committed write notifies with its newest position (see ADD_EVENTS and feed-watch.ts). */
export const FEED_CHANNEL = 'webhook_inbox_feed';

/**
 * The events of the rows a transaction created, as its last statement: feed_head's row gives the
 * positions, and stays locked until COMMIT (see storeDelivery), so a transaction that commits later
 * always has larger ones. `$1` how many events, then one array per column, in the order the
 * positions are handed out, and `$6` the rows' received_at. The newest position is announced on
 * FEED_CHANNEL, which PostgreSQL delivers at COMMIT (and never, if the transaction rolls back).
 */
function addEvents(receivedAtOfEach: boolean): string {
  return `
  WITH head AS (UPDATE feed_head SET position = position + $1::bigint WHERE id = 1 RETURNING position),
  added AS (
    INSERT INTO events (position, type, message_id, status, dead_letter, received_at)
    SELECT head.position - $1::bigint + e.n, e.type, e.message_id, e.status, e.dead_letter,
           ${receivedAtOfEach ? 'e.received_at' : '$6::timestamptz'}
    FROM head, unnest($2::text[], $3::text[], $4::text[], $5::bigint[]${receivedAtOfEach ? ', $6::timestamptz[]' : ''})
      WITH ORDINALITY AS e (type, message_id, status, dead_letter,${receivedAtOfEach ? ' received_at,' : ''} n)
  )
  SELECT pg_notify('${FEED_CHANNEL}', head.position::text) FROM head`;
}

export const ADD_EVENTS = addEvents(false);
/** ADD_EVENTS for an import: `$6` holds each event's received_at, that of its message. */
export const ADD_IMPORTED_EVENTS = addEvents(true);

// Removals (erasures and retention batches), in the order every writing transaction takes its
// locks (see storeDelivery): messages, statuses, dead letters, then the aggregates in the order
// above, rows in key order inside each table. Each deletion locks its rows in key order first (a
// subquery FOR UPDATE), and answers what the aggregates and the feed need of what it removed.
// Messages and dead letters are then deleted by the array of the keys locked: one primary key
// lookup each, whatever the planner thinks of the table's size.

/** Deletes the messages the locking query (`locked`, in key order) names. */
function deleteMessages(locked: string): string {
  return `
  DELETE FROM messages WHERE message_id = ANY (ARRAY(${locked} ORDER BY message_id FOR UPDATE))
  RETURNING message_id, from_number, to_number, ts_key, type`;
}

/** The messages with these ids (`$1`). */
export const DELETE_MESSAGES = deleteMessages('SELECT message_id FROM messages WHERE message_id = ANY($1::text[])');
/** Every message from `$1`. */
export const DELETE_SENDER_MESSAGES = deleteMessages('SELECT message_id FROM messages WHERE from_number = $1');
/** Every message from `$1` to `$2`. */
export const DELETE_CONVERSATION_MESSAGES = deleteMessages(
  'SELECT message_id FROM messages WHERE from_number = $1 AND to_number = $2',
);

/** Every status of these message ids (`$1`). */
export const DELETE_STATUSES_OF = `
  DELETE FROM delivery_statuses WHERE (message_id, status) IN (
    SELECT message_id, status FROM delivery_statuses WHERE message_id = ANY($1::text[]) ORDER BY message_id, status FOR UPDATE)
  RETURNING message_id, status`;

/** The statuses these pairs name (`$1` message ids, `$2` statuses). */
export const DELETE_STATUS_PAIRS = `
  DELETE FROM delivery_statuses WHERE (message_id, status) IN (
    SELECT message_id, status FROM delivery_statuses WHERE (message_id, status) IN (SELECT * FROM unnest($1::text[], $2::text[]))
    ORDER BY message_id, status FOR UPDATE)
  RETURNING message_id, status`;

export const DELETE_DEAD_LETTERS = `
  DELETE FROM dead_letters WHERE id = ANY (ARRAY(SELECT id FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE))
  RETURNING id`;

/**
 * The feed events of what was removed, by the keys of the rows actually deleted: the message
 * events of ids `$1`, the status events of pairs (`$2`, `$3`), the dead letter events of `$4`. (A
 * status committed meanwhile by another transaction keeps its row, so it keeps its event.)
 */
export const DELETE_EVENTS = `
  WITH m AS (DELETE FROM events WHERE message_id = ANY($1::text[]) AND status IS NULL),
       s AS (DELETE FROM events WHERE (message_id, status) IN (SELECT * FROM unnest($2::text[], $3::text[])))
  DELETE FROM events WHERE dead_letter = ANY($4::bigint[])`;

/**
 * Counts that reached 0 take their rows away (the counts were lowered, and the rows locked, by
 * ADD_SENDERS, ADD_RECIPIENTS, ADD_TYPES and ADD_HOURS with negative counts): `$1` senders, `$2`
 * recipients, `$3` types, `$4` hours. Answers how many senders went.
 */
export const DROP_EMPTY_COUNTS = `
  WITH s AS (DELETE FROM sender_counts WHERE sender = ANY($1::text[]) AND count = 0 RETURNING sender),
       r AS (DELETE FROM recipient_counts WHERE recipient = ANY($2::text[]) AND count = 0),
       t AS (DELETE FROM type_counts WHERE type = ANY($3::text[]) AND count = 0),
       h AS (DELETE FROM hour_counts WHERE hour = ANY($4::text[]) AND count = 0)
  SELECT count(*) AS senders FROM s`;

/** The conversations of the pairs (`$1` from, `$2` to), locked in key order. */
export const LOCK_CONVERSATIONS = `
  SELECT 1 FROM conversations WHERE (from_number, to_number) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  ORDER BY from_number, to_number FOR UPDATE`;

/** Lowers each pair's count by `$3`; those left empty are removed. Answers how many went. */
export const SUBTRACT_CONVERSATIONS = `
  WITH lowered AS (
    UPDATE conversations AS c SET messages = c.messages - d.n
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d (from_number, to_number, n)
    WHERE c.from_number = d.from_number AND c.to_number = d.to_number
    RETURNING c.from_number, c.to_number, c.messages)
  SELECT from_number, to_number FROM lowered WHERE messages = 0`;
export const DROP_CONVERSATIONS = `
  DELETE FROM conversations WHERE (from_number, to_number) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/** A conversation's messages, by the sender's index: to_number has the database's collation. */
const OF_PAIR = 'm.from_number = c.from_number AND m.to_number COLLATE "C" = c.to_number';

/**
 * The pairs (`$1`, `$2`) whose first, last or contact message was among the ids removed (`$3`)
 * take their new ones from the messages they have left (none left: no contact).
 */
export const REFRESH_CONVERSATIONS = `
  UPDATE conversations AS c SET
    (first_ts_key, first_message_id, first_ts) =
      (SELECT m.ts_key, m.message_id, m.ts FROM messages AS m WHERE ${OF_PAIR} ORDER BY m.ts_key, m.message_id LIMIT 1),
    (last_ts_key, last_message_id, last_ts, last_text, last_type) =
      (SELECT m.ts_key, m.message_id, m.ts, m.text, m.type FROM messages AS m WHERE ${OF_PAIR}
       ORDER BY m.ts_key DESC, m.message_id DESC LIMIT 1),
    (contact_name, contact_ts_key, contact_message_id) =
      (SELECT m.contact_name, m.ts_key, m.message_id FROM messages AS m WHERE ${OF_PAIR} AND m.contact_name IS NOT NULL
       ORDER BY m.ts_key DESC, m.message_id DESC LIMIT 1)
  WHERE (c.from_number, c.to_number) IN (SELECT * FROM unnest($1::text[], $2::text[]))
    AND (c.first_message_id = ANY($3::text[]) OR c.last_message_id = ANY($3::text[]) OR c.contact_message_id = ANY($3::text[]))`;

/**
 * The key of the advisory lock a retention batch takes for its transaction
 * (pg_try_advisory_xact_lock): one replica purges at a time, the others skip their turn. Any
 * fixed 64-bit number, the same in every replica, apart from the migrations' (migrations.ts).
 */
export const RETENTION_LOCK = 7_315_204_925_871_114;
export const TRY_RETENTION_LOCK = 'SELECT pg_try_advisory_xact_lock($1::bigint) AS locked';

/**
 * The oldest rows received before `$1`, at most `$2` of them, oldest first, ties messages,
 * statuses, dead letters, then by key (message_id; message_id and status; id, as a number): each
 * table entered by its arrival index (migration 5). A message comes with every status its id has
 * (they go with it).
 */
export const PURGE_CANDIDATES = `
  SELECT c.kind, c.key, c.status,
         CASE WHEN c.kind = 0 THEN
           (SELECT coalesce(array_agg(s.status), '{}') FROM delivery_statuses AS s WHERE s.message_id = c.key)
         END AS statuses
  FROM ((SELECT 0 AS kind, message_id AS key, NULL::text COLLATE "C" AS status, 0::bigint AS id, received_at AS at
           FROM messages WHERE received_at < $1::timestamptz ORDER BY received_at, message_id LIMIT $2)
        UNION ALL
        (SELECT 1, message_id, status, 0, created_at FROM delivery_statuses
          WHERE created_at < $1::timestamptz ORDER BY created_at, message_id, status LIMIT $2)
        UNION ALL
        (SELECT 2, d.id::text COLLATE "C", NULL, d.id, d.received_at FROM dead_letters AS d
          WHERE d.received_at < $1::timestamptz ORDER BY d.received_at, d.id LIMIT $2)) AS c
  ORDER BY c.at, c.kind, c.id, c.key, c.status LIMIT $2`;

/** What every purge batch for cutoff `$1` would remove together: the later statuses of those messages go with them. */
export const PURGE_COUNT = `
  SELECT (SELECT count(*) FROM messages WHERE received_at < $1::timestamptz) AS messages,
         (SELECT count(*) FROM delivery_statuses WHERE created_at < $1::timestamptz)
           + (SELECT count(*) FROM messages AS m JOIN delivery_statuses AS s ON s.message_id = m.message_id
              WHERE m.received_at < $1::timestamptz AND s.created_at >= $1::timestamptz) AS statuses,
         (SELECT count(*) FROM dead_letters WHERE received_at < $1::timestamptz) AS dead_letters`;

/** The oldest received_at kept: the first entry of each arrival index. */
export const OLDEST_RECEIVED_AT = `
  SELECT ${isoText(`least((SELECT min(received_at) FROM messages), (SELECT min(created_at) FROM delivery_statuses),
                          (SELECT min(received_at) FROM dead_letters))`)} AS oldest`;

/**
 * The tables a removal leaves dead rows in, vacuumed after it (see PostgresStore's vacuum). The
 * aggregates are small; messages holds the text, conversations its latest piece.
 */
export const VACUUMED_TABLES = [
  'messages',
  'delivery_statuses',
  'dead_letters',
  'events',
  'conversations',
  'sender_counts',
  'recipient_counts',
  'type_counts',
  'hour_counts',
];

/** The last position handed out (which may belong to an event removed since). */
export const FEED_HEAD_POSITION = 'SELECT position FROM feed_head WHERE id = 1';

/** The newest event there is: [position, received_at]. */
export const FEED_HEAD = `
  SELECT json_build_array(position, ${isoText('received_at')}) AS head FROM events ORDER BY position DESC LIMIT 1`;

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
    (SELECT json_build_array(${[...MESSAGE_COLUMNS, ...DETAIL_COLUMNS].join(', ')}) FROM messages WHERE message_id = $1) AS message,
    (SELECT coalesce(json_agg(json_build_array(status, ts, recipient_id, errors) ORDER BY ${STATUS_ORDER_SQL}), '[]')
       FROM delivery_statuses WHERE message_id = $1) AS statuses`;
export const DEAD_LETTERS = `
  SELECT (SELECT count(*) FROM dead_letters) AS total,
    (SELECT coalesce(json_agg(json_build_array(d.id, d.received_at, d.source, d.kind, d.reason, d.item, d.item_id) ORDER BY d.id), '[]')
       FROM (SELECT id, ${isoText('received_at')} AS received_at, source, kind, reason, item, item_id
             FROM dead_letters ORDER BY id LIMIT $1 OFFSET $2) AS d) AS rows`;

export const HEALTH =
  'SELECT (SELECT max(version) FROM schema_migrations) AS version, EXISTS (SELECT 1 FROM messages) AS reachable';

type Values = (string | number)[];

/** Appends a value to a statement's parameters and answers its placeholder. */
function parameters(): { values: Values; param: (value: string | number) => string } {
  const values: Values = [];
  return {
    values,
    param: (value) => {
      values.push(value);
      return `$${values.length}`;
    },
  };
}

/** The text before its first U+0000. */
function cutAtNul(value: string): string {
  return value.split('\0', 1)[0] ?? '';
}

/**
 * `(columns) > (values)` (or `<`): the rows past a position in that direction. PostgreSQL text
 * cannot carry U+0000, so a position holding one (a crafted cursor) is cut at the first: no
 * stored value holds one, so the values above 'm\0…' are exactly those above 'm', and the values
 * below it are 'm' and those below 'm'. The columns after the cut one no longer matter, since no
 * row equals the cut value.
 */
function beyond(
  columns: readonly string[],
  position: readonly string[],
  direction: '>' | '<',
  param: (v: string) => string,
): string {
  const cut = position.findIndex((value) => value.includes('\0'));
  if (cut === -1) return `(${columns.join(', ')}) ${direction} (${position.map(param).join(', ')})`;
  const kept = [...position.slice(0, cut), cutAtNul(position[cut] ?? '')];
  const op = direction === '>' ? '>' : '<=';
  return `(${columns.slice(0, cut + 1).join(', ')}) ${op} (${kept.map(param).join(', ')})`;
}

/** SQL adding up the messages of an hour window (see hourWindow): whole hours from hour_counts, edges counted. */
function windowCount(window: HourWindow, param: (value: string) => string): string {
  if (window.empty) return 'SELECT 0';
  const parts: string[] = [];
  if (window.hours !== null) {
    const bounds: string[] = [];
    if (window.hours.afterHour !== undefined) bounds.push(`hour > ${param(window.hours.afterHour)}`);
    if (window.hours.beforeHour !== undefined) bounds.push(`hour < ${param(window.hours.beforeHour)}`);
    parts.push(`(SELECT coalesce(sum(count), 0) FROM hour_counts ${bounds.length > 0 ? `WHERE ${bounds.join(' AND ')}` : ''})`);
  }
  for (const range of window.ranges) {
    parts.push(`(SELECT count(*) FROM messages WHERE ts_key >= ${param(range.fromKey)} AND ts_key < ${param(range.toKey)})`);
  }
  return `SELECT ${parts.length > 0 ? parts.join(' + ') : '0'}`;
}

/** The listing's conditions for a filter, their values added with `param`. */
function messageConditions(filter: MessageFilter, param: (value: string | number) => string): string[] {
  const where: string[] = [];
  if (filter.from !== undefined) where.push(`from_number = ${param(filter.from)}`);
  // to_number and type have the database's collation; COLLATE "C" is what their indexes use.
  if (filter.to !== undefined) where.push(`to_number COLLATE "C" = ${param(filter.to)}`);
  if (filter.type !== undefined) where.push(`type COLLATE "C" = ${param(filter.type)}`);
  if (filter.sinceKey !== undefined) where.push(`ts_key >= ${param(filter.sinceKey)}`);
  if (filter.untilKey !== undefined) where.push(`ts_key < ${param(filter.untilKey)}`);
  // Folded on both sides by the same function, so case-insensitivity is exactly SQLite's.
  if (filter.q !== undefined) where.push(`text_folded LIKE ${param(containsPattern(foldCase(filter.q)))}`);
  return where;
}

/**
 * The rows of a page as a JSON array, `rows` (`limit` of them at most, from `offset` on), in the
 * order storedMessage() reads, each with its details columns when the page asks for them.
 */
function messageRows(
  where: readonly string[],
  page: Omit<Page, 'limit'>,
  limit: number,
  param: (value: string | number) => string,
): string {
  const desc = page.order === 'desc';
  const paged =
    page.after === undefined
      ? where
      : [...where, beyond(['ts_key', 'message_id'], [page.after.tsKey, page.after.messageId], desc ? '<' : '>', param)];
  const order = desc ? 'ts_key DESC, message_id DESC' : 'ts_key, message_id';
  const columns = page.details === true ? [...MESSAGE_COLUMNS, ...DETAIL_COLUMNS] : MESSAGE_COLUMNS;
  const rows = `SELECT json_build_array(${columns.join(', ')}) AS row, ts_key, message_id FROM messages
      ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
      ORDER BY ${order} LIMIT ${param(limit)} OFFSET ${param(page.offset)}`;
  return `(SELECT coalesce(json_agg(r.row ORDER BY ${order}), '[]') FROM (${rows}) AS r) AS rows`;
}

/**
 * One statement for a page of the listing and its total, so that both come from one snapshot. It
 * answers one row: `total`, and `rows` (see messageRows), one more than the limit, to tell whether
 * more follow.
 */
export function listMessagesQuery(filter: MessageFilter, page: Page): { text: string; values: Values } {
  const { values, param } = parameters();
  const where = messageConditions(filter, param);

  let count: string;
  const plan = countPlan(filter);
  switch (plan.kind) {
    case 'total':
      count = 'SELECT messages FROM totals WHERE id = 1';
      break;
    case 'sender':
      count = `SELECT coalesce((SELECT count FROM sender_counts WHERE sender = ${param(plan.from)}), 0)`;
      break;
    case 'recipient':
      count = `SELECT coalesce((SELECT count FROM recipient_counts WHERE recipient = ${param(plan.to)}), 0)`;
      break;
    case 'type':
      count = `SELECT coalesce((SELECT count FROM type_counts WHERE type = ${param(plan.type)}), 0)`;
      break;
    case 'conversation':
      count = `SELECT coalesce((SELECT messages FROM conversations
        WHERE from_number = ${param(plan.from)} AND to_number = ${param(plan.to)}), 0)`;
      break;
    case 'window':
      count = windowCount(plan.window, param);
      break;
    case 'scan':
      count = `SELECT count(*) FROM messages ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`;
      break;
  }
  const text = `SELECT (${count}) AS total, ${messageRows(where, page, page.limit + 1, param)}`;
  return { text, values };
}

/**
 * One chunk of an export: the listing's rows (oldest first, with details, from the position on;
 * each chunk enters the index the listing would use at its position), without a total.
 */
export function exportMessagesQuery(
  filter: MessageFilter,
  page: { readonly after?: Position; readonly limit: number },
): { text: string; values: Values } {
  const { values, param } = parameters();
  const where = messageConditions(filter, param);
  const listing = { offset: 0, order: 'asc', details: true, ...(page.after ? { after: page.after } : {}) } as const;
  return { text: `SELECT ${messageRows(where, listing, page.limit, param)}`, values };
}

/**
 * One statement for a page of conversations and its total, most recent first: `total`, and `rows`
 * (one more than the limit). The total of every conversation is kept in totals; a filtered one
 * counts rows of an index (a recipient's conversations, or a sender's by the primary key).
 */
export function listConversationsQuery(
  filter: ConversationFilter,
  page: { readonly limit: number; readonly after?: ConversationPosition },
): { text: string; values: Values } {
  const { values, param } = parameters();
  const where: string[] = [];
  if (filter.from !== undefined) where.push(`from_number = ${param(filter.from)}`);
  if (filter.to !== undefined) where.push(`to_number = ${param(filter.to)}`);
  const count =
    where.length === 0
      ? 'SELECT conversations FROM totals WHERE id = 1'
      : `SELECT count(*) FROM conversations WHERE ${where.join(' AND ')}`;
  const paged = [...where];
  const after = page.after;
  if (after !== undefined) {
    // The order is mixed (last instant descending, then from and to ascending), which one row
    // comparison cannot say; the bound on last_ts_key alone lets an index start at the position.
    const lastKey = cutAtNul(after.lastTsKey);
    if (lastKey !== after.lastTsKey) {
      // No conversation's key equals a key holding U+0000: those past it are at or below the cut.
      paged.push(`last_ts_key <= ${param(lastKey)}`);
    } else {
      const key = param(lastKey);
      paged.push(
        `last_ts_key <= ${key}`,
        `(last_ts_key < ${key} OR ${beyond(['from_number', 'to_number'], [after.from, after.to], '>', param)})`,
      );
    }
  }
  const order = 'last_ts_key DESC, from_number, to_number';
  const rows = `SELECT json_build_array(${CONVERSATION_COLUMNS.join(', ')}) AS row, last_ts_key, from_number, to_number
      FROM conversations ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
      ORDER BY ${order} LIMIT ${param(page.limit + 1)}`;
  const text = `SELECT (${count}) AS total,
      (SELECT coalesce(json_agg(r.row ORDER BY ${order}), '[]') FROM (${rows}) AS r) AS rows`;
  return { text, values };
}

/** The characters of an hour key ('YYYY-MM-DDTHH') that name its bucket: a day is its first ten. */
const BUCKET_PREFIX: Record<Bucket, number> = { hour: 13, day: 10 };

/**
 * One statement for the counts of a time series (see hourWindow): the hour_counts rows of the
 * whole hours, and each edge range counted from the messages under its hour, added up per bucket
 * so that a long series of days does not carry every hour. It answers `hours`, a JSON array of
 * [hour or day key, count]. No statement (null) when the window holds no instant.
 */
export function timeseriesQuery(query: TimeseriesQuery): { text: string; values: Values } | null {
  const window = hourWindow(query.sinceKey, query.untilKey);
  if (window.empty) return null;
  const { values, param } = parameters();
  const parts: string[] = [];
  if (window.hours !== null) {
    const bounds: string[] = [];
    if (window.hours.afterHour !== undefined) bounds.push(`hour > ${param(window.hours.afterHour)}`);
    if (window.hours.beforeHour !== undefined) bounds.push(`hour < ${param(window.hours.beforeHour)}`);
    parts.push(`SELECT hour, count FROM hour_counts ${bounds.length > 0 ? `WHERE ${bounds.join(' AND ')}` : ''}`);
  }
  for (const range of window.ranges) {
    parts.push(`SELECT ${param(hourKey(range.fromKey))}::text COLLATE "C", count(*) FROM messages
      WHERE ts_key >= ${param(range.fromKey)} AND ts_key < ${param(range.toKey)}`);
  }
  const text = `SELECT coalesce(json_agg(json_build_array(b.bucket, b.count)), '[]') AS hours
    FROM (SELECT left(h.hour, ${param(BUCKET_PREFIX[query.bucket])}) AS bucket, sum(h.count) AS count
          FROM (${parts.join(' UNION ALL ')}) AS h (hour, count) GROUP BY 1) AS b`;
  return { text, values };
}

/**
 * One statement for a page of the feed: one row per event, `event`, a JSON array that feedEvent()
 * reads: the event's position, type, received_at and message_id, then the row it names (the
 * message with its details, the status or the dead letter; null for the other two), each read
 * by its key only for the events of its type. Positions come from the primary key, in order.
 */
export function readFeedQuery(query: FeedQuery): { text: string; values: Values } {
  const { values, param } = parameters();
  // No position is that large; a larger `after` is past every event, as the largest one is.
  const where = [`e.position > ${param(Math.min(query.after, Number.MAX_SAFE_INTEGER))}`];
  const types = query.types ?? [];
  if (types.length > 0) where.push(`e.type IN (${types.map((type) => param(type)).join(', ')})`);
  // A sender or recipient keeps only message events.
  const sender: string[] = [];
  if (query.from !== undefined) sender.push(`m.from_number = ${param(query.from)}`);
  if (query.to !== undefined) sender.push(`m.to_number COLLATE "C" = ${param(query.to)}`);
  if (sender.length > 0) {
    where.push(`e.type = 'message.created'`);
    where.push(`EXISTS (SELECT 1 FROM messages AS m WHERE m.message_id = e.message_id AND ${sender.join(' AND ')})`);
  }
  // In each subquery the bare column names are the table's own: events' are named with e.
  const text = `SELECT json_build_array(e.position, e.type, ${isoText('e.received_at')}, e.message_id,
      CASE WHEN e.type = 'message.created' THEN
        (SELECT json_build_array(${[...MESSAGE_COLUMNS, ...DETAIL_COLUMNS].join(', ')}) FROM messages WHERE message_id = e.message_id)
      END,
      CASE WHEN e.type = 'status.created' THEN
        (SELECT json_build_array(status, ts, recipient_id, errors) FROM delivery_statuses
          WHERE message_id = e.message_id AND status = e.status)
      END,
      CASE WHEN e.type = 'dead_letter.created' THEN
        (SELECT json_build_array(id, ${isoText('received_at')}, source, kind, reason, item, item_id) FROM dead_letters
          WHERE id = e.dead_letter)
      END) AS event
    FROM events AS e WHERE ${where.join(' AND ')}
    ORDER BY e.position LIMIT ${param(query.limit)}`;
  return { text, values };
}
