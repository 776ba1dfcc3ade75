// Writes batches of messages into SQLite: each batch is one transaction that inserts the new rows
// and the aggregates together. The trigram index of their text is built afterwards, in chunks
// (indexText). Used on the main thread or inside the writer thread (sqlite-writer.worker.ts).

import type Database from 'better-sqlite3';
import { foldCase, type IncomingMessage, type InsertOutcome } from './store.js';

export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #batch: (messages: readonly IncomingMessage[], createdAt: string) => InsertOutcome[];
  /** Indexes one chunk; returns how many rows it covered and how many are left. */
  readonly #indexChunk: (limit: number) => { covered: number; left: number };
  /** Rows stored but not yet in the trigram index. */
  #unindexed: number;

  constructor(db: Database.Database) {
    this.#db = db;
    const insert = db.prepare(
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
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
    this.#batch = db.transaction((messages: readonly IncomingMessage[], createdAt: string) => {
      const perSender = new Map<string, number>();
      const perHour = new Map<string, number>();
      let created = 0;
      const outcomes = messages.map((m): InsertOutcome => {
        const folded = m.text === null ? null : foldCase(m.text);
        const info = insert.run(m.messageId, m.from, m.to, m.ts, m.tsKey, m.text, folded, createdAt);
        if (info.changes === 0) return 'duplicate';
        created++;
        perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1);
        const hour = m.tsKey.slice(0, 13);
        perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
        return 'created';
      });
      // Aggregates in the same transaction, one upsert per distinct sender and hour of the batch.
      let newSenders = 0;
      for (const [sender, count] of perSender) {
        if (addSender.get(sender, count) === count) newSenders++;
      }
      for (const [hour, count] of perHour) addHour.run(hour, count);
      if (created > 0) addTotals.run(created, newSenders);
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
    const outcomes = this.#batch(messages, createdAt);
    for (const outcome of outcomes) if (outcome === 'created') this.#unindexed++;
    return outcomes;
  }

  /**
   * Adds up to `maxRows` of the oldest unindexed rows to the trigram index in one transaction and
   * returns how many it covered. Written in chunks like this, a row costs the index a fraction of
   * what it cost inside each small group commit: one new index segment per chunk instead of one per
   * commit. The chunk is not synced on its own: the next acknowledged commit syncs the log up to
   * and past it, and a chunk lost in a crash before that is simply indexed again.
   */
  indexText(maxRows: number): number {
    if (this.#unindexed <= 0) return 0;
    this.#db.pragma('synchronous = OFF');
    try {
      const { covered, left } = this.#indexChunk(maxRows);
      this.#unindexed = left;
      return covered;
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }
}
