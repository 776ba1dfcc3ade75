// The SQLite read queries, one copy of each: SqliteStore runs them on the calling thread, and each
// reader thread (reader.worker.ts) runs them on a connection of its own.

import type Database from 'better-sqlite3';
import { codePointLength } from '../../ingest/issues.js';
import { MESSAGE_SOURCES } from '../../ingest/message.js';
import { DEAD_LETTER_KINDS, DELIVERY_STATUS_NAMES } from '../../ingest/whatsapp.js';
import { type CountPlan, countPlan, hourKey, hourWindow, type KeyRange } from '../count-plan.js';
import { asDeadLetterKind, asStatusName, detailsOf, isStorableId, STATUS_ORDER_SQL, withType } from '../delivery-rows.js';
import { type DetailedMessage, type ExportChunk, type ExportFormat, formatChunk } from '../export-format.js';
import {
  type BucketCount,
  type Conversation,
  type ConversationFilter,
  type ConversationPage,
  type ConversationPosition,
  type DeadLetterPage,
  FEED_EVENT_TYPES,
  type FeedEvent,
  type FeedHead,
  type FeedJson,
  type FeedQuery,
  foldCase,
  type MessageDetail,
  type MessageFilter,
  type MessagePage,
  type Page,
  type Position,
  type Removal,
  type Stats,
  type StoredDeadLetter,
  type StoredMessage,
  type StoredStatus,
  type TimeseriesQuery,
} from '../store.js';
import { bucketCounts } from '../timeseries.js';
import { SHOWN_SENDERS } from './leading-senders.js';

/**
 * What each read takes. A read travels to a reader thread as `{ kind, ...arguments }`, so every
 * argument is plain data that the structured clone copies.
 */
export interface ReadArguments {
  messages: { readonly filter: MessageFilter; readonly page: Page };
  message: { readonly messageId: string };
  deadLetters: { readonly page: { readonly limit: number; readonly offset: number } };
  stats: { readonly topSenders: number };
  conversations: {
    readonly filter: ConversationFilter;
    readonly page: { readonly limit: number; readonly after?: ConversationPosition };
  };
  timeseries: { readonly query: TimeseriesQuery };
  feed: { readonly query: FeedQuery };
  feedJson: { readonly query: FeedQuery };
  feedHead: object;
  export: { readonly filter: MessageFilter; readonly page: { readonly after?: Position; readonly limit: number } };
  /** `reuse` moves to the thread rather than being copied (see readTransfers). */
  exportChunk: {
    readonly filter: MessageFilter;
    readonly page: { readonly after?: Position; readonly limit: number };
    readonly format: ExportFormat;
    readonly reuse?: ArrayBuffer;
  };
  purgeCount: { readonly before: string };
  oldestReceivedAt: object;
}

/** What each read answers. */
export interface ReadAnswers {
  messages: MessagePage;
  message: MessageDetail | null;
  deadLetters: DeadLetterPage;
  stats: Stats;
  conversations: ConversationPage;
  timeseries: BucketCount[];
  feed: FeedRows;
  feedJson: FeedJson;
  feedHead: FeedHead;
  export: StoredMessage[];
  exportChunk: ExportChunk;
  purgeCount: Removal;
  oldestReceivedAt: string | null;
}

export type ReadKind = keyof ReadArguments;

/** One read: its kind with its arguments. */
export type ReadRequest<K extends ReadKind = ReadKind> = { readonly kind: K } & ReadArguments[K];

/**
 * What a read hands to the thread that runs it, and what that thread hands back, by moving it
 * rather than copying it: the buffer an export chunk is written into, there and back. Only a
 * buffer of its own is ever moved (formatChunk never writes into a slice of Node's shared pool).
 */
export function readTransfers(request: ReadRequest): ArrayBuffer[] {
  return request.kind === 'exportChunk' && 'reuse' in request && request.reuse instanceof ArrayBuffer ? [request.reuse] : [];
}

export function answerTransfers(kind: ReadKind, answer: unknown): ArrayBuffer[] {
  if (kind !== 'exportChunk') return [];
  const { buffer } = (answer as ExportChunk).bytes;
  return buffer instanceof ArrayBuffer ? [buffer] : [];
}

interface MessageRow {
  message_id: string;
  from_number: string;
  to_number: string;
  ts: string;
  ts_key: string;
  text: string | null;
  type: string | null;
}

/** The columns a MessageRow reads. */
const MESSAGE_COLUMNS = 'message_id, from_number, to_number, ts, ts_key, text, type';

/** A MessageRow with its details' columns. */
interface DetailedRow extends MessageRow {
  source: string | null;
  received_at: string;
  raw: string | null;
  contact_name: string | null;
  reply_to: string | null;
  phone_number_id: string | null;
}

const DETAILED_COLUMNS = `${MESSAGE_COLUMNS}, source, received_at, raw, contact_name, reply_to, phone_number_id`;

interface ConversationRow {
  from_number: string;
  to_number: string;
  contact_name: string | null;
  messages: number;
  first_ts: string;
  last_ts: string;
  last_ts_key: string;
  last_message_id: string;
  last_text: string | null;
  last_type: string | null;
}

const CONVERSATION_COLUMNS =
  'from_number, to_number, contact_name, messages, first_ts, last_ts, last_ts_key, last_message_id, last_text, last_type';

interface StatusRow {
  status: string;
  ts: string;
  recipient_id: string | null;
  errors: string | null;
}

interface DeadLetterRow {
  id: number;
  received_at: string;
  source: string;
  kind: string;
  reason: string;
  item: string;
  item_id: string | null;
}

