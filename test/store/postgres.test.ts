// The PostgreSQL store: the MessageStore contract (one database for this file, emptied before
// each test so every test migrates from scratch), then what only PostgreSQL has: migrations under
// an advisory lock, several stores (replicas) writing one database, the trigram index, and
// outages: a server that is gone, one that hangs, connections that break.

import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_SCHEMA_VERSION, postgresMigrations } from '../../src/store/postgres/migrations.js';
import { containsPattern } from '../../src/store/postgres/sql.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/store.js';
import {
  type DeliveryStatus,
  type DeliveryStatusName,
  type IncomingMessage,
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
  type RefusingTable,
  statusOf,
} from './contract.js';

const database = useTestDatabase('store');

describeStoreContract('PostgreSQL', async () => {
  const db = await database();
  await db.reset();
  const store = await PostgresStore.open({ url: db.url, poolMax: 4 });
  return { store, cleanup: () => store.close(), refuse };
});

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
    expect(POSTGRES_SCHEMA_VERSION).toBe(2);
    // The database as release 1 of the schema left it, with rows its store wrote.
    const [first] = postgresMigrations;
    if (first?.version !== 1) throw new Error('test bug: migration 1 not found');
    await sql(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
      ${first.sql}
      INSERT INTO schema_migrations (version, name) VALUES (1, 'messages and aggregates');
      INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at) VALUES
        ('old1', '+1', '+2', '2025-01-15T10:00:00Z', '2025-01-15T10:00:00', 'Old Needle', 'old needle', now()),
        ('old2', '+3', '+2', '2025-01-15T11:00:00.5Z', '2025-01-15T11:00:00.5', NULL, NULL, now());
      UPDATE totals SET messages = 2, senders = 2;
      INSERT INTO sender_counts (sender, count) VALUES ('+1', 1), ('+3', 1);
      INSERT INTO hour_counts (hour, count) VALUES ('2025-01-15T10', 1), ('2025-01-15T11', 1);`);

    const store = await open();
    await expect(store.checkHealth()).resolves.toBeUndefined();
    const versions = await sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual([1, 2]);
    await expectUpgradedStoreWorks(store);
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
