// `npm run bench:commits [-- --preload N --commits N --repeat N --only TEXT]`: what one SQLite commit costs the writer, per row, for small
// (group-commit sized) and bulk batches, how much of it each secondary structure takes, and what
// the writer's choices save. Runs the store's own writer (SqliteWriter) on a fresh file in a
// temporary directory, indexing text in chunks between commits the way the writer thread does.
// Rows are core-form webhooks as the server stores them (origin "spec", the body rebuilt from the
// row rather than kept), or messages as the seeder makes them (80% WhatsApp, with type, the item as
// raw, contact name, phone_number_id, some replies; their texts as varied as the seeder's).

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { instantKey } from '../src/ingest/timestamp.js';
import { type ConnectionRole, OpenedFiles, openConnection } from '../src/store/sqlite/connection.js';
import { SqliteWriter } from '../src/store/sqlite/writer.js';
import type { IncomingMessage } from '../src/store/store.js';
import { SyntheticMessages } from './synthetic.js';

const { values } = parseArgs({
  options: { preload: { type: 'string' }, commits: { type: 'string' }, repeat: { type: 'string' }, only: { type: 'string' } },
  strict: true,
});
const PRELOAD = Number(values.preload ?? 200_000);
const COMMITS = Number(values.commits ?? 800);
/** Passes over the variants, in turn; each figure is the median of its passes (a shared machine drifts). */
const REPEAT = Math.max(1, Number(values.repeat ?? 1));
/** Runs only the variants whose name contains this text (e.g. --only "as built"). */
const ONLY = values.only;
/** Commits after the timed ones whose WAL frames are counted (autocheckpoint off meanwhile). */
const WAL_COMMITS = 100;

interface Variant {
  /** Run after opening: drops a secondary structure, to show its share of the cost. */
  readonly ddl?: string;
  /** The connection's page cache setting (see src/store/sqlite/connection.ts). */
  readonly role?: ConnectionRole;
  /** Rows indexed per text-index transaction; 1 = every commit indexes its own rows. */
  readonly indexChunk?: number;
  /** The rows written: core-form webhooks (the default) or WhatsApp messages. */
  readonly rows?: 'core' | 'whatsapp';
}

/** The writer thread's chunk (src/store/sqlite/writer.worker.ts). */
const INDEX_CHUNK_ROWS = 512;

const VARIANTS: Record<string, Variant> = {
  'as built: writer cache, text indexed in chunks': {},
  'text indexed after every commit': { indexChunk: 1 },
  'reader-sized page cache (64 MiB)': { role: 'reader' },
  'page cache 8 MiB': { ddl: 'PRAGMA cache_size = -8192' },
  // A plain table in its place, with a column named like the table so that the writer's statement
  // that tells FTS5 to forget a row still prepares.
  'without the trigram index': {
    ddl: `DROP TABLE messages_trigrams;
      CREATE TABLE messages_trigrams (rowid INTEGER PRIMARY KEY, text_folded TEXT, messages_trigrams TEXT)`,
  },
  'without messages_by_sender': { ddl: 'DROP INDEX messages_by_sender' },
  'without messages_by_recipient': { ddl: 'DROP INDEX messages_by_recipient' },
  'without events_by_message': { ddl: 'DROP INDEX events_by_message' },
  'events without AUTOINCREMENT or events_by_message': {
    ddl: `DROP TABLE events;
      CREATE TABLE events (position INTEGER PRIMARY KEY, type TEXT NOT NULL, message_id TEXT, status TEXT,
        dead_letter INTEGER, received_at TEXT NOT NULL)`,
  },
  'rows as seeded: 80% WhatsApp with type, raw item, contact name': { rows: 'whatsapp' },
};

let sequence = 0;
function message(): IncomingMessage {
  const n = sequence++;
  const ts = new Date(Date.UTC(2025, 0, 1) + n * 10).toISOString();
  const tsKey = instantKey(ts);
  if (tsKey === null) throw new Error(`bad timestamp ${ts}`);
  // Senders skewed like real traffic: a few busy numbers, a long tail.
  const sender = 10_000_000 + Math.floor(5000 * Math.random() ** 4);
  const messageId = randomUUID();
  const from = `+9198${sender}`;
  const to = '+14155550100';
  const text = `Hello, order ${n} has shipped`;
  // As the webhook route hands a core-form body to the store: its origin, the body as sent.
  const raw = JSON.stringify({ message_id: messageId, from, to, ts, text });
  return {
    messageId,
    from,
    to,
    ts,
    tsKey,
    text,
    origin: { source: 'spec', raw, contactName: null, replyTo: null, phoneNumberId: null },
  };
}