/**
 * A feed row, in the order of FEED_SELECT's columns: the event's, then those of the message, the
 * status or the dead letter it names (null where it names none of that kind). A read answers each
 * row as its JSON text, which SQLite writes (FeedRows); the caller parses them and makes each an
 * event (toFeedEvents). The page crosses from a reader thread, where one string a row crosses for
 * the price of a copy and the structured clone of the 27 values of each row costs more than
 * JSON.parse does. Measured with one reader thread at 1,000,000 events, p50 of the read as the
 * caller waits for it, then the CPU it costs the calling thread: pages of 1,000 events, values
 * 7.6 ms and 2.7 ms, JSON text per row 4.7 ms and 2.2 ms; pages of 100 about even (1.06 ms and
 * 1.00 ms). One JSON text for the whole page was worse at 1,000 (a string of a megabyte, two
 * bytes a character once one is not ASCII, to decode and parse: 8 ms of the calling thread).
 */
export type FeedRow = readonly [
  position: number,
  eventType: string,
  eventReceivedAt: string,
  messageId: string | null,
  from: string | null,
  to: string | null,
  ts: string | null,
  tsKey: string | null,
  text: string | null,
  type: string | null,
  source: string | null,
  receivedAt: string | null,
  raw: string | null,
  contactName: string | null,
  replyTo: string | null,
  phoneNumberId: string | null,
  status: string | null,
  statusTs: string | null,
  recipientId: string | null,
  errors: string | null,
  deadLetterId: number | null,
  deadLetterReceivedAt: string | null,
  deadLetterSource: string | null,
  kind: string | null,
  reason: string | null,
  item: string | null,
  itemId: string | null,
];

/** The row an event names must be there: events are removed with their rows. */
function missing(what: string, position: number): Error {
  return new Error(`the ${what} of feed event ${position} is missing`);
}

/** The JSON text of each FeedRow of a read. */
export type FeedRows = string[];

/** The events of a read's rows (see FeedRow). */
export function toFeedEvents(rows: FeedRows): FeedEvent[] {
  return rows.map((row) => toFeedEvent(JSON.parse(row) as FeedRow));
}

/** A stored event from its row (see FeedRow). */
function toFeedEvent(row: FeedRow): FeedEvent {
  const [
    position,
    type,
    receivedAt,
    messageId,
    from,
    to,
    ts,
    tsKey,
    text,
    messageType,
    source,
    messageReceivedAt,
    raw,
    contactName,
    replyTo,
    phoneNumberId,
    status,
    statusTs,
    recipientId,
    errors,
    deadLetterId,
    deadLetterReceivedAt,
    deadLetterSource,
    kind,
    reason,
    item,
    itemId,
  ] = row;
  switch (type) {
    case 'message.created': {
      if (messageId === null || from === null || to === null || ts === null || tsKey === null || messageReceivedAt === null) {
        throw missing('message', position);
      }
      const message = withType({ messageId, from, to, ts, tsKey, text }, messageType);
      const details = detailsOf(message, { source, receivedAt: messageReceivedAt, raw, contactName, replyTo, phoneNumberId });
      return { position, receivedAt, type, message: { ...message, details } };
    }
    case 'status.created':
      if (messageId === null || status === null || statusTs === null) throw missing('status', position);
      return {
        position,
        receivedAt,
        type,
        messageId,
        status: { status: asStatusName(status), ts: statusTs, recipientId, errors },
      };
    case 'dead_letter.created':
      if (
        deadLetterId === null ||
        deadLetterReceivedAt === null ||
        deadLetterSource === null ||
        kind === null ||
        reason === null ||
        item === null
      ) {
        throw missing('dead letter', position);
      }
      return {
        position,
        receivedAt,
        type,
        deadLetter: {
          id: deadLetterId,
          source: deadLetterSource,
          receivedAt: deadLetterReceivedAt,
          kind: asDeadLetterKind(kind),
          reason,
          item,
          itemId,
        },
      };
  }
  throw new Error(`unexpected feed event type read back: ${type}`);
}

/**
 * The events at the positions `p` lists (a WITH clause of the query; see #feedPlan) with the rows
 * they name, each as the JSON text of its FeedRow. Each LEFT JOIN matches for one type only:
 * messages and dead letters by the rowid the event keeps (null for the other types), statuses by
 * their key. A page's messages are found by rowid rather than by message_id: they were written one
 * after another, so they sit on a few neighbouring pages, where the message_id index would be
 * entered at a random place for each (migration 8). CROSS JOIN keeps p as the outer loop.
 */
const FEED_SELECT = `
  SELECT json_array(e.position, e.type, e.received_at, e.message_id,
                    m.from_number, m.to_number, m.ts, m.ts_key, m.text, m.type, m.source, m.received_at,
                    m.raw, m.contact_name, m.reply_to, m.phone_number_id,
                    s.status, s.ts, s.recipient_id, s.errors,
                    d.id, d.received_at, d.source, d.kind, d.reason, d.item, d.item_id)
  FROM p CROSS JOIN events AS e ON e.position = p.position
  LEFT JOIN messages AS m ON m.id = e.message_row
  LEFT JOIN delivery_statuses AS s ON e.type = 'status.created' AND s.message_id = e.message_id AND s.status = e.status
  LEFT JOIN dead_letters AS d ON d.id = e.dead_letter`;

/** A list of names as SQL string literals (names of the code's own, holding no quote). */
function sqlStrings(names: readonly string[]): string {
  return names.map((name) => `'${name}'`).join(', ');
}

/** The JSON text of a text column, or null: json_quote writes it byte for byte as JSON.stringify does. */
const q = (column: string): string => `json_quote(${column})`;

/** The core form's body, rebuilt from the row's own fields as coreBody (delivery-rows.ts) writes it. */
const CORE_BODY_SQL = `'{"message_id":' || ${q('m.message_id')} || ',"from":' || ${q('m.from_number')} || ',"to":' || ${q('m.to_number')} || ',"ts":' || ${q('m.ts')} || ',"text":' || ${q('m.text')} || '}'`;

