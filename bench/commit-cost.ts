// `npm run bench:commits`: what one SQLite commit costs the writer, per row, for small
// (group-commit sized) and bulk batches, how much of it each secondary structure takes, and what
// the writer's choices save. Runs the store's own writer (SqliteWriter) on a fresh file in a
// temporary directory, indexing text in chunks between commits the way the writer thread does.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { instantKey } from '../src/ingest/timestamp.js';
import { type ConnectionRole, OpenedFiles, openConnection } from '../src/store/sqlite/connection.js';
import { SqliteWriter } from '../src/store/sqlite/writer.js';
import type { IncomingMessage } from '../src/store/store.js';

const { values } = parseArgs({
  options: { preload: { type: 'string' }, commits: { type: 'string' } },
  strict: true,
});
const PRELOAD = Number(values.preload ?? 200_000);
const COMMITS = Number(values.commits ?? 800);

interface Variant {
  /** Run after opening: drops a secondary structure, to show its share of the cost. */
  readonly ddl?: string;
  /** The connection's page cache setting (see src/store/sqlite/connection.ts). */
  readonly role?: ConnectionRole;
  /** Rows indexed per text-index transaction; 1 = every commit indexes its own rows. */
  readonly indexChunk?: number;
}

/** The writer thread's chunk (src/store/sqlite/writer.worker.ts). */
const INDEX_CHUNK_ROWS = 512;

const VARIANTS: Record<string, Variant> = {
  'as built: writer cache, text indexed in chunks': {},
  'text indexed after every commit': { indexChunk: 1 },
  'reader-sized page cache (64 MiB)': { role: 'reader' },
  'without the trigram index': {
    ddl: `DROP TABLE messages_trigrams;
      CREATE TABLE messages_trigrams (rowid INTEGER PRIMARY KEY, text_folded TEXT)`,
  },
  'without messages_by_sender': { ddl: 'DROP INDEX messages_by_sender' },
  'without sender_counts_by_rank': { ddl: 'DROP INDEX sender_counts_by_rank' },
};

let sequence = 0;
function message(): IncomingMessage {
  const n = sequence++;
  const ts = new Date(Date.UTC(2025, 0, 1) + n * 10).toISOString();
  const tsKey = instantKey(ts);
  if (tsKey === null) throw new Error(`bad timestamp ${ts}`);
  // Senders skewed like real traffic: a few busy numbers, a long tail.
  const sender = 10_000_000 + Math.floor(5000 * Math.random() ** 4);
  return {
    messageId: randomUUID(),
    from: `+9198${sender}`,
    to: '+14155550100',
    ts,
    tsKey,
    text: `Hello, order ${n} has shipped`,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function measure(name: string, variant: Variant, rowsPerCommit: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'webhook-inbox-commits-'));
  const chunk = variant.indexChunk ?? INDEX_CHUNK_ROWS;
  try {
    const file = path.join(dir, 'bench.db');
    const db = openConnection(file, variant.role ?? 'writer');
    if (variant.ddl !== undefined) db.exec(variant.ddl);
    // With the check of the file's identity that every commit of the writer thread makes.
    const writer = new SqliteWriter(db, OpenedFiles.of(file));
    for (let done = 0; done < PRELOAD; done += 10_000) {
      writer.write(Array.from({ length: Math.min(10_000, PRELOAD - done) }, message), new Date().toISOString());
      writer.indexText(Number.MAX_SAFE_INTEGER);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    const commits = rowsPerCommit >= 1000 ? Math.max(5, Math.floor(COMMITS / 40)) : COMMITS;
    const wall: number[] = [];
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < commits; i++) {
      const batch = Array.from({ length: rowsPerCommit }, message);
      const started = performance.now();
      writer.write(batch, new Date().toISOString());
      if (writer.unindexedRows >= chunk) writer.indexText(Math.max(chunk, rowsPerCommit));
      wall.push(performance.now() - started);
    }
    const cpu = process.cpuUsage(cpuStart);
    db.close();
    wall.sort((a, b) => a - b);
    const cpuPerRowUs = (cpu.user + cpu.system) / (commits * rowsPerCommit);
    return `| ${name} | ${rowsPerCommit} | ${cpuPerRowUs.toFixed(1)} µs | ${percentile(wall, 0.5).toFixed(2)} ms | ${percentile(wall, 0.9).toFixed(2)} ms |`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const lines = [
  `Commit cost of the SQLite writer (synchronous=FULL), after preloading ${PRELOAD} rows; text-index`,
  `chunks are counted in the commit that triggers them:`,
  '',
  '| variant | rows per commit | writer CPU per row | commit p50 | commit p90 |',
  '| --- | ---: | ---: | ---: | ---: |',
];
const [asBuilt] = Object.keys(VARIANTS);
if (asBuilt !== undefined) lines.push(measure(asBuilt, {}, 10_000));
for (const [name, variant] of Object.entries(VARIANTS)) lines.push(measure(name, variant, 25));
process.stdout.write(`${lines.join('\n')}\n`);
