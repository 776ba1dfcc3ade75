// Writes into SQLite: each call is one transaction that inserts the new rows and the aggregates
// together; a provider delivery adds its statuses and dead letters to the same transaction, which
// is refused if the database file was deleted or replaced meanwhile. The trigram index of the text
// is built afterwards, in chunks (indexText). Used on the main thread or inside the writer thread
// (writer.worker.ts).

import type Database from 'better-sqlite3';
import type { ConversationDelta } from '../aggregates.js';
import { aggregateDeltas } from '../aggregates.js';
import { deadLetterHash, messagesOnly, rawToStore } from '../delivery-rows.js';
import { type Delivery, type DeliveryOutcome, foldCase, type IncomingMessage, type InsertOutcome } from '../store.js';
import type { OpenedFiles } from './connection.js';

/**
 * One caller's share of a transaction: an insertMany batch (no statuses, no dead letters) or a
 * provider delivery, with the server time of the call.
 */
export interface WritePart extends Delivery {
  /** received_at of its messages and dead letters, created_at of its statuses. */
  readonly createdAt: string;
}

/** An insertMany batch as a part: messages only. */
export function messagesPart(messages: readonly IncomingMessage[], createdAt: string): WritePart {
  return { ...messagesOnly(messages), createdAt };
}

/** `CASE WHEN <condition> THEN excluded.<column> ELSE <column> END` for each column, in an upsert's SET. */
function takeWhen(condition: string, columns: readonly string[]): string {
  return columns.map((c) => `${c} = CASE WHEN ${condition} THEN excluded.${c} ELSE ${c} END`).join(',\n         ');
}

/**
 * Adds a conversation's delta (see aggregates.ts): the count, and the first, last and contact
 * messages where the delta's come earlier, later, later. Every SET expression reads the row as it
 * was. Answers the new count: equal to the delta's when the conversation is new.
 */
const ADD_CONVERSATION = `
  INSERT INTO conversations (from_number, to_number, messages, first_ts_key, first_message_id, first_ts,
                             last_ts_key, last_message_id, last_ts, last_text, last_type,
                             contact_name, contact_ts_key, contact_message_id)
  VALUES (@from, @to, @count, @firstKey, @firstId, @firstTs, @lastKey, @lastId, @lastTs, @lastText, @lastType,
          @contactName, @contactKey, @contactId)
  ON CONFLICT (from_number, to_number) DO UPDATE SET
         messages = messages + excluded.messages,
         ${takeWhen('(excluded.first_ts_key, excluded.first_message_id) < (first_ts_key, first_message_id)', ['first_ts_key', 'first_message_id', 'first_ts'])},
         ${takeWhen('(excluded.last_ts_key, excluded.last_message_id) > (last_ts_key, last_message_id)', ['last_ts_key', 'last_message_id', 'last_ts', 'last_text', 'last_type'])},
         ${takeWhen(
           'excluded.contact_name IS NOT NULL AND (contact_ts_key IS NULL OR (excluded.contact_ts_key, excluded.contact_message_id) > (contact_ts_key, contact_message_id))',
           ['contact_name', 'contact_ts_key', 'contact_message_id'],
         )}
  RETURNING messages`;