/** Messages as the seeder makes them (80% WhatsApp; the others core-form bodies, without type), made once and reused with fresh ids and times. */
const whatsappPool: IncomingMessage[] = [];
function whatsappMessage(): IncomingMessage {
  if (whatsappPool.length === 0) {
    const synthetic = new SyntheticMessages({ count: 50_000, senders: 5000, seed: 7, until: new Date(), batchSize: 10_000 });
    for (const batch of synthetic.batches()) whatsappPool.push(...batch);
  }
  const n = sequence++;
  const template = whatsappPool[n % whatsappPool.length] ?? message();
  const ts = new Date(Date.UTC(2025, 0, 1) + n * 10).toISOString();
  const tsKey = instantKey(ts);
  if (tsKey === null) throw new Error(`bad timestamp ${ts}`);
  const messageId = randomUUID();
  const origin = template.origin;
  if (origin === undefined || origin.source === 'whatsapp') return { ...template, messageId, ts, tsKey };
  // A core-form body names the message's own id and time.
  const raw = JSON.stringify({ message_id: messageId, from: template.from, to: template.to, ts, text: template.text });
  return { ...template, messageId, ts, tsKey, origin: { ...origin, raw } };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

interface Measured {
  readonly cpuPerRowUs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  /** Pages written to the WAL per commit (frames), text-index chunks included. */
  readonly walPagesPerCommit: number;
}

/** Measures a variant, or answers why it cannot run (a structure it drops that this schema lacks). */
function measure(variant: Variant, rowsPerCommit: number): Measured | string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'webhook-inbox-commits-'));
  const chunk = variant.indexChunk ?? INDEX_CHUNK_ROWS;
  const make = variant.rows === 'whatsapp' ? whatsappMessage : message;
  try {
    const file = path.join(dir, 'bench.db');
    const db = openConnection(file, variant.role ?? 'writer');
    if (variant.ddl !== undefined) {
      try {
        db.exec(variant.ddl);
      } catch (error) {
        db.close();
        return error instanceof Error ? error.message : String(error);
      }
    }
    // With the check of the file's identity that every commit of the writer thread makes. A
    // statement that names a dropped index (INDEXED BY) does not prepare: that variant cannot run.
    let writer: SqliteWriter;
    try {
      writer = new SqliteWriter(db, OpenedFiles.of(file));
    } catch (error) {
      db.close();
      return error instanceof Error ? error.message : String(error);
    }
    for (let done = 0; done < PRELOAD; done += 10_000) {
      writer.write(Array.from({ length: Math.min(10_000, PRELOAD - done) }, make), new Date().toISOString());
      writer.indexText(Number.MAX_SAFE_INTEGER);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    const commits = rowsPerCommit >= 1000 ? Math.max(5, Math.floor(COMMITS / 40)) : COMMITS;
    const wall: number[] = [];
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < commits; i++) {
      const batch = Array.from({ length: rowsPerCommit }, make);
      const started = performance.now();
      writer.write(batch, new Date().toISOString());
      if (writer.unindexedRows >= chunk) writer.indexText(Math.max(chunk, rowsPerCommit));
      wall.push(performance.now() - started);
    }
    const cpu = process.cpuUsage(cpuStart);
    // Then the pages a commit writes: a few more commits into an emptied WAL that nothing
    // checkpoints meanwhile, its size divided into frames.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const autocheckpoint = Number(db.pragma('wal_autocheckpoint', { simple: true }));
    db.pragma('wal_autocheckpoint = 0');
    const walCommits = rowsPerCommit >= 1000 ? 2 : WAL_COMMITS;
    for (let i = 0; i < walCommits; i++) {
      writer.write(Array.from({ length: rowsPerCommit }, make), new Date().toISOString());
      if (writer.unindexedRows >= chunk) writer.indexText(Math.max(chunk, rowsPerCommit));
    }
    const frameBytes = Number(db.pragma('page_size', { simple: true })) + 24;
    const walPagesPerCommit = (statSync(`${file}-wal`).size - 32) / frameBytes / walCommits;
    db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
    db.close();
    wall.sort((a, b) => a - b);
    return {
      cpuPerRowUs: (cpu.user + cpu.system) / (commits * rowsPerCommit),
      p50Ms: percentile(wall, 0.5),
      p90Ms: percentile(wall, 0.9),
      walPagesPerCommit,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

const [asBuilt] = Object.keys(VARIANTS);
const runs: { name: string; variant: Variant; rowsPerCommit: number }[] = [
  ...(asBuilt !== undefined ? [{ name: asBuilt, variant: {}, rowsPerCommit: 10_000 }] : []),
  ...Object.entries(VARIANTS).map(([name, variant]) => ({ name, variant, rowsPerCommit: 25 })),
  { name: 'page cache 8 MiB', variant: { ddl: 'PRAGMA cache_size = -8192' }, rowsPerCommit: 10_000 },
  {
    name: 'rows as seeded: 80% WhatsApp with type, raw item, contact name',
    variant: { rows: 'whatsapp' },
    rowsPerCommit: 10_000,
  },
];
if (ONLY !== undefined) runs.splice(0, runs.length, ...runs.filter((run) => run.name.includes(ONLY)));
const results: (Measured | string)[][] = runs.map(() => []);
for (let pass = 0; pass < REPEAT; pass++) {
  runs.forEach((run, i) => {
    const done = results[i] ?? [];
    // A variant this schema cannot run is not tried again.
    if (typeof done[0] !== 'string') done.push(measure(run.variant, run.rowsPerCommit));
    results[i] = done;
  });
}
const lines = [
  `Commit cost of the SQLite writer (synchronous=FULL), after preloading ${PRELOAD} rows; text-index`,
  `chunks are counted in the commit that triggers them${REPEAT > 1 ? `; medians of ${REPEAT} passes over the variants` : ''}:`,
  '',
  '| variant | rows per commit | writer CPU per row | commit p50 | commit p90 | WAL pages per commit |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...runs.map((run, i) => {
    const all = results[i] ?? [];
    const skipped = all.find((x): x is string => typeof x === 'string');
    if (skipped !== undefined) return `| ${run.name} | ${run.rowsPerCommit} | n/a (${skipped}) | | | |`;
    const m = all.filter((x): x is Measured => typeof x !== 'string');
    const of = (pick: (x: Measured) => number): number => median(m.map(pick));
    return `| ${run.name} | ${run.rowsPerCommit} | ${of((x) => x.cpuPerRowUs).toFixed(1)} µs | ${of((x) => x.p50Ms).toFixed(2)} ms | ${of((x) => x.p90Ms).toFixed(2)} ms | ${of((x) => x.walPagesPerCommit).toFixed(0)} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
