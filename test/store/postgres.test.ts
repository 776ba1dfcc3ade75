// The PostgreSQL store: the MessageStore and inbox contracts (one database for this file, emptied
// before each test so every test migrates from scratch), then what only PostgreSQL has: migrations
// under an advisory lock and upgrades from earlier schemas, several stores (replicas) writing one
// database with aggregates that stay equal to counting, the indexes each read needs, the feed's
// positions in commit order across replicas and the watch that hears other replicas' commits, and
// outages: a server that is gone, one that hangs, connections that break.

import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import { DEFAULT_POSTGRES_TIMEOUTS, LISTENER_APPLICATION_NAME, listenerClient } from '../../src/store/postgres/connection.js';
import { FeedWatch } from '../../src/store/postgres/feed-watch.js';
import { POSTGRES_SCHEMA_VERSION, postgresMigrations } from '../../src/store/postgres/migrations.js';
import {
  containsPattern,
  DELETE_EVENTS,
  DELETE_SENDER_MESSAGES,
  DELETE_STATUSES_OF,
  exportMessagesQuery,
  FEED_HEAD,
  listConversationsQuery,
  listMessagesQuery,
  OLDEST_RECEIVED_AT,
  PURGE_CANDIDATES,
  RETENTION_LOCK,
  readFeedQuery,
} from '../../src/store/postgres/sql.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/store.js';
import {
  type Conversation,
  type ConversationFilter,
  type ConversationPosition,
  type DeliveryStatus,
  type DeliveryStatusName,
  type FeedEvent,
  type IncomingMessage,
  type LastMessage,
  type MessageFilter,
  type Position,
  QueryTimeout,
  StoreUnavailable,
} from '../../src/store/store.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import {
  deadLetterOf,
  deliveryOf,
  describeStoreContract,
  expectUpgradedStoreWorks,
  incoming,
  type OpenedStore,
  pick,
  type RefusingTable,
  type StoreOptions,
  seededRandom,
  statusOf,
} from './contract.js';
import { describeFeedContract, eventKey, readWholeFeed } from './feed-contract.js';
import { describeInboxContract } from './inbox-contract.js';
import { describeRemovalContract } from './removal-contract.js';

const database = useTestDatabase('store');

/** A store on the file's database, emptied and migrated from scratch, on the clock the test gives. */
async function openFresh(options: StoreOptions = {}): Promise<OpenedStore> {
  const db = await database();
  await db.reset();
  const store = await PostgresStore.open({ url: db.url, poolMax: 4, ...(options.now ? { now: options.now } : {}) });
  return { store, cleanup: () => store.close(), refuse };
}

describeStoreContract('PostgreSQL', openFresh);
describeInboxContract('PostgreSQL', openFresh);
describeFeedContract('PostgreSQL', openFresh);
describeRemovalContract('PostgreSQL', openFresh);

let planted = 0;

