// Writes into SQLite: each call is one transaction that inserts the new rows and the aggregates
// together; a provider delivery adds its statuses and dead letters to the same transaction, which
// is refused if the database file was deleted or replaced meanwhile. The trigram index of the text
// is built afterwards, in chunks (indexText). Used on the main thread or inside the writer thread
// (writer.worker.ts).

import type Database from 'better-sqlite3';
import { hourKey } from '../count-plan.js';
import { deadLetterHash, messagesOnly } from '../delivery-rows.js';
import { type Delivery, type DeliveryOutcome, foldCase, type IncomingMessage, type InsertOutcome } from '../store.js';
import type { OpenedFiles } from './connection.js';

/**
 * One caller's share of a transaction: an insertMany batch (no statuses, no dead letters) or a
 * provider delivery, with the server time of the call.
 */
export interface WritePart extends Delivery {
  /** created_at of its rows, received_at of its dead letters. */
  readonly createdAt: string;
}

/** An insertMany batch as a part: messages only. */
export function messagesPart(messages: readonly IncomingMessage[], createdAt: string): WritePart {
  return { ...messagesOnly(messages), createdAt };
}

export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #commit: (parts: readonly WritePart[]) => DeliveryOutcome[];
  /** Indexes one chunk; returns how many rows it covered and how many are left. */
  readonly #indexChunk: (limit: number) => { covered: number; left: number };
  /** Rows stored but not yet in the trigram index. */
  #unindexed: number;

  /**
   * `files`: what the connection opened; every commit checks, just before it commits, that the
   * path still names them (see OpenedFiles). Null for ':memory:' and for tests of the SQL alone.
   */
  constructor(db: Database.Database, files: OpenedFiles | null = null) {
    this.#db = db;
    const insert = db.prepare(
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (message_id) DO NOTHING`,
    );
    const addSender = db
      .prepare(
        `INSERT INTO sender_counts (sender, count) VALUES (?, ?)
       ON CONFLICT (sender) DO UPDATE SET count = count + excluded.count RETURNING count`,
      )
      .pluck();
    const addHour = db.prepare(
      'INSERT INTO hour_counts (hour, count) VALUES (?, ?) ON CONFLICT (hour) DO UPDATE SET count = count + excluded.count',
    );
    const addTotals = db.prepare('UPDATE totals SET messages = messages + ?, senders = senders + ? WHERE id = 1');
    const insertStatus = db.prepare(
      `INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (message_id, status) DO NOTHING`,
    );
    const insertDeadLetter = db.prepare(
      `INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, kind, item_hash) DO NOTHING`,
    );
    this.#commit = db.transaction((parts: readonly WritePart[]) => {
      const perSender = new Map<string, number>();
      const perHour = new Map<string, number>();
      let created = 0;
      // Parts in the order they came: a message_id or (message_id, status) pair that several of
      // them carry is created by the first, exactly as if they had been committed one by one.
      const outcomes = parts.map((part): DeliveryOutcome => {
        const messages = part.messages.map((m): InsertOutcome => {
          const folded = m.text === null ? null : foldCase(m.text);
          const info = insert.run(m.messageId, m.from, m.to, m.ts, m.tsKey, m.text, folded, m.type ?? null, part.createdAt);
          if (info.changes === 0) return 'duplicate';
          created++;
          perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1);
          const hour = hourKey(m.tsKey);
          perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
          return 'created';
        });
        const statuses = part.statuses.map((s): InsertOutcome => {
          const info = insertStatus.run(s.messageId, s.status, s.ts, s.tsKey, s.recipientId, s.errors, part.createdAt);
          return info.changes === 0 ? 'duplicate' : 'created';
        });
        for (const d of part.deadLetters) {
          insertDeadLetter.run(part.createdAt, part.source, d.kind, d.reason, d.item, deadLetterHash(d.item), d.itemId);
        }
        return { messages, statuses };
      });
      // Aggregates in the same transaction, one upsert per distinct sender and hour of the batch.
      let newSenders = 0;
      for (const [sender, count] of perSender) {
        if (addSender.get(sender, count) === count) newSenders++;
      }
      for (const [hour, count] of perHour) addHour.run(hour, count);
      if (created > 0) addTotals.run(created, newSenders);
      // Last, as close to COMMIT as it gets: a throw here rolls everything back, so nothing is
      // acknowledged into a file that is gone from its path. Two stat calls per transaction.
      files?.check();
      return outcomes;
    });

    const progress = db.prepare('SELECT indexed_upto FROM text_index_progress WHERE id = 1').pluck();
    const lastId = db.prepare('SELECT coalesce(max(id), 0) FROM messages').pluck();
    const chunkEnd = db.prepare('SELECT max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)').pluck();
    const addTexts = db.prepare(
      `INSERT INTO messages_trigrams (rowid, text_folded)
       SELECT id, text_folded FROM messages WHERE id > ? AND id <= ? AND text_folded IS NOT NULL`,
    );
    const setProgress = db.prepare('UPDATE text_index_progress SET indexed_upto = ? WHERE id = 1');
    this.#indexChunk = db.transaction((limit: number) => {
      const from = Number(progress.get());
      const end = chunkEnd.get(from, limit);
      const to = end === null || end === undefined ? from : Number(end);
      if (to > from) {
        addTexts.run(from, to);
        setProgress.run(to);
      }
      // Counted again rather than tracked: another process may write to the same file.
      return { covered: to - from, left: Number(lastId.get()) - to };
    });
    this.#unindexed = Number(lastId.get()) - Number(progress.get());
  }

  /** Rows committed but not yet in the trigram index (searches scan them instead). */
  get unindexedRows(): number {
    return this.#unindexed;
  }

  /**
   * Inserts the batch in one transaction and returns once it is committed; outcomes are
   * positional. The unique constraint decides duplicates, including repeats inside the batch.
   */
  write(messages: readonly IncomingMessage[], createdAt: string): InsertOutcome[] {
    return this.commit([messagesPart(messages, createdAt)])[0]?.messages ?? [];
  }

  /**
   * Commits every part in one transaction and returns once it is committed: one outcome per
   * part, each positional like write's. Throws, having committed nothing of any part, when the
   * database fails.
   */
  commit(parts: readonly WritePart[]): DeliveryOutcome[] {
    const outcomes = this.#commit(parts);
    for (const outcome of outcomes) {
      for (const message of outcome.messages) if (message === 'created') this.#unindexed++;
    }
    return outcomes;
  }

  /**
   * Adds up to `maxRows` of the oldest unindexed rows to the trigram index in one transaction and
   * returns how many it covered. Written in chunks like this, a row costs the index a fraction of
   * what it cost inside each small group commit: one new index segment per chunk instead of one per
   * commit.
   *
   * The chunk commits with synchronous=NORMAL: in WAL mode its commit writes the log without
   * syncing it, which is what keeps a chunk cheap, yet the syncs that keep the file consistent
   * stay: a checkpoint that this commit runs (wal_autocheckpoint) syncs the log before copying
   * pages into the database file and syncs the file before the log may be rewound. SQLite documents
   * NORMAL in WAL mode as safe from corruption; a power loss can only take the latest commits, and
   * a lost chunk takes its text_index_progress with it (one transaction), so it is simply indexed
   * again. Not OFF: with OFF that checkpoint syncs nothing, and the log could be rewound over
   * frames whose pages never reached the disk, corrupting commits acknowledged long before. The
   * next FULL commit syncs the log up to its own frames, the chunk's before them included.
   */
  indexText(maxRows: number): number {
    if (this.#unindexed <= 0) return 0;
    this.#db.pragma('synchronous = NORMAL');
    try {
      const { covered, left } = this.#indexChunk(maxRows);
      this.#unindexed = left;
      return covered;
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }
}