/**
 * The data of a message.created event: messageJson (export-format.ts) of what detailsOf makes of
 * the row. A row stored before sources were kept (source null) is "whatsapp" when it has a type,
 * else "spec", with the raw it has; a spec or standard message whose raw is null (the core body)
 * gets that body rebuilt. Stored JSON (raw, errors, item) goes in as its text, as storedJsonText
 * does: json() could write a number differently from the text JSON.stringify wrote.
 */
const MESSAGE_DATA_SQL = `'{"message_id":' || ${q('m.message_id')} || ',"from":' || ${q('m.from_number')} ||
  ',"to":' || ${q('m.to_number')} || ',"ts":' || ${q('m.ts')} || ',"text":' || ${q('m.text')} || ',"type":' || ${q('m.type')} ||
  ',"source":' || ${q("coalesce(m.source, CASE WHEN m.type IS NULL THEN 'spec' ELSE 'whatsapp' END)")} ||
  ',"received_at":' || ${q('m.received_at')} || ',"contact_name":' || ${q('m.contact_name')} ||
  ',"reply_to":' || ${q('m.reply_to')} || ',"phone_number_id":' || ${q('m.phone_number_id')} ||
  ',"raw":' || coalesce(m.raw, CASE WHEN m.source <> 'whatsapp' THEN ${CORE_BODY_SQL} END, 'null') || '}'`;

const STATUS_DATA_SQL = `'{"message_id":' || ${q('e.message_id')} || ',"status":' || ${q('s.status')} || ',"ts":' || ${q('s.ts')} ||
  ',"recipient_id":' || ${q('s.recipient_id')} || ',"errors":' || coalesce(s.errors, 'null') || '}'`;

const DEAD_LETTER_DATA_SQL = `'{"id":' || d.id || ',"received_at":' || ${q('d.received_at')} || ',"source":' || ${q('d.source')} ||
  ',"kind":' || ${q('d.kind')} || ',"reason":' || ${q('d.reason')} || ',"item_id":' || ${q('d.item_id')} ||
  ',"item":' || d.item || '}'`;

/**
 * FEED_SELECT's rows as (position, the event's feed item as JSON text): feedItemJson (feed-json.ts)
 * written in SQL, so that a reader thread hands over a page's text and the calling thread parses
 * and builds nothing. Where toFeedEvent would refuse the row (the row an event names is missing,
 * or holds a value the domain does not know), the text is NULL and readFeedJson throws.
 */
const FEED_JSON_SELECT = `
  SELECT e.position,
         '{"position":' || e.position || ',"received_at":' || ${q('e.received_at')} || ',"type":"' || e.type || '","data":' ||
         CASE
           WHEN e.type = 'message.created' AND m.id IS NOT NULL
                AND (m.source IS NULL OR m.source IN (${sqlStrings(MESSAGE_SOURCES)})) THEN ${MESSAGE_DATA_SQL}
           WHEN e.type = 'status.created' AND s.status IN (${sqlStrings(DELIVERY_STATUS_NAMES)}) THEN ${STATUS_DATA_SQL}
           WHEN e.type = 'dead_letter.created' AND d.kind IN (${sqlStrings(DEAD_LETTER_KINDS)}) THEN ${DEAD_LETTER_DATA_SQL}
         END || '}'
  FROM p CROSS JOIN events AS e ON e.position = p.position
  LEFT JOIN messages AS m ON m.id = e.message_row
  LEFT JOIN delivery_statuses AS s ON e.type = 'status.created' AND s.message_id = e.message_id AND s.status = e.status
  LEFT JOIN dead_letters AS d ON d.id = e.dead_letter`;

interface ListStatements {
  readonly rows: Database.Statement;
  readonly count: Database.Statement;
}

/** The oldest received_at kept: the first entry of each table's arrival index (migration 7). */
export const OLDEST_RECEIVED_AT = `
  SELECT min(at) FROM (SELECT min(received_at) AS at FROM messages
                       UNION ALL SELECT min(created_at) FROM delivery_statuses
                       UNION ALL SELECT min(received_at) FROM dead_letters)`;

/** The trigram index serves search terms of at least this many characters; shorter ones scan. */
const TRIGRAM = 3;

/**
 * An FTS5 query that matches rows containing every trigram of `q` (a superset of the rows that
 * contain q; instr then decides). Long terms use a spread of at most 16 trigrams: enough to be
 * selective, few enough to stay cheap.
 */
function trigramQuery(q: string): string {
  const chars = Array.from(q);
  const all = new Set<string>();
  for (let i = 0; i + TRIGRAM <= chars.length; i++) all.add(chars.slice(i, i + TRIGRAM).join(''));
  const unique = [...all];
  const step = Math.max(1, unique.length / 16);
  const picked = new Set<string>();
  for (let i = 0; i < unique.length; i += step) picked.add(unique[Math.floor(i)] ?? '');
  picked.add(unique.at(-1) ?? '');
  picked.delete('');
  return [...picked].map((t) => `"${t.replaceAll('"', '""')}"`).join(' AND ');
}

function toStored(row: MessageRow): StoredMessage {
  const { message_id: messageId, from_number: from, to_number: to, ts, ts_key: tsKey, text } = row;
  return withType({ messageId, from, to, ts, tsKey, text }, row.type);
}

function toDetailed(row: DetailedRow): DetailedMessage {
  const message = toStored(row);
  const details = detailsOf(message, {
    source: row.source,
    receivedAt: row.received_at,
    raw: row.raw,
    contactName: row.contact_name,
    replyTo: row.reply_to,
    phoneNumberId: row.phone_number_id,
  });
  return { ...message, details };
}

function toDeadLetter(r: DeadLetterRow): StoredDeadLetter {
  return {
    id: r.id,
    source: r.source,
    receivedAt: r.received_at,
    kind: asDeadLetterKind(r.kind),
    reason: r.reason,
    item: r.item,
    itemId: r.item_id,
  };
}