/** A trigger that fails every later insert into `table` of a row for `id` (see OpenedStore.refuse). */
async function refuse(table: RefusingTable, id: string): Promise<void> {
  const column = table === 'dead_letters' ? 'item_id' : 'message_id';
  const client = new pg.Client({ connectionString: (await database()).url });
  await client.connect();
  try {
    await client.query(`CREATE OR REPLACE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await client.query(`CREATE TRIGGER refuse_${planted++} BEFORE INSERT ON ${table} FOR EACH ROW
      WHEN (NEW.${column} = ${client.escapeLiteral(id)}) EXECUTE FUNCTION refuse_row()`);
  } finally {
    await client.end();
  }
}

/** Runs `sql` on the test database on a connection of its own. */
async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(query: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: (await database()).url });
  await client.connect();
  try {
    return (await client.query<R>(query, values)).rows;
  } finally {
    await client.end();
  }
}

/** The SQL that brings an empty database to schema `version`, as the releases up to it did. */
function schemaUpTo(version: number): string {
  const migrations = postgresMigrations.filter((m) => m.version <= version);
  if (migrations.length !== version) throw new Error(`test bug: migrations up to ${version} not found`);
  return `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
    ${migrations.map((m) => `${m.sql};\n INSERT INTO schema_migrations (version, name) VALUES (${m.version}, '${m.name}');`).join('\n')}`;
}

/** A message as WhatsApp ingest hands it over, with a contact name. */
function withOrigin(m: IncomingMessage, contactName: string | null): IncomingMessage {
  const raw = JSON.stringify({ id: m.messageId, from: m.from.slice(1), type: m.type ?? 'text' });
  return { ...m, origin: { source: 'whatsapp', raw, contactName, replyTo: null, phoneNumberId: '1234' } };
}

function conversation(from: string, to: string, messages: number, firstTs: string, last: LastMessage): Conversation {
  const lastTsKey = instantKey(last.ts);
  if (lastTsKey === null) throw new Error(`test bug: ${last.ts}`);
  return { from, to, contactName: null, messages, firstTs, lastTs: last.ts, lastTsKey, lastMessage: last };
}

/**
 * Every aggregate the writes keep equals what plain queries over the messages count (the
 * contact names aside, which only the conversations keep).
 */
async function expectAggregatesMatchRows(): Promise<void> {
  const [kept] = await sql<Record<string, unknown>>(`SELECT
    (SELECT json_build_array(messages, senders, conversations) FROM totals) AS totals,
    (SELECT json_agg(json_build_array(sender, count) ORDER BY sender) FROM sender_counts) AS senders,
    (SELECT json_agg(json_build_array(recipient, count) ORDER BY recipient) FROM recipient_counts) AS recipients,
    (SELECT json_agg(json_build_array(type, count) ORDER BY type) FROM type_counts) AS types,
    (SELECT json_agg(json_build_array(hour, count) ORDER BY hour) FROM hour_counts) AS hours,
    (SELECT json_agg(json_build_array(from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                                      last_ts_key, last_message_id, last_ts, last_text, last_type)
                     ORDER BY from_number, to_number) FROM conversations) AS conversations`);
  const [counted] = await sql<Record<string, unknown>>(`SELECT
    (SELECT json_build_array(count(*), count(DISTINCT from_number), count(DISTINCT (from_number, to_number))) FROM messages) AS totals,
    (SELECT json_agg(json_build_array(k, n) ORDER BY k) FROM
       (SELECT from_number COLLATE "C" AS k, count(*) AS n FROM messages GROUP BY 1) AS g) AS senders,
    (SELECT json_agg(json_build_array(k, n) ORDER BY k) FROM
       (SELECT to_number COLLATE "C" AS k, count(*) AS n FROM messages GROUP BY 1) AS g) AS recipients,
    (SELECT json_agg(json_build_array(k, n) ORDER BY k) FROM
       (SELECT type COLLATE "C" AS k, count(*) AS n FROM messages WHERE type IS NOT NULL GROUP BY 1) AS g) AS types,
    (SELECT json_agg(json_build_array(k, n) ORDER BY k) FROM
       (SELECT left(ts_key, 13) COLLATE "C" AS k, count(*) AS n FROM messages GROUP BY 1) AS g) AS hours,
    (SELECT json_agg(json_build_array(g.f, g.t, g.n, fm.ts_key, fm.message_id, fm.ts, lm.ts_key, lm.message_id, lm.ts, lm.text, lm.type)
                     ORDER BY g.f, g.t)
       FROM (SELECT from_number COLLATE "C" AS f, to_number COLLATE "C" AS t, count(*) AS n FROM messages GROUP BY 1, 2) AS g
       CROSS JOIN LATERAL (SELECT ts_key, message_id, ts FROM messages AS m WHERE m.from_number = g.f AND m.to_number = g.t
                           ORDER BY ts_key, message_id LIMIT 1) AS fm
       CROSS JOIN LATERAL (SELECT ts_key, message_id, ts, text, type FROM messages AS m WHERE m.from_number = g.f AND m.to_number = g.t
                           ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS lm) AS conversations`);
  expect(kept).toEqual(counted);
}

/** The messages store the caller opened, closed after each test. */
function useStores(): (options?: Partial<PostgresStoreOptions>) => Promise<PostgresStore> {
  const opened: PostgresStore[] = [];
  beforeEach(async () => {
    await (await database()).reset();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  return async (options = {}) => {
    const store = await PostgresStore.open({ url: (await database()).url, poolMax: 4, ...options });
    opened.push(store);
    return store;
  };
}

/** The URL of the test database with its host and port replaced. */
async function urlAt(port: number): Promise<string> {
  const url = new URL((await database()).url);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

describe('PostgreSQL migrations', () => {
  const open = useStores();

  it('apply once when several stores start together, recorded in schema_migrations', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => open()));
    for (const store of stores) await expect(store.checkHealth()).resolves.toBeUndefined();
    const versions = await sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual(Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('leave an already migrated database as it is, data included', async () => {
    const first = await open();
    await first.insertMany([incoming('kept')]);
    const second = await open();
    expect((await second.listMessages({}, { limit: 10, offset: 0 })).data.map((m) => m.messageId)).toEqual(['kept']);
  });

  it('bring a database at schema version 1 to the current version, keeping its rows', async () => {
    expect(POSTGRES_SCHEMA_VERSION).toBe(5);
    // The database as release 1 of the schema left it, with rows its store wrote.
    await sql(`${schemaUpTo(1)}
      INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at) VALUES
        ('old1', '+1', '+2', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'Old Needle', 'old needle', now()),
        ('old2', '+3', '+2', '2025-01-15T11:00:00.5Z', '2025-01-15T11:00:00.5', NULL, NULL, now());
      UPDATE totals SET messages = 2, senders = 2;
      INSERT INTO sender_counts (sender, count) VALUES ('+1', 1), ('+3', 1);
      INSERT INTO hour_counts (hour, count) VALUES ('2025-01-15T10', 1), ('2025-01-15T11', 1);`);

    const store = await open();
    await expect(store.checkHealth()).resolves.toBeUndefined();
    const versions = await sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual([1, 2, 3, 4, 5]);
    await expectUpgradedStoreWorks(store);
  });

  it('refuse, once migrated, the message inserts of the previous release, which would miss the new aggregates', async () => {
    await open();
    // The statement release 2 wrote messages with: its replicas answer 503 and the provider
    // retries on one of this release. A delivery of statuses only still goes through.
    await expect(
      sql(
        `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, created_at)
         VALUES ('late', '+1', '+2', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'x', 'x', 'text', now())`,
      ),
    ).rejects.toThrow(/created_at/);
    expect(await sql('SELECT message_id FROM messages')).toEqual([]);
    await sql(`INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at)
               VALUES ('out', 'sent', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', NULL, NULL, now())`);
  });

  it('bring a database at schema version 2 to the current version, with the aggregates of its rows', async () => {
    // Rows as release 2 wrote them: core-form and WhatsApp messages, with ties and fractions, and
    // the aggregates it kept.
    await sql(`${schemaUpTo(2)}
      INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, created_at) VALUES
        ('a1', '+1', '+9', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'first', 'first', NULL, '2025-01-15T10:00:01.5Z'),
        ('a2', '+1', '+9', '2025-01-15T10:59:59.999Z', '2025-01-15T10:59:59.999', 'image', 'image', 'image', '2025-01-15T11:00:00Z'),
        ('a0', '+1', '+9', '2025-01-15T10:59:59.999Z', '2025-01-15T10:59:59.999', 'tie', 'tie', 'text', '2025-01-15T11:00:00Z'),
        ('b1', '+2', '+9', '2025-01-15T12:30:00.5Z', '2025-01-15T12:30:00.5', NULL, NULL, 'location', '2025-01-15T12:30:01Z'),
        ('c1', '+1', '+8', '2025-01-16T00:00:00Z', '2025-01-16T00:00:00', 'next day', 'next day', 'text', '2025-01-16T00:00:01Z');
      UPDATE totals SET messages = 5, senders = 2;
      INSERT INTO sender_counts (sender, count) VALUES ('+1', 4), ('+2', 1);
      INSERT INTO hour_counts (hour, count) VALUES ('2025-01-15T10', 3), ('2025-01-15T12', 1), ('2025-01-16T00', 1);`);

    const store = await open();
    await expect(store.checkHealth()).resolves.toBeUndefined();
    const total = async (filter: MessageFilter) => (await store.listMessages(filter, { limit: 1, offset: 0 })).total;
    expect(await total({ to: '+9' })).toBe(4);
    expect(await total({ to: '+8' })).toBe(1);
    expect(await total({ type: 'text' })).toBe(2);
    expect(await total({ type: 'image' })).toBe(1);
    expect(await total({ from: '+1', to: '+9' })).toBe(3);
    expect(await total({ untilKey: '2025-01-15T12:30:00.5' })).toBe(3);

    const conversations = await store.listConversations({}, { limit: 10 });
    expect(conversations).toEqual({
      total: 3,
      hasMore: false,
      data: [
        conversation('+1', '+8', 1, '2025-01-16T00:00:00Z', {
          messageId: 'c1',
          ts: '2025-01-16T00:00:00Z',
          text: 'next day',
          type: 'text',
        }),
        conversation('+2', '+9', 1, '2025-01-15T12:30:00.5Z', {
          messageId: 'b1',
          ts: '2025-01-15T12:30:00.5Z',
          text: null,
          type: 'location',
        }),
        // Of the two latest at one instant, the greater message_id.
        conversation('+1', '+9', 3, '2025-01-15T10:00:00Z', {
          messageId: 'a2',
          ts: '2025-01-15T10:59:59.999Z',
          text: 'image',
          type: 'image',
        }),
      ],
    });
    expect(
      await store.timeseries({ bucket: 'hour', sinceKey: '2025-01-15T10:00:00.001', untilKey: '2025-01-16T00:00:00' }),
    ).toEqual([
      { bucket: '2025-01-15T10', count: 2 },
      { bucket: '2025-01-15T12', count: 1 },
    ]);
    expect(await store.timeseries({ bucket: 'day', sinceKey: '2025-01-01T00:00:00', untilKey: '2025-02-01T00:00:00' })).toEqual([
      { bucket: '2025-01-15', count: 4 },
      { bucket: '2025-01-16', count: 1 },
    ]);
    // Details as best known: no raw, the source from whether the row has a type, received_at kept.
    expect((await store.getMessage('a1'))?.message?.details).toEqual({
      source: 'spec',
      receivedAt: '2025-01-15T10:00:01.500Z',
      raw: null,
      contactName: null,
      replyTo: null,
      phoneNumberId: null,
    });
    expect((await store.getMessage('b1'))?.message?.details?.source).toBe('whatsapp');

    // New writes add to the aggregates the migration made: a later message with a contact name
    // becomes the conversation's last, an earlier one its first, and a new pair counts once.
    await store.storeDelivery(
      deliveryOf({
        messages: [
          withOrigin(incoming('a3', { from: '+1', to: '+9', ts: '2025-01-17T08:00:00Z', type: 'text', text: 'later' }), 'Asha'),
          incoming('a-1', { from: '+1', to: '+9', ts: '2025-01-14T08:00:00Z', type: 'text' }),
          incoming('d1', { from: '+3', to: '+9', ts: '2025-01-15T10:30:00Z' }),
        ],
      }),
    );
    const after = await store.listConversations({ to: '+9' }, { limit: 10 });
    expect(after.total).toBe(3);
    expect(after.data[0]).toEqual({
      ...conversation('+1', '+9', 5, '2025-01-14T08:00:00Z', {
        messageId: 'a3',
        ts: '2025-01-17T08:00:00Z',
        text: 'later',
        type: 'text',
      }),
      contactName: 'Asha',
    });
    expect((await store.listConversations({}, { limit: 1 })).total).toBe(4);
    expect(await total({ type: 'text' })).toBe(4);
    expect(await total({ to: '+9' })).toBe(7);
    await expectAggregatesMatchRows();
  });

  it('bring a database at schema version 3 to the current version, with an event per row in the order received', async () => {
    // Rows as release 3 wrote them, received at times that tie: messages, then statuses, then
    // dead letters, each in the order the store inserted them (messages and statuses by key).
    await sql(`${schemaUpTo(3)}
      INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, received_at,
                            source, raw, contact_name, reply_to, phone_number_id) VALUES
        ('m2', '+1', '+9', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'second', 'second', 'text', '2025-01-15T10:00:02Z',
         'whatsapp', '{"id":"m2"}', 'Asha', NULL, '555'),
        ('m1', '+1', '+9', '2025-01-15T09:00:00Z', '2025-01-15T09:00:00', 'first', 'first', NULL, '2025-01-15T10:00:01Z',
         NULL, NULL, NULL, NULL, NULL),
        ('m3', '+2', '+8', '2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.5', NULL, NULL, 'image', '2025-01-15T10:00:02Z',
         'whatsapp', NULL, NULL, NULL, NULL);
      INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at) VALUES
        ('m2', 'read', '2025-01-15T10:00:05Z', '2025-01-15T10:00:05', '1', NULL, '2025-01-15T10:00:02Z'),
        ('m1', 'sent', '2025-01-15T09:00:01Z', '2025-01-15T09:00:01', '1', NULL, '2025-01-15T10:00:00.5Z'),
        ('m2', 'delivered', '2025-01-15T10:00:04Z', '2025-01-15T10:00:04', NULL, '[]', '2025-01-15T10:00:02Z');
      INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id) VALUES
        ('2025-01-15T10:00:02Z', 'whatsapp', 'message', 'from: field required', '{"id":"x1"}', 'h1', 'x1'),
        ('2025-01-15T09:59:59Z', 'whatsapp', 'status', 'status: unknown value', '{"id":"x2"}', 'h2', 'x2');`);

    const store = await open();
    await expect(store.checkHealth()).resolves.toBeUndefined();
    const events = await store.readFeed({ after: 0, limit: 100 });
    expect(events.map((e) => [e.position, eventKey(e), e.receivedAt])).toEqual([
      [1, 'dead letter 2', '2025-01-15T09:59:59.000Z'],
      [2, 'status m1 sent', '2025-01-15T10:00:00.500Z'],
      [3, 'message m1', '2025-01-15T10:00:01.000Z'],
      [4, 'message m2', '2025-01-15T10:00:02.000Z'],
      [5, 'message m3', '2025-01-15T10:00:02.000Z'],
      [6, 'status m2 delivered', '2025-01-15T10:00:02.000Z'],
      [7, 'status m2 read', '2025-01-15T10:00:02.000Z'],
      [8, 'dead letter 1', '2025-01-15T10:00:02.000Z'],
    ]);
    // The data of each is what the other reads give for its row.
    const deadLetters = (await store.listDeadLetters({ limit: 10, offset: 0 })).data;
    const m2 = await store.getMessage('m2');
    expect(events[0]).toMatchObject({ type: 'dead_letter.created', deadLetter: deadLetters[1] });
    expect(events[3]).toStrictEqual({
      position: 4,
      receivedAt: '2025-01-15T10:00:02.000Z',
      type: 'message.created',
      message: m2?.message,
    });
    expect(events[5]).toMatchObject({ type: 'status.created', messageId: 'm2', status: m2?.statuses[0] });
    expect(events[6]).toMatchObject({ type: 'status.created', messageId: 'm2', status: m2?.statuses[1] });
    expect(await store.feedHead()).toEqual({ position: 8, receivedAt: '2025-01-15T10:00:02.000Z' });
    expect(await sql('SELECT position FROM feed_head')).toEqual([{ position: '8' }]);

    // New writes follow.
    await store.storeDelivery(deliveryOf({ messages: [incoming('m1'), incoming('m4')], statuses: [statusOf('m3', 'sent')] }));
    const added = await store.readFeed({ after: 8, limit: 100 });
    expect(added.map((e) => [e.position, eventKey(e)])).toEqual([
      [9, 'message m4'],
      [10, 'status m3 sent'],
    ]);
    expect((await store.feedHead()).position).toBe(10);
  });

  it('refuse a database whose schema is newer than the code, and readiness names the version', async () => {
    const store = await open();
    await sql('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [POSTGRES_SCHEMA_VERSION + 1, 'from the future']);
    await expect(store.checkHealth()).rejects.toThrow(/schema version is \d+, expected/);
    await expect(open()).rejects.toThrow(/newer than this release knows/);
  });

  it('make the pg_trgm index, and the planner can serve a ?q= pattern with it', async () => {
    await open();
    const indexes = await sql<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'messages_text_trigrams'");
    expect(indexes[0]?.indexdef).toMatch(/gin \(text_folded gin_trgm_ops\) WITH \(gin_pending_list_limit='?512'?\)/);
    const client = new pg.Client({ connectionString: (await database()).url });
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        'EXPLAIN SELECT count(*) FROM messages WHERE text_folded LIKE $1',
        [containsPattern('hello')],
      );
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('messages_text_trigrams');
    } finally {
      await client.end();
    }
  });

  it('make the indexes of inbox reads, and the planner serves each first page with one', async () => {
    const store = await open();
    await store.insertMany(
      Array.from({ length: 200 }, (_, i) =>
        incoming(`i${i}`, {
          from: `+${i % 20}`,
          to: `+${i % 3}`,
          ts: `2025-01-${10 + (i % 9)}T10:00:00Z`,
          type: i % 2 ? 'text' : 'image',
        }),
      ),
    );
    await sql('ANALYZE');
    const client = new pg.Client({ connectionString: (await database()).url });
    await client.connect();
    const plan = async ({ text, values }: { text: string; values: unknown[] }): Promise<string> => {
      const rows = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
      return rows.rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    try {
      // Not what a tiny table makes cheapest, but what a large one needs: an index for each.
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_sort = off');
      const first = { limit: 50, offset: 0, order: 'desc' } as const;
      const after = { ...first, after: { tsKey: '2025-01-15T10:00:00', messageId: 'i5' } };
      expect(await plan(listMessagesQuery({ to: '+1' }, first))).toContain('messages_by_recipient');
      expect(await plan(listMessagesQuery({ to: '+1' }, after))).toContain('messages_by_recipient');
      expect(await plan(listMessagesQuery({ type: 'text' }, first))).toContain('messages_by_type');
      expect(await plan(listMessagesQuery({ type: 'text' }, { ...after, order: 'asc' }))).toContain('messages_by_type');
      expect(await plan(listMessagesQuery({ untilKey: '2025-01-15T10:00:00' }, first))).toContain('messages_by_instant');
      const position = { lastTsKey: '2025-01-15T10:00:00', from: '+5', to: '+2' };
      expect(await plan(listConversationsQuery({}, { limit: 50 }))).toContain('conversations_by_recency');
      expect(await plan(listConversationsQuery({}, { limit: 50, after: position }))).toContain('conversations_by_recency');
      expect(await plan(listConversationsQuery({ to: '+1' }, { limit: 50, after: position }))).toContain(
        'conversations_by_recipient',
      );
      // The feed from any position, and its head: the primary key of events, in its order.
      for (const query of [
        { after: 0, limit: 100 },
        { after: 150, limit: 100, types: ['status.created' as const] },
      ]) {
        const feed = await plan(readFeedQuery(query));
        expect(feed).toContain('events_pkey');
        expect(feed).not.toContain('Sort');
      }
      expect(await plan({ text: FEED_HEAD, values: [] })).toContain('Index Scan Backward using events_pkey');
    } finally {
      await client.end();
    }
  });

  it('keep commits durable when the database has synchronous_commit=off', async () => {
    const db = await database();
    await sql(`ALTER DATABASE "${db.name}" SET synchronous_commit = off`);
    try {
      const store = await open();
      // A trigger records the setting in force inside the store's own insert transaction.
      await sql(`CREATE TABLE seen (setting text);
        CREATE FUNCTION note_setting() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN INSERT INTO seen VALUES (current_setting('synchronous_commit')); RETURN NEW; END $$;
        CREATE TRIGGER note AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION note_setting();`);
      expect(await store.insertMany([incoming('durable')])).toEqual(['created']);
      expect(await store.storeDelivery(deliveryOf({ messages: [incoming('delivered')] }))).toEqual({
        messages: ['created'],
        statuses: [],
        deadLetters: [],
      });
      expect(await sql('SELECT setting FROM seen')).toEqual([{ setting: 'on' }, { setting: 'on' }]);
      expect(await sql('SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'off' }]);
    } finally {
      await sql(`ALTER DATABASE "${db.name}" RESET synchronous_commit`);
    }
  });

  it('refuse a database that is not UTF8, naming the encoding', async () => {
    const db = await database();
    const name = `${db.name}_ascii`;
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
      const url = new URL(db.url);
      url.pathname = `/${name}`;
      await expect(PostgresStore.open({ url: url.toString(), poolMax: 1 })).rejects.toThrow(/encoding is SQL_ASCII.*UTF8/);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    }
  });
});

