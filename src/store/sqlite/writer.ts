// Writes into SQLite: each call is one transaction that inserts the new rows and the aggregates
// together; a provider delivery adds its statuses and dead letters to the same transaction, which
// is refused if the database file was deleted or replaced meanwhile. The trigram index of the text
// is built afterwards, in chunks (indexText). Erasures and retention batches remove rows, their
// events, their text from the index and their share of every aggregate in one transaction
// (remove). Used on the main thread or inside the writer thread (writer.worker.ts).

import type Database from 'better-sqlite3';
import type { ConversationDelta, RemovedMessage } from '../aggregates.js';
import { aggregateDeltas, removalDeltas } from '../aggregates.js';
import { deadLetterHash, messagesOnly, rawToStore } from '../delivery-rows.js';
import { NOTHING_REMOVED, type PurgeCandidate, purgeBatch } from '../retention.js';
import {
  type Delivery,
  type DeliveryOutcome,
  foldCase,
  type IncomingMessage,
  type InsertOutcome,
  type Removal,
} from '../store.js';
import type { OpenedFiles } from './connection.js';
import { leadingSendersTable } from './leading-senders.js';

/**
 * One caller's share of a transaction: an insertMany batch (no statuses, no dead letters) or a
 * provider delivery, with the server time of the call.
 */
export interface WritePart extends Delivery {
  /** received_at of its messages and dead letters, created_at of its statuses. */
  readonly createdAt: string;
  /**
   * An import: the received_at of each message, by position, kept instead of createdAt (their
   * feed events take it too).
   */
  readonly receivedAt?: readonly string[];
  /** An import: each message's text folded (foldCase), by position, made by the caller. */
  readonly folded?: readonly (string | null)[];
}

/** What one removal transaction takes away (see MessageStore's eraseMessage, eraseConversation and purge). */
export type RemovalRequest =
  | { readonly kind: 'message'; readonly messageId: string }
  | { readonly kind: 'conversation'; readonly from: string; readonly to?: string }
  /** `before`: an instant as storedInstant writes it. */
  | { readonly kind: 'purge'; readonly before: string; readonly limit: number };

/** A message row as a removal reads it: what the aggregates, the text index and the feed need. */
interface RemovedRow {
  id: number;
  message_id: string;
  from_number: string;
  to_number: string;
  ts_key: string;
  type: string | null;
  text_folded: string | null;
  event: number | null;
}

const REMOVED_COLUMNS = 'id, message_id, from_number, to_number, ts_key, type, text_folded, event';

function removedMessage(row: RemovedRow): RemovedMessage {
  return { messageId: row.message_id, from: row.from_number, to: row.to_number, tsKey: row.ts_key, type: row.type };
}

/**
 * The oldest rows received before @before, at most @limit of them, oldest first, ties messages,
 * statuses, dead letters, then by key (message_id; message_id and status; id). Each table is
 * entered by its arrival index (migration 7). A message is named by its rowid.
 */