function conversationParams(c: ConversationDelta): Record<string, string | number | null> {
  return {
    from: c.from,
    to: c.to,
    count: c.count,
    firstKey: c.first.tsKey,
    firstId: c.first.messageId,
    firstTs: c.first.ts,
    lastKey: c.last.tsKey,
    lastId: c.last.messageId,
    lastTs: c.last.ts,
    lastText: c.last.text,
    lastType: c.last.type,
    contactName: c.contact?.name ?? null,
    contactKey: c.contact?.tsKey ?? null,
    contactId: c.contact?.messageId ?? null,
  };
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
      `INSERT INTO messages (message_id, from_number, to_number, ts, ts_key, text, text_folded, type, received_at,
                             source, raw, contact_name, reply_to, phone_number_id, event)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (message_id) DO NOTHING`,
    );
    const addSender = db
      .prepare(
        `INSERT INTO sender_counts (sender, count) VALUES (?, ?)
       ON CONFLICT (sender) DO UPDATE SET count = count + excluded.count RETURNING count`,
      )
      .pluck();
    const addRecipient = db.prepare(
      `INSERT INTO recipient_counts (recipient, count) VALUES (?, ?)
       ON CONFLICT (recipient) DO UPDATE SET count = count + excluded.count`,
    );
    const addType = db.prepare(
      'INSERT INTO type_counts (type, count) VALUES (?, ?) ON CONFLICT (type) DO UPDATE SET count = count + excluded.count',
    );
    const addHour = db.prepare(
      'INSERT INTO hour_counts (hour, count) VALUES (?, ?) ON CONFLICT (hour) DO UPDATE SET count = count + excluded.count',
    );
    const addConversation = db.prepare(ADD_CONVERSATION).pluck();
    const addTotals = db.prepare(
      'UPDATE totals SET messages = messages + ?, senders = senders + ?, conversations = conversations + ? WHERE id = 1',
    );
    const insertStatus = db.prepare(
      `INSERT INTO delivery_statuses (message_id, status, ts, ts_key, recipient_id, errors, created_at, event)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (message_id, status) DO NOTHING`,
    );
    // The feed: one event per row created, in the order of the transaction (see migrations 5
    // and 6). Positions are handed out here, before the row that names its event is inserted:
    // the next one is one past the largest ever used (AUTOINCREMENT keeps that in sqlite_sequence,
    // and inserting a larger position explicitly moves it on). This transaction is the only
    // writer, so no one else takes a position meanwhile.
    const lastPosition = db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)").pluck();
    const addEvent = db.prepare(
      'INSERT INTO events (position, type, message_id, status, dead_letter, received_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const insertDeadLetter = db.prepare(
      `INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, kind, item_hash) DO NOTHING`,
    );
    this.#commit = db.transaction((parts: readonly WritePart[]) => {
      const created: IncomingMessage[] = [];
      let position = Number(lastPosition.get()) + 1;
      // Parts in the order they came: a message_id or (message_id, status) pair that several of
      // them carry is created by the first, exactly as if they had been committed one by one.
      const outcomes = parts.map((part): DeliveryOutcome => {
        const messages = part.messages.map((m): InsertOutcome => {
          const folded = m.text === null ? null : foldCase(m.text);
          const o = m.origin;
          const info = insert.run(
            m.messageId,
            m.from,
            m.to,
            m.ts,
            m.tsKey,
            m.text,
            folded,
            m.type ?? null,
            part.createdAt,
            o?.source ?? null,
            rawToStore(m),
            o?.contactName ?? null,
            o?.replyTo ?? null,
            o?.phoneNumberId ?? null,
            position,
          );
          if (info.changes === 0) return 'duplicate';
          created.push(m);
          addEvent.run(position++, 'message.created', m.messageId, null, null, part.createdAt);
          return 'created';
        });
        const statuses = part.statuses.map((s): InsertOutcome => {
          const info = insertStatus.run(s.messageId, s.status, s.ts, s.tsKey, s.recipientId, s.errors, part.createdAt, position);
          if (info.changes === 0) return 'duplicate';
          addEvent.run(position++, 'status.created', s.messageId, s.status, null, part.createdAt);
          return 'created';
        });
        const deadLetters = part.deadLetters.map((d): InsertOutcome => {
          const info = insertDeadLetter.run(
            part.createdAt,
            part.source,
            d.kind,
            d.reason,
            d.item,
            deadLetterHash(d.item),
            d.itemId,
            position,
          );
          if (info.changes === 0) return 'duplicate';
          addEvent.run(position++, 'dead_letter.created', null, null, info.lastInsertRowid, part.createdAt);
          return 'created';
        });
        return { messages, statuses, deadLetters };
      });
      // Aggregates in the same transaction, one upsert per distinct key of the batch.
      if (created.length > 0) {
        const deltas = aggregateDeltas(created);
        let newSenders = 0;
        for (const [sender, count] of deltas.perSender) {
          if (addSender.get(sender, count) === count) newSenders++;
        }
        for (const [recipient, count] of deltas.perRecipient) addRecipient.run(recipient, count);
        for (const [type, count] of deltas.perType) addType.run(type, count);
        for (const [hour, count] of deltas.perHour) addHour.run(hour, count);
        let newConversations = 0;
        for (const c of deltas.conversations) {
          if (addConversation.get(conversationParams(c)) === c.count) newConversations++;
        }
        addTotals.run(created.length, newSenders, newConversations);
      }
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