/** Every event names a row that is there, and every row has its event: no removal left one without the other. */
async function expectFeedMatchesRows(): Promise<void> {
  const [counts] = await sql<Record<string, string>>(`SELECT
    (SELECT count(*) FROM events AS e WHERE e.type = 'message.created'
       AND NOT EXISTS (SELECT 1 FROM messages AS m WHERE m.message_id = e.message_id)) AS events_without_message,
    (SELECT count(*) FROM events AS e WHERE e.type = 'status.created'
       AND NOT EXISTS (SELECT 1 FROM delivery_statuses AS s WHERE s.message_id = e.message_id AND s.status = e.status))
       AS events_without_status,
    (SELECT count(*) FROM events AS e WHERE e.type = 'dead_letter.created'
       AND NOT EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.id = e.dead_letter)) AS events_without_dead_letter,
    (SELECT count(*) FROM messages AS m
       WHERE NOT EXISTS (SELECT 1 FROM events AS e WHERE e.message_id = m.message_id AND e.status IS NULL)) AS messages_without_event,
    (SELECT count(*) FROM delivery_statuses AS s
       WHERE NOT EXISTS (SELECT 1 FROM events AS e WHERE e.message_id = s.message_id AND e.status = s.status)) AS statuses_without_event,
    (SELECT count(*) FROM dead_letters AS d
       WHERE NOT EXISTS (SELECT 1 FROM events AS e WHERE e.dead_letter = d.id)) AS dead_letters_without_event`);
  expect(counts).toEqual({
    events_without_message: '0',
    events_without_status: '0',
    events_without_dead_letter: '0',
    messages_without_event: '0',
    statuses_without_event: '0',
    dead_letters_without_event: '0',
  });
}

describe('PostgreSQL retention across replicas', () => {
  const open = useStores();

  it('takes the retention lock for each batch: while another transaction holds it, a batch answers null and removes nothing', async () => {
    const store = await open();
    await store.storeDelivery(
      deliveryOf({
        messages: [incoming('a'), incoming('b')],
        statuses: [statusOf('a', 'sent')],
        deadLetters: [deadLetterOf('x')],
      }),
    );
    const cutoff = new Date(Date.now() + 60_000).toISOString();
    const holder = new pg.Client({ connectionString: (await database()).url });
    await holder.connect();
    onTestFinished(() => holder.end());
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
    expect(await store.purge(cutoff, 100)).toBeNull();
    expect(await store.countPurge(cutoff)).toEqual({ messages: 2, statuses: 1, deadLetters: 1 });
    // An erasure takes no such lock.
    expect(await store.eraseMessage('b')).toEqual({ messages: 1, statuses: 0, deadLetters: 0 });
    await holder.query('COMMIT');
    expect(await store.purge(cutoff, 100)).toEqual({ messages: 1, statuses: 1, deadLetters: 1 });
    expect(await store.purge(cutoff, 100)).toEqual({ messages: 0, statuses: 0, deadLetters: 0 });
  });

  it('removes every old row exactly once when several replicas purge at the same time', async () => {
    const stores = await Promise.all([open(), open(), open()]);
    const [first] = stores;
    if (first === undefined) throw new Error('test bug');
    for (let b = 0; b < 6; b++) {
      const ids = Array.from({ length: 50 }, (_, i) => `p${b}-${i}`);
      await first.storeDelivery(
        deliveryOf({
          messages: ids.map((id, i) => incoming(id, { from: `+${i % 7}`, to: `+${i % 3}`, type: 'text' })),
          statuses: ids.slice(0, 10).map((id) => statusOf(id, 'read')),
          deadLetters: [deadLetterOf(`bad${b}`)],
        }),
      );
    }
    const cutoff = new Date(Date.now() + 60_000).toISOString();
    const expected = await first.countPurge(cutoff);
    expect(expected).toEqual({ messages: 300, statuses: 60, deadLetters: 6 });
    const removed = { messages: 0, statuses: 0, deadLetters: 0 };
    for (let round = 0; round < 100; round++) {
      const answers = await Promise.all(stores.map((store) => store.purge(cutoff, 25)));
      for (const answer of answers) {
        if (answer === null) continue;
        removed.messages += answer.messages;
        removed.statuses += answer.statuses;
        removed.deadLetters += answer.deadLetters;
      }
      if (answers.every((a) => a !== null && a.messages + a.statuses + a.deadLetters === 0)) break;
    }
    expect(removed).toEqual(expected);
    expect(await first.stats(10)).toMatchObject({ totalMessages: 0, sendersCount: 0 });
    await expectAggregatesMatchRows();
    await expectFeedMatchesRows();
  });

  it('keeps every aggregate and the feed equal to the rows when erasures, retention batches and writes race through several stores', async () => {
    const random = seededRandom(41);
    const stores = await Promise.all([open(), open(), open()]);
    const [a, b, c] = stores;
    if (a === undefined || b === undefined || c === undefined) throw new Error('test bug');
    const parties = ['+1', '+2', '+3', '+4', '+5'];
    const message = (id: string) =>
      incoming(id, {
        from: pick(random, parties),
        to: pick(random, parties),
        ts: `2025-01-15T1${Math.floor(random() * 10)}:00:00Z`,
        text: `text ${id}`,
        ...(random() < 0.5 ? { type: pick(random, ['text', 'image']) } : {}),
      });
    const seeded = Array.from({ length: 200 }, (_, i) => message(`s${i}`));
    for (let i = 0; i < seeded.length; i += 50) await a.insertMany(seeded.slice(i, i + 50));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cutoff = new Date().toISOString();

    const calls: Promise<unknown>[] = [];
    for (let d = 0; d < 12; d++) {
      const store = d % 2 === 0 ? a : b;
      const ids = Array.from({ length: 10 }, (_, i) => `n${d}-${i}`);
      calls.push(
        store.storeDelivery(
          deliveryOf({
            messages: ids.map(message),
            statuses: Array.from({ length: 5 }, () =>
              statusOf(pick(random, seeded).messageId, pick(random, ['sent', 'read'] as const)),
            ),
          }),
        ),
      );
      calls.push((d % 2 === 0 ? b : c).eraseMessage(pick(random, seeded).messageId));
      if (d % 4 === 0) calls.push(c.eraseConversation({ from: pick(random, parties), to: pick(random, parties) }));
      calls.push(
        (async () => {
          for (let i = 0; i < 3; i++) await (d % 2 === 0 ? c : a).purge(cutoff, 15);
        })(),
      );
    }
    await Promise.all(calls);
    for (;;) {
      const answer = await c.purge(cutoff, 100);
      if (answer !== null && answer.messages + answer.statuses + answer.deadLetters === 0) break;
    }
    expect(await c.countPurge(cutoff)).toEqual({ messages: 0, statuses: 0, deadLetters: 0 });
    expect((await c.stats(10)).totalMessages).toBeGreaterThan(0);
    await expectAggregatesMatchRows();
    await expectFeedMatchesRows();
  });
});

