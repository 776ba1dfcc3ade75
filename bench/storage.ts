// `npx tsx bench/storage.ts FILE [FILE…]`: what a SQLite database of the service takes on disk per
// message: the file and its WAL after a checkpoint, divided by the messages it holds, and each
// table and index (SQLite's dbstat). The benchmark reports it for the database it seeds; given
// files of different versions seeded alike, it compares them.

import { statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

export interface StorageFigures {
  readonly file: string;
  readonly messages: number;
  /** The database file and its WAL after a full checkpoint. */
  readonly bytes: number;
  readonly walBytes: number;
  /** Bytes of pages per table or index, largest first. */
  readonly objects: readonly { readonly name: string; readonly bytes: number }[];
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Checkpoints the database (TRUNCATE: the WAL is emptied) and measures it. Needs no other connection open. */
export function measureStorage(file: string): StorageFigures {
  const db = new Database(file, { fileMustExist: true });
  try {
    const busy = (db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0]?.busy ?? 0;
    if (busy !== 0) throw new Error(`${file}: the checkpoint could not finish (another connection is open)`);
    const messages = Number(db.prepare('SELECT count(*) FROM messages').pluck().get());
    const objects = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC, name').all() as {
      name: string;
      bytes: number;
    }[];
    const walBytes = sizeOf(`${file}-wal`);
    return { file, messages, bytes: sizeOf(file) + walBytes, walBytes, objects };
  } finally {
    db.close();
  }
}

/** Per message, with one decimal. */
function perMessage(bytes: number, messages: number): string {
  return messages > 0 ? (bytes / messages).toFixed(1) : 'n/a';
}

/**
 * One column per database: bytes per message in all and per table or index; the objects under
 * 0.5 byte per message in every database are added up as one row.
 */
export function storageTable(figures: readonly StorageFigures[], labels: readonly string[]): string {
  const names = [...new Set(figures.flatMap((f) => f.objects.map((o) => o.name)))];
  const bytesOf = (f: StorageFigures, name: string): number => f.objects.find((o) => o.name === name)?.bytes ?? 0;
  const large = names.filter((name) => figures.some((f) => bytesOf(f, name) / Math.max(1, f.messages) >= 0.5));
  const small = names.filter((name) => !large.includes(name));
  // Largest first in the last database (the newest, when they are compared).
  const last = figures.at(-1);
  if (last !== undefined) large.sort((a, b) => bytesOf(last, b) - bytesOf(last, a));
  const lines = [
    `| bytes per message | ${labels.join(' | ')} |`,
    `| --- | ${labels.map(() => '---:').join(' | ')} |`,
    `| messages held | ${figures.map((f) => f.messages.toLocaleString('en-US')).join(' | ')} |`,
    `| **file + WAL after a checkpoint** | ${figures.map((f) => `**${perMessage(f.bytes, f.messages)}** (${(f.bytes / 1024 ** 2).toFixed(0)} MiB)`).join(' | ')} |`,
    ...large.map((name) => `| \`${name}\` | ${figures.map((f) => perMessage(bytesOf(f, name), f.messages)).join(' | ')} |`),
  ];
  if (small.length > 0) {
    lines.push(
      `| ${small.length} others, each under 0.5 (aggregates, schema, …) | ${figures
        .map((f) =>
          perMessage(
            small.reduce((sum, name) => sum + bytesOf(f, name), 0),
            f.messages,
          ),
        )
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write(
      'usage: npx tsx bench/storage.ts FILE [FILE…]  (SQLite databases of the service, no server using them)\n',
    );
    process.exit(2);
  }
  const figures = files.map(measureStorage);
  for (const f of figures) {
    process.stdout.write(
      `${f.file}: ${f.messages} messages, ${f.bytes} bytes (WAL ${f.walBytes}) after a checkpoint: ${perMessage(f.bytes, f.messages)} bytes per message\n`,
    );
  }
  process.stdout.write(
    `\n${storageTable(
      figures,
      files.map((f) => path.basename(f)),
    )}\n`,
  );
}