function toConversation(row: ConversationRow): Conversation {
  return {
    from: row.from_number,
    to: row.to_number,
    contactName: row.contact_name,
    messages: row.messages,
    firstTs: row.first_ts,
    lastTs: row.last_ts,
    lastTsKey: row.last_ts_key,
    lastMessage: { messageId: row.last_message_id, ts: row.last_ts, text: row.last_text, type: row.last_type },
  };
}

/**
 * The statements of a page of conversations and of its total, most recent first, then from and to
 * ascending: after a position come the older conversations, and those of the same instant with a
 * greater (from, to).
 *
 * Without a sender, the order's tables (migration 9) are walked from the position on, each entry
 * joined to its conversation and kept only while the conversation's last instant is still the
 * entry's (a stale entry, which the writer's sweep has not deleted yet, is skipped). With a sender,
 * its few conversations are read through the primary key and sorted. Each position is written with
 * a plain bound on last_ts_key first, so the walk is entered at it.
 */
function conversationStatements(db: Database.Database, filter: ConversationFilter, paged: boolean): ListStatements {
  const after = (table: string) =>
    paged
      ? [
          `${table}.last_ts_key <= @afterKey`,
          `(${table}.last_ts_key < @afterKey OR (${table}.from_number, ${table}.to_number) > (@afterFrom, @afterTo))`,
        ]
      : [];
  const columns = CONVERSATION_COLUMNS.split(', ')
    .map((c) => `c.${c}`)
    .join(', ');
  const order = (table: string) => `ORDER BY ${table}.last_ts_key DESC, ${table}.from_number, ${table}.to_number`;
  if (filter.from !== undefined) {
    const where = ['from_number = @from', ...(filter.to !== undefined ? ['to_number = @to'] : [])];
    return {
      rows: db.prepare(
        `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE ${[...where, ...after('conversations')].join(' AND ')}
         ${order('conversations')} LIMIT @limit`,
      ),
      count: db.prepare(`SELECT count(*) FROM conversations WHERE ${where.join(' AND ')}`).pluck(),
    };
  }
  const walked = filter.to === undefined ? 'conversation_order' : 'conversation_order_by_recipient';
  const where = [...(filter.to !== undefined ? ['o.to_number = @to'] : []), ...after('o')];
  return {
    rows: db.prepare(
      `SELECT ${columns} FROM ${walked} AS o
         JOIN conversations AS c
           ON c.from_number = o.from_number AND c.to_number = o.to_number AND c.last_ts_key = o.last_ts_key
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ${order('o')} LIMIT @limit`,
    ),
    count: db
      .prepare(
        filter.to === undefined
          ? 'SELECT conversations FROM totals WHERE id = 1'
          : 'SELECT coalesce((SELECT conversations FROM recipient_counts WHERE recipient = @to), 0)',
      )
      .pluck(),
  };
}

/** `fromKey <= ts_key < toKey` for the i-th range of a window, with its parameters. */
function rangeSql(i: number): string {
  return `(SELECT count(*) FROM messages WHERE ts_key >= @range${i}From AND ts_key < @range${i}To)`;
}

function pickParams(params: Record<string, string | number>, names: readonly string[]): Record<string, string | number> {
  return Object.fromEntries(names.filter((name) => Object.hasOwn(params, name)).map((name) => [name, params[name] ?? '']));
}

function rangeParams(ranges: readonly KeyRange[]): Record<string, string> {
  const params: Record<string, string> = {};
  ranges.forEach((range, i) => {
    params[`range${i}From`] = range.fromKey;
    params[`range${i}To`] = range.toKey;
  });
  return params;
}

/** `hour > @afterHour AND hour < @beforeHour`, each only when the window has it. */
function hourBounds(hours: { readonly afterHour?: string; readonly beforeHour?: string }): string {
  const bounds: string[] = [];
  if (hours.afterHour !== undefined) bounds.push('hour > @afterHour');
  if (hours.beforeHour !== undefined) bounds.push('hour < @beforeHour');
  return bounds.length > 0 ? `WHERE ${bounds.join(' AND ')}` : '';
}

function toStatus(row: StatusRow): StoredStatus {
  return { status: asStatusName(row.status), ts: row.ts, recipientId: row.recipient_id, errors: row.errors };
}

/**
 * The count statement of a plan (see count-plan.ts), with the named parameters countParams
 * binds; `filtered` is the listing's WHERE clause, which a scan counts.
 */
function countSql(plan: CountPlan, filtered: string): string {
  switch (plan.kind) {
    case 'total':
      return 'SELECT messages FROM totals WHERE id = 1';
    case 'sender':
      return 'SELECT coalesce((SELECT count FROM sender_counts WHERE sender = @from), 0)';
    case 'recipient':
      return 'SELECT coalesce((SELECT count FROM recipient_counts WHERE recipient = @to), 0)';
    case 'type':
      return 'SELECT coalesce((SELECT count FROM type_counts WHERE type = @type), 0)';
    case 'conversation':
      return 'SELECT coalesce((SELECT messages FROM conversations WHERE from_number = @from AND to_number = @to), 0)';
    case 'window': {
      const { window } = plan;
      if (window.empty) return 'SELECT 0';
      const parts = window.ranges.map((_, i) => rangeSql(i));
      if (window.hours !== null) parts.push(`(SELECT coalesce(sum(count), 0) FROM hour_counts ${hourBounds(window.hours)})`);
      return `SELECT ${parts.join(' + ')}`;
    }
    case 'scan':
      return `SELECT count(*) FROM messages ${filtered}`;
  }
}

/** What a plan's count statement binds besides the filter's own parameters. */
function countParams(plan: CountPlan): Record<string, string> {
  if (plan.kind !== 'window' || plan.window.empty) return {};
  const { hours, ranges } = plan.window;
  return {
    ...rangeParams(ranges),
    ...(hours?.afterHour !== undefined ? { afterHour: hours.afterHour } : {}),
    ...(hours?.beforeHour !== undefined ? { beforeHour: hours.beforeHour } : {}),
  };
}