export const PURGE_CANDIDATES = `
  SELECT kind, key, status FROM (
    SELECT 0 AS kind, id AS key, NULL AS status, received_at AS at, message_id AS tie
      FROM (SELECT id, message_id, received_at FROM messages WHERE received_at < @before
            ORDER BY received_at, message_id LIMIT @limit)
    UNION ALL
    SELECT 1, message_id, status, created_at, message_id
      FROM (SELECT message_id, status, created_at FROM delivery_statuses WHERE created_at < @before
            ORDER BY created_at, message_id, status LIMIT @limit)
    UNION ALL
    SELECT 2, id, NULL, received_at, id
      FROM (SELECT id, received_at FROM dead_letters WHERE received_at < @before ORDER BY received_at, id LIMIT @limit)
  ) ORDER BY at, kind, tie, status LIMIT @limit`;

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
 * was. Answers the conversation's last instant after it.
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
  RETURNING last_ts_key`;

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

/**
 * The conversations' order by their last instant (migration 9): an entry added where a
 * conversation's last instant moves to, the one it leaves listed as stale in the same transaction
 * and deleted by the sweep, which runs with the text index's chunks.
 */
function conversationOrder(db: Database.Database) {
  const addEntry = db.prepare('INSERT OR IGNORE INTO conversation_order (last_ts_key, from_number, to_number) VALUES (?, ?, ?)');
  const addRecipientEntry = db.prepare(
    'INSERT OR IGNORE INTO conversation_order_by_recipient (to_number, last_ts_key, from_number) VALUES (?, ?, ?)',
  );
  const deleteEntry = db.prepare('DELETE FROM conversation_order WHERE last_ts_key = ? AND from_number = ? AND to_number = ?');
  const deleteRecipientEntry = db.prepare(
    'DELETE FROM conversation_order_by_recipient WHERE to_number = ? AND last_ts_key = ? AND from_number = ?',
  );
  const listStale = db.prepare('INSERT INTO conversation_order_stale (last_ts_key, from_number, to_number) VALUES (?, ?, ?)');
  const listedStale = db.prepare('SELECT last_ts_key, from_number, to_number FROM conversation_order_stale').raw();
  const current = db.prepare('SELECT 1 FROM conversations WHERE from_number = ? AND to_number = ? AND last_ts_key = ?').pluck();
  const forgetStale = db.prepare('DELETE FROM conversation_order_stale');
  return {
    /** Enters (last instant, from, to), unless it is there already. */
    add(lastKey: string, from: string, to: string): void {
      addEntry.run(lastKey, from, to);
      addRecipientEntry.run(to, lastKey, from);
    },
    /** Lists the entry a conversation has left, for the sweep; readers skip it from now on. */
    leave(lastKey: string, from: string, to: string): void {
      listStale.run(lastKey, from, to);
    },
    /** Deletes an entry at once (removals, which are rare, do). */
    remove(lastKey: string, from: string, to: string): void {
      deleteEntry.run(lastKey, from, to);
      deleteRecipientEntry.run(to, lastKey, from);
    },
    /**
     * Deletes every listed entry that is still stale (a conversation may have come back to an
     * instant it had left, through an erasure) and empties the list. Answers how many it listed.
     */
    sweep(): number {
      const listed = listedStale.all() as [string, string, string][];
      for (const [lastKey, from, to] of listed) {
        if (current.get(from, to, lastKey) === undefined) {
          deleteEntry.run(lastKey, from, to);
          deleteRecipientEntry.run(to, lastKey, from);
        }
      }
      if (listed.length > 0) forgetStale.run();
      return listed.length;
    },
  };
}

type ConversationOrder = ReturnType<typeof conversationOrder>;

export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #commit: (parts: readonly WritePart[]) => DeliveryOutcome[];
  /** Indexes one chunk; returns how many rows it covered and how many are left. */
  readonly #indexChunk: (limit: number) => { covered: number; left: number };
  /** Rows stored but not yet in the trigram index. */
  #unindexed: number;
  /** Rows stored but not yet in the trigram index, counted again. */
  readonly #countUnindexed: () => number;
  readonly #remove: (request: RemovalRequest) => Removal;

  /**
   * `files`: what the connection opened; every commit checks, just before it commits, that the
   * path still names them (see OpenedFiles). Null for ':memory:' and for tests of the SQL alone.
   */
  constructor(db: Database.Database, files: OpenedFiles | null = null) {
    this.#db = db;
    // Deleted rows and freed pages are overwritten with zeros, so an erased text leaves no copy
    // in the pages this connection changes (the log's older frames go at the checkpoint that
    // follows removals; see checkpoint.ts).
    db.pragma('secure_delete = ON');
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
      `INSERT INTO recipient_counts (recipient, count, conversations) VALUES (?, ?, ?)
       ON CONFLICT (recipient) DO UPDATE SET count = count + excluded.count,
                                              conversations = conversations + excluded.conversations`,
    );
    const addType = db.prepare(
      'INSERT INTO type_counts (type, count) VALUES (?, ?) ON CONFLICT (type) DO UPDATE SET count = count + excluded.count',
    );
    const addHour = db.prepare(
      'INSERT INTO hour_counts (hour, count) VALUES (?, ?) ON CONFLICT (hour) DO UPDATE SET count = count + excluded.count',
    );
    const lastOfConversation = db
      .prepare('SELECT last_ts_key FROM conversations WHERE from_number = ? AND to_number = ?')
      .pluck();
    const addConversation = db.prepare(ADD_CONVERSATION).pluck();
    const order = conversationOrder(db);
    const leading = leadingSendersTable(db);
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
      'INSERT INTO events (position, type, message_id, status, dead_letter, message_row, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    // The events of the messages a transaction created, in one statement at its end rather than
    // one call per message: they are the rows from the first one it created on (a new row's id is
    // one more than the largest there is), each naming its event's position already.
    const addMessageEvents = db.prepare(
      `INSERT INTO events (position, type, message_id, status, dead_letter, message_row, received_at)
       SELECT event, 'message.created', message_id, NULL, NULL, id, received_at FROM messages WHERE id >= ? ORDER BY id`,
    );
    const insertDeadLetter = db.prepare(
      `INSERT INTO dead_letters (received_at, source, kind, reason, item, item_hash, item_id, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, kind, item_hash) DO NOTHING`,
    );
    this.#commit = db.transaction((parts: readonly WritePart[]) => {
      const created: IncomingMessage[] = [];
      /** The rowid of the first message created, from which every one created follows. */
      let firstCreatedRow: number | bigint | null = null;
      let position = Number(lastPosition.get()) + 1;
      // Parts in the order they came: a message_id or (message_id, status) pair that several of
      // them carry is created by the first, exactly as if they had been committed one by one.
      const outcomes = parts.map((part): DeliveryOutcome => {
        const messages = part.messages.map((m, i): InsertOutcome => {
          const folded = part.folded === undefined ? (m.text === null ? null : foldCase(m.text)) : (part.folded[i] ?? null);
          const receivedAt = part.receivedAt?.[i] ?? part.createdAt;
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
            receivedAt,
            o?.source ?? null,
            rawToStore(m),
            o?.contactName ?? null,
            o?.replyTo ?? null,
            o?.phoneNumberId ?? null,
            position,
          );
          if (info.changes === 0) return 'duplicate';
          created.push(m);
          firstCreatedRow ??= info.lastInsertRowid;
          // Its event, which names the message's rowid (the feed reads it by that; migration 8),
          // is added with the others below.
          position++;
          return 'created';
        });
        const statuses = part.statuses.map((s): InsertOutcome => {
          const info = insertStatus.run(s.messageId, s.status, s.ts, s.tsKey, s.recipientId, s.errors, part.createdAt, position);
          if (info.changes === 0) return 'duplicate';
          addEvent.run(position++, 'status.created', s.messageId, s.status, null, null, part.createdAt);
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
          addEvent.run(position++, 'dead_letter.created', null, null, info.lastInsertRowid, null, part.createdAt);
          return 'created';
        });
        return { messages, statuses, deadLetters };
      });
      // Aggregates in the same transaction, one upsert per distinct key of the batch.
      if (created.length > 0) {
        const deltas = aggregateDeltas(created);
        let newSenders = 0;
        const leaders = leading.load();
        for (const [sender, count] of deltas.perSender) {
          const total = addSender.get(sender, count) as number;
          if (total === count) newSenders++;
          leaders.grew(sender, total);
        }
        leading.save(leaders);
        let newConversations = 0;
        const newOfRecipient = new Map<string, number>();
        for (const c of deltas.conversations) {
          const before = lastOfConversation.get(c.from, c.to) as string | undefined;
          const after = addConversation.get(conversationParams(c)) as string;
          if (before === undefined) {
            newConversations++;
            newOfRecipient.set(c.to, (newOfRecipient.get(c.to) ?? 0) + 1);
          }
          // The conversation's place in the order moves only when its last instant does. The old
          // entry is left for the sweep (see indexText); readers skip it from now on.
          if (after !== before) {
            if (before !== undefined) order.leave(before, c.from, c.to);
            order.add(after, c.from, c.to);
          }
        }
        for (const [recipient, count] of deltas.perRecipient) {
          addRecipient.run(recipient, count, newOfRecipient.get(recipient) ?? 0);
        }
        for (const [type, count] of deltas.perType) addType.run(type, count);
        for (const [hour, count] of deltas.perHour) addHour.run(hour, count);
        addTotals.run(created.length, newSenders, newConversations);
        addMessageEvents.run(firstCreatedRow);
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
      order.sweep();
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
    this.#countUnindexed = () => Number(lastId.get()) - Number(progress.get());
    this.#unindexed = this.#countUnindexed();
    this.#remove = this.#removal(files, order, leading);
  }

  /** Prepares the statements of removals; answers the function that runs one in a transaction. */
  #removal(
    files: OpenedFiles | null,
    order: ConversationOrder,
    leading: ReturnType<typeof leadingSendersTable>,
  ): (request: RemovalRequest) => Removal {
    const db = this.#db;
    const messageById = db.prepare(`SELECT ${REMOVED_COLUMNS} FROM messages WHERE message_id = ?`);
    const messageByRow = db.prepare(`SELECT ${REMOVED_COLUMNS} FROM messages WHERE id = ?`);
    const messagesOfSender = db.prepare(`SELECT ${REMOVED_COLUMNS} FROM messages WHERE from_number = ?`);
    const messagesOfPair = db.prepare(`SELECT ${REMOVED_COLUMNS} FROM messages WHERE from_number = ? AND to_number = ?`);
    const candidates = db.prepare(PURGE_CANDIDATES).raw();
    const statusesOf = db.prepare('SELECT status FROM delivery_statuses WHERE message_id = ?').pluck();

    const deleteMessage = db.prepare('DELETE FROM messages WHERE id = ?');
    const deleteStatusesOf = db.prepare('DELETE FROM delivery_statuses WHERE message_id = ? RETURNING event').pluck();
    const deleteStatus = db.prepare('DELETE FROM delivery_statuses WHERE message_id = ? AND status = ? RETURNING event').pluck();
    const deleteDeadLetter = db.prepare('DELETE FROM dead_letters WHERE id = ? RETURNING event').pluck();
    const deleteEvent = db.prepare('DELETE FROM events WHERE position = ?');
    const indexedUpto = db.prepare('SELECT indexed_upto FROM text_index_progress WHERE id = 1').pluck();
    // An external-content FTS5 table forgets a row only when told the very values it indexed.
    const unindexText = db.prepare(
      "INSERT INTO messages_trigrams (messages_trigrams, rowid, text_folded) VALUES ('delete', ?, ?)",
    );
    // A new message takes the id after the largest kept: once the largest ones are removed, that
    // may be an id the index has passed already, so its progress comes back to the largest kept.
    const clampProgress = db.prepare(
      `UPDATE text_index_progress SET indexed_upto = (SELECT coalesce(max(id), 0) FROM messages)
       WHERE id = 1 AND indexed_upto > (SELECT coalesce(max(id), 0) FROM messages)`,
    );

    // Aggregates: UPDATE, never an upsert, so a removal only ever lowers a row that is there. A
    // count that reaches 0 takes its row away.
    const subtract = (table: string, key: string) => ({
      sub: db.prepare(`UPDATE ${table} SET count = count - ? WHERE ${key} = ? RETURNING count`).pluck(),
      drop: db.prepare(`DELETE FROM ${table} WHERE ${key} = ?`),
    });
    const counts = {
      sender: subtract('sender_counts', 'sender'),
      recipient: subtract('recipient_counts', 'recipient'),
      type: subtract('type_counts', 'type'),
      hour: subtract('hour_counts', 'hour'),
    };
    const subConversation = db.prepare(
      `UPDATE conversations SET messages = messages - ? WHERE from_number = ? AND to_number = ?
       RETURNING messages, first_message_id, last_message_id, contact_message_id, last_ts_key`,
    );
    const dropConversation = db.prepare('DELETE FROM conversations WHERE from_number = ? AND to_number = ?');
    const lessRecipientConversations = db.prepare(
      'UPDATE recipient_counts SET conversations = conversations - 1 WHERE recipient = ?',
    );
    // A conversation's first, last or contact message, taken again from the messages it has left,
    // through the sender's index in instant order (a sender writes to few recipients, so the first
    // of the pair is near the start of the sender's part). Named, because without statistics
    // SQLite takes the recipient's index for `to_number = ?` as readily, and a business number
    // receives a large share of all messages: walking its part made each lookup scan tens of
    // thousands of rows, and a retention batch of 500 messages take seconds.
    const pair = 'from_number = @from AND to_number = @to';
    const refreshFirst = db.prepare(
      `UPDATE conversations SET (first_ts_key, first_message_id, first_ts) =
         (SELECT ts_key, message_id, ts FROM messages INDEXED BY messages_by_sender WHERE ${pair}
          ORDER BY ts_key, message_id LIMIT 1)
       WHERE ${pair}`,
    );
    const refreshLast = db
      .prepare(
        `UPDATE conversations SET (last_ts_key, last_message_id, last_ts, last_text, last_type) =
         (SELECT ts_key, message_id, ts, text, type FROM messages INDEXED BY messages_by_sender WHERE ${pair}
          ORDER BY ts_key DESC, message_id DESC LIMIT 1)
       WHERE ${pair}
       RETURNING last_ts_key`,
      )
      .pluck();
    const refreshContact = db.prepare(
      `UPDATE conversations SET (contact_name, contact_ts_key, contact_message_id) =
         (SELECT contact_name, ts_key, message_id FROM messages INDEXED BY messages_by_sender
          WHERE ${pair} AND contact_name IS NOT NULL ORDER BY ts_key DESC, message_id DESC LIMIT 1)
       WHERE ${pair}`,
    );
    const subTotals = db.prepare(
      'UPDATE totals SET messages = messages - ?, senders = senders - ?, conversations = conversations - ? WHERE id = 1',
    );

    const dropEvent = (position: unknown) => {
      if (position !== null && position !== undefined) deleteEvent.run(position);
    };

    /** Takes what the messages counted out of every aggregate. */
    const subtractAggregates = (removed: readonly RemovedMessage[]) => {
      const deltas = removalDeltas(removed);
      const lower = (
        which: keyof typeof counts,
        perKey: Map<string, number>,
        left?: (key: string, n: number) => void,
      ): number => {
        let gone = 0;
        for (const [key, n] of perKey) {
          const count = counts[which].sub.get(n, key);
          if (count === undefined) continue;
          left?.(key, Number(count));
          if (Number(count) === 0) {
            counts[which].drop.run(key);
            gone++;
          }
        }
        return gone;
      };
      const leaders = leading.load();
      const goneSenders = lower('sender', deltas.perSender, (sender, n) => leaders.shrank(sender, n));
      leading.save(leaders);
      // Members the removal lowered behind the bound no longer tell the first ten apart.
      if (!leaders.holds()) leading.rank();
      lower('recipient', deltas.perRecipient);
      lower('type', deltas.perType);
      lower('hour', deltas.perHour);
      let goneConversations = 0;
      for (const c of deltas.conversations) {
        const left = subConversation.get(c.count, c.from, c.to) as
          | {
              messages: number;
              first_message_id: string;
              last_message_id: string;
              contact_message_id: string | null;
              last_ts_key: string;
            }
          | undefined;
        if (left === undefined) continue;
        if (left.messages === 0) {
          dropConversation.run(c.from, c.to);
          order.remove(left.last_ts_key, c.from, c.to);
          // Unless the recipient's row went already, with its last message (lower, above).
          lessRecipientConversations.run(c.to);
          goneConversations++;
          continue;
        }
        const params = { from: c.from, to: c.to };
        if (c.messageIds.has(left.first_message_id)) refreshFirst.run(params);
        if (c.messageIds.has(left.last_message_id)) {
          const lastKey = refreshLast.get(params) as string;
          if (lastKey !== left.last_ts_key) {
            order.remove(left.last_ts_key, c.from, c.to);
            order.add(lastKey, c.from, c.to);
          }
        }
        if (left.contact_message_id !== null && c.messageIds.has(left.contact_message_id)) refreshContact.run(params);
      }
      subTotals.run(removed.length, goneSenders, goneConversations);
    };

    /**
     * Removes the messages with every status of their ids, every status of `wholeIds` (ids that
     * may have no message), the statuses `pairs` name and the dead letters, each with its event.
     */
    const removeRows = (
      rows: readonly RemovedRow[],
      wholeIds: readonly string[],
      pairs: readonly (readonly [string, string])[],
      deadLetterIds: readonly number[],
    ): Removal => {
      const indexed = Number(indexedUpto.get());
      for (const row of rows) {
        if (row.text_folded !== null && row.id <= indexed) unindexText.run(row.id, row.text_folded);
        deleteMessage.run(row.id);
        dropEvent(row.event);
      }
      let statuses = 0;
      for (const id of new Set([...rows.map((r) => r.message_id), ...wholeIds])) {
        for (const event of deleteStatusesOf.all(id)) {
          statuses++;
          dropEvent(event);
        }
      }
      for (const [id, status] of pairs) {
        for (const event of deleteStatus.all(id, status)) {
          statuses++;
          dropEvent(event);
        }
      }
      let deadLetters = 0;
      for (const id of deadLetterIds) {
        for (const event of deleteDeadLetter.all(id)) {
          deadLetters++;
          dropEvent(event);
        }
      }
      if (rows.length > 0) {
        subtractAggregates(rows.map(removedMessage));
        clampProgress.run();
      }
      // As in a commit: nothing is removed from a file that is gone from its path.
      files?.check();
      return { messages: rows.length, statuses, deadLetters };
    };

    const purge = (before: string, limit: number): Removal => {
      const listed = candidates.all({ before, limit }) as [number, string | number, string | null][];
      const rowsById = new Map<string, RemovedRow>();
      const oldest = listed.flatMap(([kind, key, status]): PurgeCandidate[] => {
        if (kind === 0) {
          const row = messageByRow.get(key) as RemovedRow | undefined;
          if (row === undefined) return [];
          rowsById.set(row.message_id, row);
          return [{ kind: 'message', messageId: row.message_id, statuses: statusesOf.all(row.message_id) as string[] }];
        }
        if (kind === 1) return [{ kind: 'status', messageId: String(key), status: String(status) }];
        return [{ kind: 'deadLetter', id: Number(key) }];
      });
      const batch = purgeBatch(oldest, limit);
      const rows = batch.messages.flatMap((id) => rowsById.get(id) ?? []);
      return removeRows(rows, [], batch.statuses, batch.deadLetters);
    };

    return this.#db.transaction((request: RemovalRequest): Removal => {
      switch (request.kind) {
        case 'message': {
          const row = messageById.get(request.messageId) as RemovedRow | undefined;
          return removeRows(row === undefined ? [] : [row], [request.messageId], [], []);
        }
        case 'conversation': {
          const rows = (
            request.to === undefined ? messagesOfSender.all(request.from) : messagesOfPair.all(request.from, request.to)
          ) as RemovedRow[];
          return rows.length === 0 ? NOTHING_REMOVED : removeRows(rows, [], [], []);
        }
        case 'purge':
          return purge(request.before, request.limit);
      }
    });
  }

  /**
   * Removes what the request names in one transaction (see RemovalRequest) and returns what it
   * removed once committed. Throws, having removed nothing, when the database fails.
   */
  remove(request: RemovalRequest): Removal {
    const removal = this.#remove(request);
    if (removal.messages > 0) this.#unindexed = this.#countUnindexed();
    return removal;
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
   * returns how many it covered. The same transaction deletes the entries of the conversations'
   * order that their conversations have left since the previous one (see conversationOrder): no
   * more than the messages stored meanwhile, and many of them on the same pages. Written in chunks like this, a row costs the index a fraction of
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
