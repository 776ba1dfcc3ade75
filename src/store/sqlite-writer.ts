// Writes batches of messages into SQLite: each batch is one transaction that inserts the new rows,
// their trigram index entries and the aggregates together. Used on the main thread or inside the
// writer thread (sqlite-writer.worker.ts).

import type Database from 'better-sqlite3';
import { foldCase, type IncomingMessage, type InsertOutcome } from './store.js';

export class SqliteWriter {
  readonly #batch: (messages: readonly IncomingMessage[], createdAt: string) => InsertOutcome[];

  constructor(db: Database.Database) {
    const insert = db.prepare(
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (message_id) DO NOTHING`,
    );
    const addText = db.prepare('INSERT INTO messages_trigrams (rowid, text_folded) VALUES (?, ?)');
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
        if (folded !== null) addText.run(info.lastInsertRowid, folded);
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
  }

  /**
   * Inserts the batch in one transaction and returns once it is committed; outcomes are
   * positional. The unique constraint decides duplicates, including repeats inside the batch.
   */
  write(messages: readonly IncomingMessage[], createdAt: string): InsertOutcome[] {
    return this.#batch(messages, createdAt);
  }
}