/** Everything a count statement's text depends on. */
function planShape(plan: CountPlan): string {
  if (plan.kind !== 'window') return plan.kind;
  const { window } = plan;
  if (window.empty) return 'window-empty';
  return [
    'window',
    window.ranges.length,
    window.hours?.afterHour !== undefined,
    window.hours?.beforeHour !== undefined,
    window.hours === null,
  ].join(':');
}

/** The reads of one connection, its statements prepared once. Every read is one read transaction. */
export class SqliteReads {
  readonly #db: Database.Database;
  readonly #listCache = new Map<string, ListStatements>();
  readonly #stats: {
    totals: Database.Statement;
    top: Database.Statement;
    ranking: Database.Statement;
    first: Database.Statement;
    last: Database.Statement;
  };
  readonly #detail: { message: Database.Statement; statuses: Database.Statement };
  readonly #deadLetters: { rows: Database.Statement; count: Database.Statement };
  /** One entry per kind: `answer` picks the one its request names. */
  readonly #handlers: { [K in ReadKind]: (request: ReadRequest<K>) => ReadAnswers[K] } = {
    messages: (request) => this.listMessages(request.filter, request.page),
    message: (request) => this.getMessage(request.messageId),
    deadLetters: (request) => this.listDeadLetters(request.page),
    stats: (request) => this.stats(request.topSenders),
    conversations: (request) => this.listConversations(request.filter, request.page),
    timeseries: (request) => this.timeseries(request.query),
    feed: (request) => this.readFeed(request.query),
    feedJson: (request) => this.readFeedJson(request.query),
    feedHead: () => this.feedHead(),
    export: (request) => this.exportMessages(request.filter, request.page),
    exportChunk: (request) => this.exportChunk(request.filter, request.page, request.format, request.reuse),
    purgeCount: (request) => this.countPurge(request.before),
    oldestReceivedAt: () => this.oldestReceivedAt(),
  };
  readonly #feedCache = new Map<string, Database.Statement>();
  #feedHead: Database.Statement | undefined;
  readonly #conversationCache = new Map<string, ListStatements>();
  readonly #timeseriesCache = new Map<string, { hours: Database.Statement; ranges: Database.Statement[] }>();
  #purgeCount: Database.Statement | undefined;
  #oldest: Database.Statement | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#stats = {
      totals: db.prepare('SELECT messages, senders FROM totals WHERE id = 1'),
      top: db.prepare('SELECT sender, count FROM leading_senders ORDER BY count DESC, sender LIMIT ?'),
      ranking: db.prepare('SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT ?'),
      first: db.prepare('SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1').pluck(),
      last: db.prepare('SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1').pluck(),
    };
    this.#detail = {
      message: db.prepare(`SELECT ${DETAILED_COLUMNS} FROM messages WHERE message_id = ?`),
      statuses: db.prepare(
        `SELECT status, ts, recipient_id, errors FROM delivery_statuses WHERE message_id = ? ORDER BY ${STATUS_ORDER_SQL}`,
      ),
    };
    this.#deadLetters = {
      rows: db.prepare(
        'SELECT id, received_at, source, kind, reason, item, item_id FROM dead_letters ORDER BY id LIMIT ? OFFSET ?',
      ),
      // Exact, by counting: dead letters are the rare unreadable items, not the stream of messages.
      count: db.prepare('SELECT count(*) FROM dead_letters').pluck(),
    };
  }

  /** Runs the read a request names. */
  answer<K extends ReadKind>(request: ReadRequest<K>): ReadAnswers[K] {
    const handler: (request: ReadRequest<K>) => ReadAnswers[K] = this.#handlers[request.kind];
    return handler(request);
  }

  #listStatements(filter: MessageFilter, page: Page, q: string | undefined, plan: CountPlan): ListStatements {
    const useFts = q !== undefined && codePointLength(q) >= TRIGRAM;
    const desc = page.order === 'desc';
    // Everything the statements' text depends on.
    const key = [
      filter.from !== undefined,
      filter.to !== undefined,
      filter.type !== undefined,
      filter.sinceKey !== undefined,
      filter.untilKey !== undefined,
      q !== undefined,
      useFts,
      page.after !== undefined,
      desc,
      page.details === true,
      planShape(plan),
    ].join();
    const cached = this.#listCache.get(key);
    if (cached) return cached;

    const where: string[] = [];
    if (filter.from !== undefined) where.push('from_number = @from');
    if (filter.to !== undefined) where.push('to_number = @to');
    if (filter.type !== undefined) where.push('type = @type');
    if (filter.sinceKey !== undefined) where.push('ts_key >= @sinceKey');
    if (filter.untilKey !== undefined) where.push('ts_key < @untilKey');
    // The trigram index narrows the candidates; instr decides. instr, not LIKE: `%`, `_` and `\`
    // in q are plain characters, with no escaping to get wrong.
    // Rows the writer has not indexed yet (the newest few hundred, see writer.ts) are
    // candidates too, found by their ids.
    if (useFts) {
      where.push(`id IN (SELECT rowid FROM messages_trigrams WHERE messages_trigrams MATCH @match
                         UNION ALL
                         SELECT id FROM messages WHERE id > (SELECT indexed_upto FROM text_index_progress))`);
    }
    if (q !== undefined) where.push('instr(text_folded, @q) > 0');
    const filtered = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const paged = page.after !== undefined ? [...where, `(ts_key, message_id) ${desc ? '<' : '>'} (@afterKey, @afterId)`] : where;
    const direction = desc ? ' DESC' : '';

    const statements: ListStatements = {
      rows: this.#db.prepare(
        `SELECT ${page.details === true ? DETAILED_COLUMNS : MESSAGE_COLUMNS} FROM messages
         ${paged.length > 0 ? `WHERE ${paged.join(' AND ')}` : ''}
         ORDER BY ts_key${direction}, message_id${direction} LIMIT @limit OFFSET @offset`,
      ),
      count: this.#db.prepare(countSql(plan, filtered)).pluck(),
    };
    this.#listCache.set(key, statements);
    return statements;
  }

  /**
   * What a listing binds: the filter's values (`filter`, which a scan's count binds too) and the
   * page's (`rows`); null when a value holds U+0000, which no stored message holds (validation
   * refuses it) and so matches nothing: FTS5 could not even parse such a search term.
   */
  #listParams(
    filter: MessageFilter,
    page: Page,
  ): { q: string | undefined; filter: Record<string, string | number>; rows: Record<string, string | number> } | null {
    const values = [filter.from, filter.to, filter.type, filter.q];
    if (values.some((value) => value?.includes('\0'))) return null;
    const q = filter.q === undefined ? undefined : foldCase(filter.q);
    const params: Record<string, string | number> = {};
    if (filter.from !== undefined) params.from = filter.from;
    if (filter.to !== undefined) params.to = filter.to;
    if (filter.type !== undefined) params.type = filter.type;
    if (filter.sinceKey !== undefined) params.sinceKey = filter.sinceKey;
    if (filter.untilKey !== undefined) params.untilKey = filter.untilKey;
    if (q !== undefined) {
      params.q = q;
      params.match = trigramQuery(q);
    }
    const rows: Record<string, string | number> = { ...params, limit: page.limit + 1, offset: page.offset };
    if (page.after !== undefined) {
      rows.afterKey = page.after.tsKey;
      rows.afterId = page.after.messageId;
    }
    return { q, filter: params, rows };
  }

  listMessages(filter: MessageFilter, page: Page): MessagePage {
    const params = this.#listParams(filter, page);
    if (params === null) return { data: [], total: 0, hasMore: false };
    const plan = countPlan(filter);
    const { rows, count } = this.#listStatements(filter, page, params.q, plan);
    // A count plan from an aggregate binds only what it names; a scan binds the filter's.
    const countBinds =
      plan.kind === 'scan'
        ? params.filter
        : plan.kind === 'window'
          ? countParams(plan)
          : pickParams(params.filter, ['from', 'to', 'type']);
    const read = page.details === true ? toDetailed : toStored;
    // One read transaction: the page and its total see the same snapshot.
    const answer = this.#db.transaction((): MessagePage => {
      const found = (rows.all(params.rows) as DetailedRow[]).map(read);
      const hasMore = found.length > page.limit;
      return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(count.get(countBinds)), hasMore };
    });
    return answer.deferred();
  }

  /**
   * A chunk of an export: the listing's own statement (oldest first, with details, from the
   * position on), so each chunk enters the index the listing would use at its position and reads
   * only the rows it gives; its count is never run.
   */
  exportMessages(filter: MessageFilter, page: { readonly after?: Position; readonly limit: number }): StoredMessage[] {
    return [...this.#exportRows(filter, page)];
  }

  /**
   * exportMessages' messages formatted (see MessageStore.exportChunk), each written as soon as
   * its row is read: no row outlives its line, so a chunk leaves little for the collector to do
   * and nothing that lives long enough to reach the old generation.
   */
  exportChunk(
    filter: MessageFilter,
    page: { readonly after?: Position; readonly limit: number },
    format: ExportFormat,
    reuse?: ArrayBuffer,
  ): ExportChunk {
    return formatChunk(this.#exportRows(filter, page), format, reuse);
  }

  *#exportRows(filter: MessageFilter, page: { readonly after?: Position; readonly limit: number }): Generator<DetailedMessage> {
    const listing: Page = {
      limit: page.limit,
      offset: 0,
      order: 'asc',
      details: true,
      ...(page.after ? { after: page.after } : {}),
    };
    const params = this.#listParams(filter, listing);
    if (params === null) return;
    const { rows } = this.#listStatements(filter, listing, params.q, countPlan(filter));
    for (const row of rows.iterate({ ...params.rows, limit: page.limit }) as IterableIterator<DetailedRow>) {
      yield toDetailed(row);
    }
  }

  /**
   * What purge would remove for this cutoff (an instant as storedInstant writes it): the rows
   * received before it, and the later statuses of those messages, which go with them.
   */
  countPurge(before: string): Removal {
    this.#purgeCount ??= this.#db.prepare(
      `SELECT (SELECT count(*) FROM messages WHERE received_at < @before) AS messages,
              (SELECT count(*) FROM delivery_statuses WHERE created_at < @before)
                + (SELECT count(*) FROM messages AS m JOIN delivery_statuses AS s ON s.message_id = m.message_id
                   WHERE m.received_at < @before AND s.created_at >= @before) AS statuses,
              (SELECT count(*) FROM dead_letters WHERE received_at < @before) AS dead_letters`,
    );
    const row = this.#purgeCount.get({ before }) as { messages: number; statuses: number; dead_letters: number };
    return { messages: row.messages, statuses: row.statuses, deadLetters: row.dead_letters };
  }

  /** The oldest received_at kept: the first entry of each table's arrival index (migration 7). */
  oldestReceivedAt(): string | null {
    this.#oldest ??= this.#db.prepare(OLDEST_RECEIVED_AT).pluck();
    const oldest = this.#oldest.get();
    return typeof oldest === 'string' ? oldest : null;
  }

  listConversations(
    filter: ConversationFilter,
    page: { readonly limit: number; readonly after?: ConversationPosition },
  ): ConversationPage {
    if (filter.from?.includes('\0') || filter.to?.includes('\0')) return { data: [], total: 0, hasMore: false };
    const key = [filter.from !== undefined, filter.to !== undefined, page.after !== undefined].join();
    let statements = this.#conversationCache.get(key);
    if (statements === undefined) {
      statements = conversationStatements(this.#db, filter, page.after !== undefined);
      this.#conversationCache.set(key, statements);
    }
    const params: Record<string, string | number> = {};
    if (filter.from !== undefined) params.from = filter.from;
    if (filter.to !== undefined) params.to = filter.to;
    const rowParams: Record<string, string | number> = { ...params, limit: page.limit + 1 };
    if (page.after !== undefined) {
      rowParams.afterKey = page.after.lastTsKey;
      rowParams.afterFrom = page.after.from;
      rowParams.afterTo = page.after.to;
    }
    const { rows, count } = statements;
    const answer = this.#db.transaction((): ConversationPage => {
      const found = (rows.all(rowParams) as ConversationRow[]).map(toConversation);
      const hasMore = found.length > page.limit;
      return { data: hasMore ? found.slice(0, page.limit) : found, total: Number(count.get(params)), hasMore };
    });
    return answer.deferred();
  }

  timeseries(query: TimeseriesQuery): BucketCount[] {
    const window = hourWindow(query.sinceKey, query.untilKey);
    if (window.empty) return [];
    const key = `${query.bucket} ${planShape({ kind: 'window', window })}`;
    let statements = this.#timeseriesCache.get(key);
    if (statements === undefined) {
      // Day buckets are summed here, a day's 24 hours in one row (the hour key's first 10
      // characters are its day), rather than handed over hour by hour.
      const hours =
        query.bucket === 'day'
          ? `SELECT substr(hour, 1, 10) AS hour, sum(count) AS count FROM hour_counts ${hourBounds(window.hours ?? {})} GROUP BY 1`
          : `SELECT hour, count FROM hour_counts ${hourBounds(window.hours ?? {})}`;
      statements = {
        hours: this.#db.prepare(window.hours === null ? 'SELECT hour, count FROM hour_counts WHERE 0' : hours),
        ranges: window.ranges.map(() =>
          this.#db.prepare('SELECT count(*) FROM messages WHERE ts_key >= @fromKey AND ts_key < @toKey').pluck(),
        ),
      };
      this.#timeseriesCache.set(key, statements);
    }
    const { hours, ranges } = statements;
    const bounds = {
      ...(window.hours?.afterHour !== undefined ? { afterHour: window.hours.afterHour } : {}),
      ...(window.hours?.beforeHour !== undefined ? { beforeHour: window.hours.beforeHour } : {}),
    };
    const answer = this.#db.transaction((): BucketCount[] => {
      const counts = hours.all(bounds) as { hour: string; count: number }[];
      // The edge hours, counted from the messages inside the window only.
      window.ranges.forEach((range, i) => {
        counts.push({ hour: hourKey(range.fromKey), count: Number(ranges[i]?.get(range)) });
      });
      return bucketCounts(query.bucket, counts);
    });
    return answer.deferred();
  }

  getMessage(messageId: string): MessageDetail | null {
    if (!isStorableId(messageId)) return null;
    // One read transaction: the message and its statuses come from the same snapshot.
    const read = this.#db.transaction((): MessageDetail | null => {
      const row = this.#detail.message.get(messageId) as DetailedRow | undefined;
      const statuses = (this.#detail.statuses.all(messageId) as StatusRow[]).map(toStatus);
      if (row === undefined && statuses.length === 0) return null;
      return { messageId, message: row === undefined ? null : toDetailed(row), statuses };
    });
    return read.deferred();
  }

  /** The rows of the events a feed read answers (see FeedRow); toFeedEvents makes them events. */
  readFeed(query: FeedQuery): FeedRows {
    const plan = this.#feedPlan(query);
    if (plan === null) return [];
    let statement = this.#feedCache.get(plan.key);
    if (statement === undefined) {
      statement = this.#db.prepare(`WITH p (position) AS (${plan.positions}) ${FEED_SELECT} ORDER BY e.position`).pluck();
      this.#feedCache.set(plan.key, statement);
    }
    return statement.all({ ...plan.params, after: query.after, limit: query.limit }) as FeedRows;
  }

  /** The events readFeed answers, each as its feed item's JSON text, written by SQLite (see FEED_JSON_SELECT). */
  readFeedJson(query: FeedQuery): FeedJson {
    const plan = this.#feedPlan(query);
    if (plan === null) return { items: '', last: null };
    const key = `json ${plan.key}`;
    let statement = this.#feedCache.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(`WITH p (position) AS (${plan.positions}) ${FEED_JSON_SELECT} ORDER BY e.position`).raw();
      this.#feedCache.set(key, statement);
    }
    const rows = statement.all({ ...plan.params, after: query.after, limit: query.limit }) as [number, string | null][];
    const items: string[] = [];
    for (const [position, item] of rows) {
      if (item === null) throw new Error(`feed event ${position} names a row that is missing or holds an unexpected value`);
      items.push(item);
    }
    return { items: items.join(','), last: rows.at(-1)?.[0] ?? null };
  }

  /**
   * Which positions a feed read answers, as a query of at most `limit` of them, or null when it
   * can find none. A read of every type walks the events by position. A read of some types walks
   * each type's part of events_by_type and merges them. A read of one sender or recipient (message
   * events only) either walks the events, looking at each message, or takes that party's messages
   * through their index and sorts their events: whichever the party's count says is cheaper.
   */
  #feedPlan(query: FeedQuery): { key: string; positions: string; params: Record<string, string> } | null {
    const { from, to } = query;
    if (from?.includes('\0') || to?.includes('\0')) return null;
    const types = [...new Set(query.types ?? FEED_EVENT_TYPES)].sort();
    if (from !== undefined || to !== undefined) {
      if (!types.includes('message.created')) return null;
      const params = { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
      const party = [...(from !== undefined ? ['from_number = @from'] : []), ...(to !== undefined ? ['to_number = @to'] : [])];
      const count = this.#partyCount(from, to);
      if (count === 0) return null;
      // Walking finds `limit` of the party's messages after about limit × events / count events
      // (fewer when the feed ends sooner), each looked up in messages. The index reads every
      // message of the sender (or of the recipient when there is no sender), which are then
      // sorted. A lookup costs about twice an index row.
      const head = this.feedHead().position;
      const walked = Math.min(head - query.after, (query.limit * head) / count);
      const indexed = from !== undefined && to !== undefined ? this.#partyCount(from, undefined) : count;
      if (indexed < 2 * walked) {
        return {
          key: `party ${party.join()}`,
          // The sender's index when there is a sender: a sender has a few conversations, a
          // recipient (a business number) may have most of them.
          positions: `SELECT event FROM messages INDEXED BY ${from !== undefined ? 'messages_by_sender' : 'messages_by_recipient'}
                       WHERE ${party.join(' AND ')} AND event > @after ORDER BY event LIMIT @limit`,
          params,
        };
      }
      return {
        key: `walk ${party.join()}`,
        positions: `SELECT e.position FROM events AS e JOIN messages AS m ON m.id = e.message_row
                     WHERE e.position > @after AND e.type = 'message.created' AND ${party.map((c) => `m.${c}`).join(' AND ')}
                     ORDER BY e.position LIMIT @limit`,
        params,
      };
    }
    if (types.length === FEED_EVENT_TYPES.length) {
      return {
        key: 'all',
        positions: 'SELECT position FROM events WHERE position > @after ORDER BY position LIMIT @limit',
        params: {},
      };
    }
    // One arm per type, each already in position order: SQLite merges them.
    const arms = types.map(
      (_, i) =>
        `SELECT position FROM (SELECT position FROM events WHERE type = @type${i} AND position > @after ORDER BY position LIMIT @limit)`,
    );
    return {
      key: `types ${types.length}`,
      positions: `${arms.join(' UNION ALL ')} ORDER BY position LIMIT @limit`,
      params: Object.fromEntries(types.map((type, i) => [`type${i}`, type])),
    };
  }

  /** How many messages a sender, a recipient or the pair of them has. */
  #partyCount(from: string | undefined, to: string | undefined): number {
    const sql = countSql(
      from !== undefined && to !== undefined
        ? { kind: 'conversation', from, to }
        : from !== undefined
          ? { kind: 'sender', from }
          : { kind: 'recipient', to: to ?? '' },
      '',
    );
    let statement = this.#feedCache.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql).pluck();
      this.#feedCache.set(sql, statement);
    }
    return Number(statement.get({ ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) }));
  }

  feedHead(): FeedHead {
    this.#feedHead ??= this.#db.prepare('SELECT position, received_at FROM events ORDER BY position DESC LIMIT 1');
    const row = this.#feedHead.get() as { position: number; received_at: string } | undefined;
    return row === undefined ? { position: 0, receivedAt: null } : { position: row.position, receivedAt: row.received_at };
  }

  listDeadLetters(page: { readonly limit: number; readonly offset: number }): DeadLetterPage {
    const read = this.#db.transaction((): DeadLetterPage => {
      const rows = this.#deadLetters.rows.all(page.limit, page.offset) as DeadLetterRow[];
      return {
        data: rows.map(toDeadLetter),
        total: Number(this.#deadLetters.count.get()),
      };
    });
    return read.deferred();
  }

  stats(topSenders: number): Stats {
    // The table of leading senders is exact for its first SHOWN_SENDERS (see leading-senders.ts),
    // which is what /stats asks for; a longer ranking sorts every sender's count.
    const ranking = topSenders <= SHOWN_SENDERS ? this.#stats.top : this.#stats.ranking;
    const read = this.#db.transaction((): Stats => {
      const totals = this.#stats.totals.get() as { messages: number; senders: number } | undefined;
      const top = ranking.all(topSenders) as { sender: string; count: number }[];
      const first = this.#stats.first.get();
      const last = this.#stats.last.get();
      return {
        totalMessages: totals?.messages ?? 0,
        sendersCount: totals?.senders ?? 0,
        messagesPerSender: top.map((r) => ({ from: r.sender, count: r.count })),
        firstMessageTs: typeof first === 'string' ? first : null,
        lastMessageTs: typeof last === 'string' ? last : null,
      };
    });
    return read.deferred();
  }
}