describe('PostgreSQL after removals', () => {
  const open = useStores();
  const vacuums = async (table: string) =>
    Number(
      (await sql<{ n: string }>('SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE relname = $1', [table]))[0]?.n ?? 0,
    );

  it('vacuums the tables an erasure touched soon after, on a connection of its own, leaving no dead rows', async () => {
    const store = await open({ vacuumDelayMs: 100 });
    await store.insertMany(Array.from({ length: 50 }, (_, i) => incoming(`m${i}`, { from: `+${i % 5}`, text: `secret ${i}` })));
    const tables = ['messages', 'conversations', 'events', 'sender_counts'];
    const before = await Promise.all(tables.map(vacuums));
    expect(await store.eraseMessage('m7')).toMatchObject({ messages: 1 });
    expect((await store.eraseConversation({ from: '+1' })).messages).toBe(10);
    const deadline = Date.now() + 15_000;
    while ((await vacuums('messages')) === before[0] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const after = await Promise.all(tables.map(vacuums));
    after.forEach((n, i) => {
      expect(n, tables[i]).toBeGreaterThan(before[i] ?? 0);
    });
    const [messages] = await sql<{ n_dead_tup: string }>("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'messages'");
    expect(messages?.n_dead_tup).toBe('0');
  });

  it('runs a VACUUM that is due when the store closes, and none after a removal that removed nothing', async () => {
    const store = await open({ vacuumDelayMs: 60_000 });
    await store.insertMany([incoming('m1'), incoming('m2')]);
    const before = await vacuums('messages');
    expect(await store.eraseMessage('nobody')).toEqual({ messages: 0, statuses: 0, deadLetters: 0 });
    expect(await store.purge(new Date(0).toISOString(), 10)).toEqual({ messages: 0, statuses: 0, deadLetters: 0 });
    await store.eraseMessage('m1');
    expect(await vacuums('messages')).toBe(before);
    await store.close();
    expect(await vacuums('messages')).toBe(before + 1);

    const idle = await open({ vacuumDelayMs: 50 });
    await idle.eraseMessage('nobody');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await idle.close();
    expect(await vacuums('messages')).toBe(before + 1);
  });
});

describe('PostgreSQL migration 5 and the plans of removals', () => {
  const open = useStores();

  it('bring a database at schema version 4 to the current version: its rows found by age, erased and purged exactly', async () => {
    // Rows as release 4 wrote them, with the aggregates and events it kept.
    await sql(`${schemaUpTo(4)}
      INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, received_at,
                            source, raw, contact_name, reply_to, phone_number_id) VALUES
        ('m1', '+1', '+9', '2025-01-15T09:00:00Z', '2025-01-15T09:00:00', 'first', 'first', NULL, '2025-01-15T10:00:01Z',
         NULL, NULL, NULL, NULL, NULL),
        ('m2', '+1', '+9', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'second', 'second', 'text', '2025-01-15T10:00:02Z',
         'whatsapp', '{"id":"m2"}', NULL, NULL, '555'),
        ('m3', '+2', '+8', '2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.5', 'third', 'third', 'image', '2025-01-15T10:00:03Z',
         'whatsapp', NULL, NULL, NULL, NULL);
      INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at) VALUES
        ('out', 'sent', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', '1', NULL, '2025-01-15T10:00:00Z'),
        ('m2', 'read', '2025-01-15T10:00:04Z', '2025-01-15T10:00:04', '1', NULL, '2025-01-15T10:00:04Z');
      INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id) VALUES
        ('2025-01-15T10:00:02Z', 'whatsapp', 'message', 'from: field required', '{"id":"x1"}', 'h1', 'x1');
      INSERT INTO sender_counts (sender, count) SELECT from_number, count(*) FROM messages GROUP BY 1;
      INSERT INTO recipient_counts (recipient, count) SELECT to_number, count(*) FROM messages GROUP BY 1;
      INSERT INTO type_counts (type, count) SELECT type, count(*) FROM messages WHERE type IS NOT NULL GROUP BY 1;
      INSERT INTO hour_counts (hour, count) SELECT left(ts_key, 13), count(*) FROM messages GROUP BY 1;
      INSERT INTO conversations (from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                                 last_ts_key, last_message_id, last_ts, last_text, last_type) VALUES
        ('+1', '+9', 2, '2025-01-15T09:00:00', 'm1', '2025-01-15T09:00:00Z', '2025-01-15T10:00:00', 'm2', '2025-01-15T10:00:00Z', 'second', 'text'),
        ('+2', '+8', 1, '2025-01-15T10:00:00.5', 'm3', '2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.5', 'm3', '2025-01-15T10:00:00.5Z', 'third', 'image');
      UPDATE totals SET messages = 3, senders = 2, conversations = 2;
      INSERT INTO events (position, type, message_id, status, dead_letter, received_at) VALUES
        (1, 'status.created', 'out', 'sent', NULL, '2025-01-15T10:00:00Z'),
        (2, 'message.created', 'm1', NULL, NULL, '2025-01-15T10:00:01Z'),
        (3, 'message.created', 'm2', NULL, NULL, '2025-01-15T10:00:02Z'),
        (4, 'dead_letter.created', NULL, NULL, 1, '2025-01-15T10:00:02Z'),
        (5, 'message.created', 'm3', NULL, NULL, '2025-01-15T10:00:03Z'),
        (6, 'status.created', 'm2', 'read', NULL, '2025-01-15T10:00:04Z');
      UPDATE feed_head SET position = 6;`);
    await expectAggregatesMatchRows();

    const store = await open();
    await expect(store.checkHealth()).resolves.toBeUndefined();
    expect(
      (await sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version),
    ).toEqual([1, 2, 3, 4, 5]);
    const indexes = await sql<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_by_arrival' ORDER BY indexname",
    );
    expect(indexes.map((r) => r.indexname)).toEqual([
      'dead_letters_by_arrival',
      'delivery_statuses_by_arrival',
      'messages_by_arrival',
    ]);
    expect(await store.oldestReceivedAt()).toBe('2025-01-15T10:00:00.000Z');
    const cutoff = '2025-01-15T10:00:02.5Z';
    expect(await store.countPurge(cutoff)).toEqual({ messages: 2, statuses: 2, deadLetters: 1 });
    expect(await store.eraseMessage('m3')).toEqual({ messages: 1, statuses: 0, deadLetters: 0 });
    expect(await store.purge(cutoff, 100)).toEqual({ messages: 2, statuses: 2, deadLetters: 1 });
    expect(await store.readFeed({ after: 0, limit: 10 })).toEqual([]);
    expect(await store.stats(10)).toMatchObject({ totalMessages: 0, sendersCount: 0 });
    await expectAggregatesMatchRows();
    await store.insertMany([incoming('new', { from: '+1', to: '+9' })]);
    expect((await store.readFeed({ after: 0, limit: 10 })).map((e) => e.position)).toEqual([7]);
    expect(await store.listConversations({}, { limit: 10 })).toMatchObject({ total: 1 });
  });

  it('find the oldest rows by the arrival indexes, and each removal and export chunk by an index', async () => {
    const store = await open();
    await store.storeDelivery(
      deliveryOf({
        messages: Array.from({ length: 200 }, (_, i) =>
          incoming(`m${i}`, {
            from: `+${i % 20}`,
            to: `+${i % 3}`,
            ts: `2025-01-${10 + (i % 9)}T10:${String(i % 60).padStart(2, '0')}:00Z`,
            type: i % 2 ? 'text' : 'image',
          }),
        ),
        statuses: Array.from({ length: 50 }, (_, i) => statusOf(`m${i}`, 'sent')),
        deadLetters: [deadLetterOf('x')],
      }),
    );
    await sql('ANALYZE');
    const client = new pg.Client({ connectionString: (await database()).url });
    await client.connect();
    onTestFinished(() => client.end());
    // Not what a tiny table makes cheapest, but what a large one needs: an index for each.
    await client.query('SET enable_seqscan = off');
    await client.query('SET enable_sort = off');
    const plan = async (text: string, values: unknown[]): Promise<string> =>
      (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const arrival = ['messages_by_arrival', 'delivery_statuses_by_arrival', 'dead_letters_by_arrival'];
    const candidates = await plan(PURGE_CANDIDATES, [new Date().toISOString(), 10]);
    for (const index of arrival) expect(candidates).toContain(index);
    const oldest = await plan(OLDEST_RECEIVED_AT, []);
    for (const index of arrival) expect(oldest).toContain(index);
    const deep = { after: { tsKey: '2025-01-15T10:00:00', messageId: 'm150' }, limit: 100 };
    expect(await plan(exportMessagesQuery({}, deep).text, exportMessagesQuery({}, deep).values)).toContain('messages_by_instant');
    for (const [filter, index] of [
      [{ to: '+1' }, 'messages_by_recipient'],
      [{ from: '+1' }, 'messages_by_sender'],
      [{ type: 'text' }, 'messages_by_type'],
    ] as const) {
      const { text, values } = exportMessagesQuery(filter, deep);
      expect(await plan(text, values)).toContain(index);
    }
    // A removal locks a sender's messages in key order (so a sort), then deletes them by key; a
    // few statuses are looked up by key rather than joined with the whole table.
    await client.query('SET enable_sort = on');
    const sender = await plan(DELETE_SENDER_MESSAGES, ['+1']);
    expect(sender).toContain('messages_by_sender');
    expect(sender).toMatch(/Index Cond: \(message_id = ANY /);
    await client.query('SET enable_hashjoin = off');
    await client.query('SET enable_mergejoin = off');
    expect(await plan(DELETE_STATUSES_OF, [['m1']])).toContain('delivery_statuses_pkey');
    const events = await plan(DELETE_EVENTS, [['m1'], ['m1'], ['sent'], [1]]);
    expect(events).toContain('events_by_message');
    expect(events).toContain('events_by_dead_letter');
  });
});

describe('PostgreSQL with several stores on one database (replicas)', () => {
  const open = useStores();

  it('stores each message once and counts one created in total when the same ids race through several stores', async () => {
    const stores = await Promise.all([open(), open(), open()]);
    const ids = Array.from({ length: 120 }, (_, i) => `r${i}`);
    const senders = ['+1', '+2', '+3', '+4'];
    const message = (id: string): IncomingMessage =>
      incoming(id, { from: senders[Number(id.slice(1)) % senders.length], ts: `2025-01-15T1${Number(id.slice(1)) % 10}:00:00Z` });
    // Each store sends every id, in batches and orders of its own (reversed, rotated), all at
    // once: rows are locked in one global order, so no batch deadlocks with another.
    const batches = stores.flatMap((store, s) => {
      const order = s === 1 ? [...ids].reverse() : [...ids.slice(s * 40), ...ids.slice(0, s * 40)];
      return Array.from({ length: 6 }, (_, b) => ({ store, batch: order.slice(b * 20, b * 20 + 20).map(message) }));
    });
    const outcomes = (await Promise.all(batches.map(({ store, batch }) => store.insertMany(batch)))).flat();
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(ids.length);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(ids.length * (stores.length - 1));
    const [first] = stores;
    if (first === undefined) throw new Error('test bug');
    expect((await first.listMessages({}, { limit: 100, offset: 0 })).total).toBe(ids.length);
    const stats = await first.stats(10);
    expect(stats.totalMessages).toBe(ids.length);
    expect(stats.sendersCount).toBe(senders.length);
    expect(stats.messagesPerSender).toEqual(senders.map((from) => ({ from, count: ids.length / senders.length })));
    for (const from of senders) expect((await first.listMessages({ from }, { limit: 1, offset: 0 })).total).toBe(30);
    expect((await first.listMessages({ sinceKey: '2025-01-15T15:00:00' }, { limit: 1, offset: 0 })).total).toBe(60);
    await expectAggregatesMatchRows();
  });
});

describe('PostgreSQL deliveries through several stores on one database (replicas)', () => {
  const open = useStores();

  it('stores each message and status once, without deadlocks, when the same deliveries race through several stores', async () => {
    const stores = await Promise.all([open(), open(), open()]);
    const names: DeliveryStatusName[] = ['sent', 'delivered', 'read', 'failed'];
    const ids = Array.from({ length: 40 }, (_, i) => `w${i}`);
    const pairs = ids.flatMap((id) => names.map((name) => statusOf(id, name)));
    const message = (id: string): IncomingMessage => incoming(id, { from: `+${Number(id.slice(1)) % 5}`, type: 'text' });
    // Each store sends everything, in deliveries and orders of its own, all at once.
    const order = <T>(items: readonly T[], s: number): T[] =>
      s === 1 ? [...items].reverse() : [...items.slice(s * 13), ...items.slice(0, s * 13)];
    const calls = stores.flatMap((store, s) => {
      const myIds = order(ids, s);
      const myPairs: DeliveryStatus[] = order(pairs, s);
      return Array.from({ length: 8 }, (_, d) =>
        store.storeDelivery(
          deliveryOf({
            messages: myIds.slice(d * 5, d * 5 + 5).map(message),
            statuses: myPairs.slice(d * 20, d * 20 + 20),
            deadLetters: [deadLetterOf(`s${s}d${d}`)],
          }),
        ),
      );
    });
    const outcomes = await Promise.all(calls);
    const messages = outcomes.flatMap((o) => o.messages);
    const statuses = outcomes.flatMap((o) => o.statuses);
    expect(messages.filter((o) => o === 'created')).toHaveLength(ids.length);
    expect(statuses.filter((o) => o === 'created')).toHaveLength(pairs.length);
    expect(statuses).toHaveLength(pairs.length * stores.length);
    const [first] = stores;
    if (first === undefined) throw new Error('test bug');
    expect(await first.stats(10)).toMatchObject({ totalMessages: ids.length, sendersCount: 5 });
    expect((await first.getMessage('w7'))?.statuses.map((s) => s.status)).toEqual(names);
    expect((await first.listDeadLetters({ limit: 100, offset: 0 })).total).toBe(calls.length);
    // Every delivery upserted the same five conversations, each in its own order of rows.
    expect((await first.listConversations({}, { limit: 10 })).total).toBe(5);
    await expectAggregatesMatchRows();
  });
});

describe('PostgreSQL inbox reads against plain queries, after writes raced through several stores', () => {
  const open = useStores();

  // Few senders, recipients and whole seconds (so ties happen), instants on both sides of hour
  // and day boundaries, fractions that spell one instant differently.
  const NUMBERS = ['+1', '+14155550100', '+919876543210', '+2'];
  const TYPES = [undefined, undefined, 'text', 'image', 'location'];
  const SECONDS = [
    '2024-12-31T23:00:00',
    '2025-01-15T09:59:59',
    '2025-01-15T10:00:00',
    '2025-01-15T10:59:59',
    '2025-01-15T11:00:00',
    '2025-01-15T23:59:59',
    '2025-01-16T00:00:00',
    '2025-01-16T00:30:00',
  ];
  const FRACTIONS = ['', '', '.5', '.500', '.05', '.999'];
  const NAMES = [null, null, 'Asha', 'Ravi', 'Zoë'];

  function pick<T>(random: () => number, items: readonly T[]): T {
    const item = items[Math.floor(random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  function randomKey(random: () => number): string {
    const key = instantKey(`${pick(random, SECONDS)}${pick(random, FRACTIONS)}Z`);
    if (key === null) throw new Error('test bug');
    return random() < 0.3 ? key.slice(0, 13) + key.slice(13).replace(/[1-9]/g, '0') : key;
  }

  function randomMessage(random: () => number, n: number): IncomingMessage {
    const type = TYPES[Math.floor(random() * TYPES.length)];
    const m = incoming(`m${Math.floor(random() * 40)}-${n}`, {
      from: pick(random, NUMBERS),
      to: pick(random, NUMBERS),
      ts: `${pick(random, SECONDS)}${pick(random, FRACTIONS)}Z`,
      text: random() < 0.2 ? null : `t${n}`,
      ...(type === undefined ? {} : { type }),
    });
    const roll = random();
    if (roll < 0.2) return m;
    if (type !== undefined) {
      const raw = JSON.stringify({ id: m.messageId, type, [type]: { n }, context: { id: 'earlier' } });
      const origin = {
        source: 'whatsapp' as const,
        raw,
        contactName: pick(random, NAMES),
        replyTo: 'earlier',
        phoneNumberId: '555',
      };
      return { ...m, origin };
    }
    // The core form's body as the service writes it (kept as null and rebuilt), or with more in it.
    const body = { message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text };
    const raw = JSON.stringify(roll < 0.6 ? body : { ...body, extra: [n] });
    return {
      ...m,
      origin: { source: roll < 0.8 ? 'spec' : 'standard', raw, contactName: null, replyTo: null, phoneNumberId: null },
    };
  }

  it('gives every listing, total, conversation and time series that plain queries over the messages give', async () => {
    const random = seededRandom(12);
    const stores = await Promise.all([open(), open(), open()]);
    const messages = Array.from({ length: 400 }, (_, n) => randomMessage(random, n));
    // Every message twice, in batches of random sizes spread over the stores, all at once.
    const sends = [...messages, ...messages].sort(() => random() - 0.5);
    const batches: IncomingMessage[][] = [];
    for (let i = 0; i < sends.length; ) {
      const size = 1 + Math.floor(random() * 30);
      batches.push(sends.slice(i, i + size));
      i += size;
    }
    const outcomes = await Promise.all(batches.map((batch, b) => stores[b % stores.length]?.insertMany(batch) ?? []));
    expect(outcomes.flat().filter((o) => o === 'created')).toHaveLength(messages.length);
    await expectAggregatesMatchRows();
    const [store] = stores;
    if (store === undefined) throw new Error('test bug');
    const byId = new Map(messages.map((m) => [m.messageId, m]));
    const reference = new pg.Client({ connectionString: (await database()).url });
    await reference.connect();
    onTestFinished(() => reference.end());

    for (let round = 0; round < 80; round++) {
      const filter: MessageFilter = {
        ...(random() < 0.3 ? { from: pick(random, NUMBERS) } : {}),
        ...(random() < 0.3 ? { to: pick(random, NUMBERS) } : {}),
        ...(random() < 0.3 ? { type: pick(random, ['text', 'image', 'none']) } : {}),
        ...(random() < 0.4 ? { sinceKey: randomKey(random) } : {}),
        ...(random() < 0.4 ? { untilKey: randomKey(random) } : {}),
      };
      const order = random() < 0.5 ? 'desc' : 'asc';
      // Plain comparisons: an absent filter is a null parameter.
      const expected = (
        await reference.query<{ message_id: string }>(
          `SELECT message_id FROM messages
           WHERE ($1::text IS NULL OR from_number = $1) AND ($2::text IS NULL OR to_number = $2) AND ($3::text IS NULL OR type = $3)
             AND ($4::text IS NULL OR ts_key >= $4) AND ($5::text IS NULL OR ts_key < $5)
           ORDER BY ts_key ${order}, message_id ${order}`,
          [filter.from, filter.to, filter.type, filter.sinceKey, filter.untilKey].map((v) => v ?? null),
        )
      ).rows.map((r) => r.message_id);
      const context = JSON.stringify({ round, filter, order });

      // Walked by keyset pages, then one page by offset.
      const limit = 1 + Math.floor(random() * 40);
      const walked: string[] = [];
      let after: Position | undefined;
      for (;;) {
        const page = await store.listMessages(filter, { limit, offset: 0, order, ...(after ? { after } : {}) });
        expect(page.total, context).toBe(expected.length);
        walked.push(...page.data.map((m) => m.messageId));
        expect(page.hasMore, context).toBe(walked.length < expected.length);
        const last = page.data[page.data.length - 1];
        if (!page.hasMore || last === undefined) break;
        after = { tsKey: last.tsKey, messageId: last.messageId };
      }
      expect(walked, context).toEqual(expected);
      const offset = Math.floor(random() * (expected.length + 2));
      const details = random() < 0.5;
      const page = await store.listMessages(filter, { limit, offset, order, details });
      expect(
        page.data.map((m) => m.messageId),
        context,
      ).toEqual(expected.slice(offset, offset + limit));
      for (const m of page.data) {
        const sent = byId.get(m.messageId);
        if (sent === undefined) throw new Error('test bug');
        const { origin, ...fields } = sent;
        expect(m, context).toMatchObject(fields);
        if (!details) {
          expect(m.details).toBeUndefined();
          continue;
        }
        expect(m.details, context).toEqual({
          source: origin?.source ?? (sent.type === undefined ? 'spec' : 'whatsapp'),
          receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          raw: origin?.raw ?? null,
          contactName: origin?.contactName ?? null,
          replyTo: origin?.replyTo ?? null,
          phoneNumberId: origin?.phoneNumberId ?? null,
        });
        expect((await store.getMessage(m.messageId))?.message, context).toEqual(m);
      }
    }

    // Conversations: each (from, to) pair from the messages themselves, most recent first.
    const conversations = (
      await reference.query<{ row: Conversation }>(`
      SELECT json_build_object('from', f, 'to', t, 'messages', n, 'contactName', contact.name,
          'firstTs', first.ts, 'lastTs', last.ts, 'lastTsKey', last.ts_key,
          'lastMessage', json_build_object('messageId', last.message_id, 'ts', last.ts, 'text', last.text, 'type', last.type)) AS row
      FROM (SELECT from_number COLLATE "C" AS f, to_number COLLATE "C" AS t, count(*) AS n FROM messages GROUP BY 1, 2) AS g
      CROSS JOIN LATERAL (SELECT ts FROM messages WHERE from_number = f AND to_number = t ORDER BY ts_key, message_id LIMIT 1) AS first
      CROSS JOIN LATERAL (SELECT ts_key, message_id, ts, text, type FROM messages WHERE from_number = f AND to_number = t
                          ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last
      LEFT JOIN LATERAL (SELECT contact_name AS name FROM messages WHERE from_number = f AND to_number = t AND contact_name IS NOT NULL
                         ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS contact ON true
      ORDER BY last.ts_key DESC, f, t`)
    ).rows.map((r) => r.row);
    const filters: ConversationFilter[] = [
      {},
      ...NUMBERS.flatMap((n) => [{ from: n }, { to: n }, { from: n, to: pick(random, NUMBERS) }]),
    ];
    for (const filter of filters) {
      const expected = conversations.filter(
        (c) => (filter.from === undefined || c.from === filter.from) && (filter.to === undefined || c.to === filter.to),
      );
      const limit = 1 + Math.floor(random() * 5);
      const walked: Conversation[] = [];
      let after: ConversationPosition | undefined;
      for (;;) {
        const page = await store.listConversations(filter, { limit, ...(after ? { after } : {}) });
        expect(page.total, JSON.stringify(filter)).toBe(expected.length);
        walked.push(...page.data);
        expect(page.hasMore).toBe(walked.length < expected.length);
        const last = page.data[page.data.length - 1];
        if (!page.hasMore || last === undefined) break;
        after = { lastTsKey: last.lastTsKey, from: last.from, to: last.to };
      }
      expect(walked, JSON.stringify(filter)).toEqual(expected);
    }

    // Time series: messages per hour or day of their instant, for random windows.
    for (let round = 0; round < 60; round++) {
      const bucket = random() < 0.5 ? 'hour' : 'day';
      const sinceKey = random() < 0.2 ? '2024-01-01T00:00:00' : randomKey(random);
      const untilKey = random() < 0.2 ? '2026-01-01T00:00:00' : randomKey(random);
      const expected = await reference.query<{ bucket: string; count: number }>(
        `SELECT bucket, count(*)::integer AS count
         FROM (SELECT left(ts_key, $3) COLLATE "C" AS bucket FROM messages WHERE ts_key >= $1 AND ts_key < $2) AS b
         GROUP BY bucket ORDER BY bucket`,
        [sinceKey, untilKey, bucket === 'hour' ? 13 : 10],
      );
      expect(await store.timeseries({ bucket, sinceKey, untilKey }), JSON.stringify({ bucket, sinceKey, untilKey })).toEqual(
        expected.rows,
      );
    }
  });

  it('matches nothing, rather than failing, for a filter or position that holds U+0000', async () => {
    const store = await open();
    await store.insertMany([
      incoming('m', { to: '+1', type: 'text' }),
      incoming('m\u0001', { to: '+1', type: 'text' }),
      incoming('n', { to: '+1', type: 'text' }),
    ]);
    const all = { limit: 10, offset: 0 };
    for (const filter of [{ to: '+1\0' }, { type: 'text\0' }, { from: '\0' }, { q: 'a\0' }]) {
      expect(await store.listMessages(filter, all)).toEqual({ data: [], total: 0, hasMore: false });
    }
    expect(await store.listConversations({ to: '+1\0' }, { limit: 10 })).toEqual({ data: [], total: 0, hasMore: false });
    // Past 'm\0x' ascending: 'm\u0001' and 'n'; descending: 'm' only.
    const after = { tsKey: '2025-01-15T10:00:00', messageId: 'm\0x' };
    const ids = async (order: 'asc' | 'desc') =>
      (await store.listMessages({ to: '+1' }, { ...all, order, after })).data.map((m) => m.messageId);
    expect(await ids('asc')).toEqual(['m\u0001', 'n']);
    expect(await ids('desc')).toEqual(['m']);
    const [only] = (await store.listConversations({}, { limit: 10 })).data;
    if (only === undefined) throw new Error('test bug');
    const past = async (position: ConversationPosition) =>
      (await store.listConversations({}, { limit: 10, after: position })).data;
    expect(await past({ lastTsKey: only.lastTsKey, from: `${only.from.slice(0, 2)}\0`, to: '' })).toEqual([only]);
    expect(await past({ lastTsKey: only.lastTsKey, from: only.from, to: `${only.to}\0` })).toEqual([]);
    // Newest first: a key below 'K\0' is past it, K itself included.
    expect(await past({ lastTsKey: `${only.lastTsKey}\0`, from: '~', to: '' })).toEqual([only]);
  });
});

describe('PostgreSQL outages', () => {
  const open = useStores();
  let blackhole: Server | undefined;
  const blackholeSockets = new Set<Socket>();

  afterEach(async () => {
    for (const socket of blackholeSockets) socket.destroy();
    const server = blackhole;
    blackhole = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('rejects opening, as unavailable, when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (typeof address !== 'object' || address === null) throw new Error('no port');
    await expect(PostgresStore.open({ url: await urlAt(address.port), poolMax: 1 })).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('rejects opening within the connect timeout when the server accepts but never answers', async () => {
    const server = createServer((socket) => {
      blackholeSockets.add(socket);
      socket.on('close', () => blackholeSockets.delete(socket));
    });
    blackhole = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no port');
    const opening = PostgresStore.open({ url: await urlAt(address.port), poolMax: 1, timeouts: { connectMs: 300 } });
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('fails writes and readiness, as unavailable, while the server hangs, commits nothing, and recovers by itself', async () => {
    const db = await database();
    const proxy = await startTcpProxy(Number(new URL(db.url).port));
    try {
      const store = await open({
        url: await urlAt(proxy.port),
        timeouts: { connectMs: 500, queryMs: 700, healthMs: 300, statementMs: 600 },
      });
      expect(await store.insertMany([incoming('before')])).toEqual(['created']);

      proxy.freeze();
      await expect(store.insertMany([incoming('during')])).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(store.checkHealth()).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(store.listMessages({}, { limit: 10, offset: 0 })).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(store.stats(10)).rejects.toBeInstanceOf(StoreUnavailable);
      proxy.thaw();

      // The connections that timed out were dropped (their transactions rolled back); new ones work.
      await expect(store.checkHealth()).resolves.toBeUndefined();
      const ids = (await store.listMessages({}, { limit: 10, offset: 0 })).data.map((m) => m.messageId);
      expect(ids).toEqual(['before']);
      expect(await store.insertMany([incoming('during'), incoming('after')])).toEqual(['created', 'created']);
    } finally {
      await proxy.close();
    }
  });

  it('cancels a write stuck behind a lock after the statement timeout, committing nothing', async () => {
    const db = await database();
    const store = await open({ timeouts: { statementMs: 300 } });
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE totals IN ACCESS EXCLUSIVE MODE');
      const error = await store.insertMany([incoming('stuck')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailable);
      await blocker.query('ROLLBACK');
      expect((await store.listMessages({}, { limit: 10, offset: 0 })).total).toBe(0);
      expect(await store.insertMany([incoming('stuck')])).toEqual(['created']);
    } finally {
      await blocker.end();
    }
  });

  it('moves past connections the server ended, without crashing or failing a call, and logs without the password', async () => {
    const warnings: string[] = [];
    const logger = {
      warn: (fields: unknown, message?: string) => warnings.push(`${message ?? ''} ${JSON.stringify(fields)}`),
      info: () => {},
    };
    const store = await open({ logger: logger as unknown as PostgresStoreOptions['logger'] });
    await Promise.all([store.insertMany([incoming('a')]), store.listMessages({}, { limit: 1, offset: 0 }), store.stats(1)]);
    // What a restart or failover does to every open connection.
    await sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'webhook-inbox'",
    );
    // An idle connection that noticed is reported (without the password in DATABASE_URL) ...
    const deadline = Date.now() + 10_000;
    while (warnings.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(warnings.length).toBeGreaterThan(0);
    const password = new URL((await database()).url).password;
    for (const warning of warnings) expect(warning).not.toContain(password);
    // ... and calls that meet the ones not yet noticed move on to new connections, none failing.
    const [, outcomes, page] = await Promise.all([
      store.checkHealth(),
      store.insertMany([incoming('a'), incoming('b')]),
      store.listMessages({}, { limit: 10, offset: 0 }),
      store.stats(1),
    ]);
    expect(outcomes).toEqual(['duplicate', 'created']);
    expect(page.total).toBeGreaterThanOrEqual(1);
  });

  it('rejects, with a reason, every call once closed', async () => {
    const store = await open();
    await store.close();
    await expect(store.insertMany([incoming('x')])).rejects.toThrow(/closed/);
    await expect(store.storeDelivery(deliveryOf({ messages: [incoming('x')] }))).rejects.toThrow(/closed/);
    await expect(store.listMessages({}, { limit: 1, offset: 0 })).rejects.toThrow(/closed/);
    await expect(store.getMessage('x')).rejects.toThrow(/closed/);
    await expect(store.listDeadLetters({ limit: 1, offset: 0 })).rejects.toThrow(/closed/);
    await expect(store.checkHealth()).rejects.toThrow(/closed/);
    await expect(store.readFeed({ after: 0, limit: 1 })).rejects.toThrow(/closed/);
    await expect(store.feedHead()).rejects.toThrow(/closed/);
    expect(() => store.watchFeed(() => {})).toThrow(/closed/);
  });
});

describe('PostgreSQL read time limit (readTimeoutMs)', () => {
  const open = useStores();

  it('cancels a read that passes it as QueryTimeout, while a write keeps its own, longer limit', async () => {
    const db = await database();
    const store = await open({ readTimeoutMs: 200 });
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      // Both the total of a page and every write's aggregates wait for this lock.
      await blocker.query('LOCK TABLE totals IN ACCESS EXCLUSIVE MODE');
      let written = false;
      const writing = store.insertMany([incoming('waits')]).finally(() => {
        written = true;
      });
      const started = Date.now();
      await expect(store.listMessages({}, { limit: 10, offset: 0 })).rejects.toBeInstanceOf(QueryTimeout);
      expect(Date.now() - started).toBeLessThan(5_000);
      // The write waits on, well past the read limit, and commits once the lock goes.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(written).toBe(false);
      await blocker.query('ROLLBACK');
      expect(await writing).toEqual(['created']);
      expect((await store.listMessages({}, { limit: 10, offset: 0 })).total).toBe(1);
    } finally {
      await blocker.end();
    }
  });
});

/** Resolves once `check` holds, polling; rejects after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 5_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The feed listeners' connections open on the test database. */
async function listenerConnections(): Promise<number[]> {
  const rows = await sql<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [LISTENER_APPLICATION_NAME],
  );
  return rows.map((r) => r.pid);
}

describe('PostgreSQL feed writes', () => {
  const open = useStores();

  it('take no position, and so never wait for feed_head, when a write creates nothing', async () => {
    const store = await open();
    await store.storeDelivery(
      deliveryOf({ messages: [incoming('a')], statuses: [statusOf('a', 'sent')], deadLetters: [deadLetterOf('x')] }),
    );
    const blocker = new pg.Client({ connectionString: (await database()).url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT position FROM feed_head FOR UPDATE');
      // All duplicates: commits at once, with the lock held elsewhere.
      expect(
        await store.storeDelivery(
          deliveryOf({ messages: [incoming('a')], statuses: [statusOf('a', 'sent')], deadLetters: [deadLetterOf('x')] }),
        ),
      ).toEqual({ messages: ['duplicate'], statuses: ['duplicate'], deadLetters: ['duplicate'] });
      // One that creates a row waits for the lock, and commits once it goes.
      let done = false;
      const writing = store.insertMany([incoming('b')]).finally(() => {
        done = true;
      });
      await sleep(300);
      expect(done).toBe(false);
      await blocker.query('ROLLBACK');
      expect(await writing).toEqual(['created']);
    } finally {
      await blocker.end();
    }
    expect((await store.readFeed({ after: 0, limit: 10 })).map(eventKey)).toEqual([
      'message a',
      'status a sent',
      `dead letter ${(await store.listDeadLetters({ limit: 1, offset: 0 })).data[0]?.id}`,
      'message b',
    ]);
    expect(await sql('SELECT position FROM feed_head')).toEqual([{ position: '4' }]);
  });

  it('notify the newest position at commit, and nothing for a write that failed', async () => {
    const store = await open();
    const listener = new pg.Client({ connectionString: (await database()).url });
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(`${n.channel} ${n.payload ?? ''}`));
    await listener.connect();
    try {
      await listener.query('LISTEN webhook_inbox_feed');
      await store.storeDelivery(deliveryOf({ messages: [incoming('a'), incoming('b')], statuses: [statusOf('a', 'read')] }));
      await until(() => payloads.length === 1);
      expect(payloads).toEqual(['webhook_inbox_feed 3']);
      await refuse('messages', 'refused');
      await expect(store.insertMany([incoming('c'), incoming('refused')])).rejects.toThrow();
      await store.insertMany([incoming('a')]);
      await store.insertMany([incoming('d')]);
      await until(() => payloads.length === 2);
      expect(payloads).toEqual(['webhook_inbox_feed 3', 'webhook_inbox_feed 4']);
    } finally {
      await listener.end();
    }
  });

  it('hand out positions in commit order across replicas: a reader following the feed meets every event once, in order', async () => {
    const stores = await Promise.all([open(), open(), open()]);
    const [reader] = stores;
    if (reader === undefined) throw new Error('test bug');
    const random = seededRandom(2024);
    const names: DeliveryStatusName[] = ['sent', 'delivered', 'read', 'failed'];
    const messageIds = Array.from({ length: 150 }, (_, i) => `c${i}`);
    const some = <T>(items: readonly T[], most: number): T[] =>
      Array.from({ length: Math.floor(random() * (most + 1)) }, () => pick(random, items));
    // Many small deliveries through every replica at once, four at a time each: messages,
    // statuses and dead letters drawn from small sets, so that many are duplicates.
    let writing = true;
    const createdMessages: string[] = [];
    const createdStatuses: string[] = [];
    const lane = async (store: PostgresStore, deliveries: number): Promise<void> => {
      for (let d = 0; d < deliveries; d++) {
        const messages = some(messageIds, 3).map((id) => incoming(id, { from: `+${id.length}`, type: 'text' }));
        const statuses = some(messageIds, 3).map((id) => statusOf(id, pick(random, names)));
        const deadLetters = random() < 0.3 ? [deadLetterOf(`x${Math.floor(random() * 30)}`)] : [];
        const outcome = await store.storeDelivery(deliveryOf({ messages, statuses, deadLetters }));
        outcome.messages.forEach((o, i) => {
          if (o === 'created') createdMessages.push(`message ${messages[i]?.messageId}`);
        });
        outcome.statuses.forEach((o, i) => {
          if (o === 'created') createdStatuses.push(`status ${statuses[i]?.messageId} ${statuses[i]?.status}`);
        });
      }
    };
    const writers = Promise.all(stores.flatMap((store) => Array.from({ length: 4 }, () => lane(store, 40)))).finally(() => {
      writing = false;
    });

    // A follower reads from its last position, as /feed and /events do.
    const followed: FeedEvent[] = [];
    let reads = 0;
    const follow = async (): Promise<void> => {
      let after = 0;
      for (;;) {
        const finished = !writing;
        const limit = 1 + Math.floor(random() * 40);
        const page = await reader.readFeed({ after, limit });
        reads++;
        for (const event of page) {
          // Never at or below a position seen before, nor a gap filled later.
          expect(event.position).toBeGreaterThan(after);
          after = event.position;
        }
        followed.push(...page);
        if (finished && page.length < limit) return;
      }
    };
    // And a watcher of every snapshot: what each one shows that the previous did not is all above
    // everything the previous showed. A position that commits after a larger one would show here.
    let snapshots = 0;
    const watchSnapshots = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: (await database()).url });
      await client.connect();
      try {
        let previous = new Set<number>();
        let max = 0;
        for (;;) {
          const finished = !writing;
          const rows = await client.query<{ positions: string[] }>(
            "SELECT coalesce(array_agg(position), '{}') AS positions FROM events",
          );
          const now = new Set(rows.rows[0]?.positions.map(Number) ?? []);
          snapshots++;
          for (const p of previous) expect(now.has(p)).toBe(true);
          const fresh = [...now].filter((p) => !previous.has(p));
          for (const p of fresh) expect(p).toBeGreaterThan(max);
          max = Math.max(max, ...fresh);
          previous = now;
          if (finished) return;
        }
      } finally {
        await client.end();
      }
    };
    await Promise.all([writers, follow(), watchSnapshots()]);

    expect(reads).toBeGreaterThan(20);
    expect(snapshots).toBeGreaterThan(20);
    // Exactly once each, in strictly increasing order, and the same as the whole feed read now.
    const keys = followed.map(eventKey);
    expect(new Set(keys).size).toBe(keys.length);
    followed.forEach((event, i) => {
      if (i > 0) expect(event.position).toBeGreaterThan(followed[i - 1]?.position ?? 0);
    });
    expect(followed).toEqual(await readWholeFeed(reader));
    // The events are the rows created: every message and status whose delivery said so, every dead letter.
    const deadLetters = (await reader.listDeadLetters({ limit: 1000, offset: 0 })).data;
    const rows = await sql<{ message_id: string; status: string }>('SELECT message_id, status FROM delivery_statuses');
    expect(keys.filter((k) => k.startsWith('message ')).sort()).toEqual(createdMessages.sort());
    expect(keys.filter((k) => k.startsWith('status ')).sort()).toEqual(createdStatuses.sort());
    expect(createdStatuses).toHaveLength(rows.length);
    expect(keys.filter((k) => k.startsWith('dead letter ')).sort()).toEqual(deadLetters.map((d) => `dead letter ${d.id}`).sort());
    expect(createdMessages.length).toBe((await reader.listMessages({}, { limit: 1, offset: 0 })).total);
    // Each with its row's data.
    const messages = (await reader.listMessages({}, { limit: 1000, offset: 0, details: true })).data;
    const byId = new Map(messages.map((m) => [m.messageId, m]));
    for (const event of followed) {
      if (event.type === 'message.created') expect(event.message).toStrictEqual(byId.get(event.message.messageId));
      if (event.type === 'dead_letter.created') expect(deadLetters).toContainEqual(event.deadLetter);
    }
    expect(await reader.feedHead()).toEqual({ position: followed.at(-1)?.position, receivedAt: followed.at(-1)?.receivedAt });
    await expectAggregatesMatchRows();
  });
});

describe('PostgreSQL feed watch', () => {
  const open = useStores();

  it("calls a store's onAdvance within a second of another store's commit, and stops when asked", async () => {
    const [a, b] = await Promise.all([open(), open()]);
    if (a === undefined || b === undefined) throw new Error('test bug');
    const calls: number[] = [];
    const stop = a.watchFeed(() => calls.push(Date.now()));
    onTestFinished(stop);
    // It calls once listening (anything may have been committed before), and once on its first read of feed_head.
    await until(() => calls.length >= 2, 5_000, 'the first calls');
    for (let i = 0; i < 3; i++) {
      calls.length = 0;
      const started = Date.now();
      await b.insertMany([incoming(`m${i}`)]);
      await until(() => calls.length > 0, 2_000, 'onAdvance');
      expect((calls[0] ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(1_000);
      await sleep(200);
    }
    expect(await listenerConnections()).toHaveLength(1);
    stop();
    await until(async () => (await listenerConnections()).length === 0, 5_000, 'the listener closing');
    calls.length = 0;
    await b.insertMany([incoming('after')]);
    await sleep(1_500);
    expect(calls).toEqual([]);
  });

  it('reads feed_head every second when the listener is broken, reconnects, and close() stops every watch', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_: unknown, message?: string) => warnings.push(message ?? ''), info: () => {} };
    const [a, b] = await Promise.all([open({ logger: logger as unknown as PostgresStoreOptions['logger'] }), open()]);
    if (a === undefined || b === undefined) throw new Error('test bug');
    const calls: number[] = [];
    a.watchFeed(() => calls.push(Date.now()));
    a.watchFeed(() => {});
    await until(async () => (await listenerConnections()).length === 2, 5_000, 'two listeners');
    const before = await listenerConnections();
    // Every listener's connection ends (a restart, a failover); a commit right after is noticed
    // by the read of feed_head, or by the listener once it is back.
    await sql(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [LISTENER_APPLICATION_NAME],
    );
    await until(() => warnings.length >= 2, 5_000, 'the warnings');
    calls.length = 0;
    const started = Date.now();
    await b.insertMany([incoming('during')]);
    await until(() => calls.length > 0, 3_000, 'onAdvance');
    expect((calls[0] ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(1_500);
    // Both listen again, on new connections.
    await until(async () => (await listenerConnections()).length === 2, 5_000, 'the listeners back');
    expect((await listenerConnections()).some((pid) => before.includes(pid))).toBe(false);
    expect(warnings.every((w) => w.includes('feed listener failed'))).toBe(true);
    await a.close();
    await until(async () => (await listenerConnections()).length === 0, 5_000, 'the listeners closing');
  });
});

describe('FeedWatch', () => {
  const open = useStores();

  /** A watch whose head reads come from `head`, listening on the test database unless `url` says otherwise. */
  async function watch(options: { onAdvance: () => void; head?: () => Promise<number>; url?: string; pollMs?: number }) {
    const url = options.url ?? (await database()).url;
    return new FeedWatch({
      channel: 'webhook_inbox_feed',
      listener: () => listenerClient(url, { ...DEFAULT_POSTGRES_TIMEOUTS, connectMs: 500 }),
      headPosition: options.head ?? (async () => 0),
      onAdvance: options.onAdvance,
      pollMs: options.pollMs ?? 60_000,
      backoffMs: 20,
      maxBackoffMs: 100,
    });
  }

  it('hears a commit through its listener alone', async () => {
    const store = await open();
    let calls = 0;
    const w = await watch({ onAdvance: () => calls++ });
    onTestFinished(() => w.stop());
    await until(() => calls === 1, 5_000, 'listening');
    await store.insertMany([incoming('a')]);
    await until(() => calls === 2, 1_000, 'the notification');
    // A write that creates nothing notifies nothing.
    await store.insertMany([incoming('a')]);
    await sleep(300);
    expect(calls).toBe(2);
  });

  it('reads the head when it cannot listen, calling only when it moved, and retries the listener with backoff', async () => {
    // Nothing listens on this port: every connection is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (typeof address !== 'object' || address === null) throw new Error('no port');
    let head = 5;
    let reads = 0;
    let calls = 0;
    const w = await watch({
      onAdvance: () => calls++,
      head: async () => {
        reads++;
        return head;
      },
      url: await urlAt(address.port),
      pollMs: 50,
    });
    onTestFinished(() => w.stop());
    await until(() => reads >= 3, 2_000, 'three reads');
    expect(calls).toBe(1);
    head = 7;
    await until(() => calls === 2, 1_000, 'the call for position 7');
    await sleep(200);
    expect(calls).toBe(2);
    await w.stop();
    const stopped = reads;
    await sleep(200);
    expect(reads).toBe(stopped);
  });

  it('leaves no timer and no connection behind once stopped, even while connecting', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    await open();
    const idle = { timers: timers(), sockets: sockets() };
    let calls = 0;
    const w = await watch({ onAdvance: () => calls++, pollMs: 100 });
    await until(() => calls === 1, 5_000, 'listening');
    // Its poll timer exists except while a read of the head is in flight: wait for a moment it does.
    await until(() => timers() > idle.timers, 1_000, 'the poll timer');
    expect(await listenerConnections()).toHaveLength(1);
    await w.stop();
    await until(() => timers() === idle.timers && sockets() === idle.sockets, 1_000, 'no timer and no socket left');
    await until(async () => (await listenerConnections()).length === 0, 5_000, 'the server seeing it closed');
    // Stopped at once, while its connection is still being made.
    calls = 0;
    const early = await watch({ onAdvance: () => calls++, pollMs: 100 });
    await early.stop();
    await until(() => timers() === idle.timers && sockets() === idle.sockets, 1_000, 'no timer and no socket left');
    await sleep(300);
    expect({ timers: timers(), sockets: sockets() }).toEqual(idle);
    expect(calls).toBe(0);
    expect(await listenerConnections()).toEqual([]);
  });
});

describe('containsPattern', () => {
  it.each([
    ['hello', '%hello%'],
    ['100%', '%100\\%%'],
    ['snake_case', '%snake\\_case%'],
    ['C:\\temp', '%C:\\\\temp%'],
    ['\\%_', '%\\\\\\%\\_%'],
  ])('%j becomes %j', (q, pattern) => {
    expect(containsPattern(q)).toBe(pattern);
  });
});