/** The reads of an export (see ThreadReads). */
const EXPORT_KINDS: ReadonlySet<ReadKind> = new Set(['export', 'exportChunk']);

/**
 * The reads of one thread (a reader thread, or the store's own thread when it has none): every
 * kind on its connection, except exports, which run on a second connection with a small page
 * cache (see ConnectionRole), opened by the first export and kept for the next. An export walks
 * every message once: through the reads' 64 MiB cache it would fill that cache with pages read
 * once (the process growing by as much, and staying so) and push out the index pages the other
 * reads keep coming back to. `openExport` null: exports share the connection (':memory:', which
 * no other connection can open).
 */
export class ThreadReads {
  readonly #reads: SqliteReads;
  readonly #openExport: (() => Database.Database) | null;
  #export: { readonly db: Database.Database; readonly reads: SqliteReads } | null = null;

  constructor(reads: SqliteReads, openExport: (() => Database.Database) | null) {
    this.#reads = reads;
    this.#openExport = openExport;
  }

  /** Runs the read a request names, on the connection its kind reads on. */
  answer<K extends ReadKind>(request: ReadRequest<K>): ReadAnswers[K] {
    if (!EXPORT_KINDS.has(request.kind) || this.#openExport === null) return this.#reads.answer(request);
    if (this.#export === null) {
      const db = this.#openExport();
      try {
        this.#export = { db, reads: new SqliteReads(db) };
      } catch (error) {
        db.close();
        throw error;
      }
    }
    return this.#export.reads.answer(request);
  }

  /** Closes the export connection, if one was opened; the reads' own connection stays its owner's to close. */
  close(): void {
    this.#export?.db.close();
    this.#export = null;
  }
}
