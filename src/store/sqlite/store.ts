// The SQLite MessageStore: one file, WAL journal with synchronous=FULL so that a commit has
// reached the disk before insertMany or storeDelivery resolves. Writes (imports, erasures and
// retention batches included) run inline or on a writer thread, reads (exports included) inline or
// on reader threads (the server uses both threads), so neither disk syncs nor slow queries block HTTP.

import type Database from 'better-sqlite3';
import { isStorableId, messagesOnly } from '../delivery-rows.js';
import type { ExportChunk, ExportFormat } from '../export-format.js';
import { type ImportSequence, ImportSequences } from '../import-sequence.js';
import { NOTHING_REMOVED, removalCounts, storedInstant } from '../retention.js';
import {
  type BucketCount,
  type ConversationFilter,
  type ConversationPage,
  type ConversationPosition,
  DEFAULT_READ_TIMEOUT_MS,
  type DeadLetterPage,
  type Delivery,
  type DeliveryOutcome,
  type FeedEvent,
  type FeedHead,
  type FeedJson,
  type FeedQuery,
  foldCase,
  type ImportedMessage,
  type IncomingMessage,
  type InsertOutcome,
  type MessageDetail,
  type MessageFilter,
  type MessagePage,
  type MessageStore,
  type Page,
  type Position,
  type PurgeBatch,
  type Removal,
  type Stats,
  type StoredMessage,
  type TimeseriesQuery,
} from '../store.js';
import { checkpointOptions, RemovalCheckpoint } from './checkpoint.js';
import { BULK_WRITER_AUTOCHECKPOINT_PAGES, BULK_WRITER_CACHE_KIB, OpenedFiles, openConnection } from './connection.js';
import { SQLITE_SCHEMA_VERSION } from './migrations.js';
import { SqliteReaderPool } from './reader-pool.js';
import { type ReadAnswers, type ReadKind, type ReadRequest, SqliteReads, ThreadReads, toFeedEvents } from './reads.js';
import { messagesPart, type RemovalRequest, SqliteWriter, type WritePart } from './writer.js';
import { SqliteWriterThread } from './writer-thread.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:' (tests only: nothing is durable; no writer thread, reads inline). */
  readonly path: string;
  /** Clock for created_at; tests may pin it. */
  readonly now?: () => Date;
  /**
   * Commit on a writer thread instead of the calling thread. The URL is the compiled
   * sqlite/writer.worker.js (see defaultWriterUrl). Omitted: writes run inline.
   */
  readonly writerThread?: URL;
  /** Reader threads (READ_WORKERS). Omitted or 0: reads run on the calling thread. */
  readonly readWorkers?: number;
  /** The compiled sqlite/reader.worker.js; defaultReaderUrl when omitted. */
  readonly readerThread?: URL;
  /**
   * The longest a read may run on a reader thread before it is stopped (QueryTimeout), and the
   * longest it may wait for one (ReadersBusy). A read on the calling thread cannot be stopped.
   */
  readonly readTimeoutMs?: number;
  /** Reads that may wait for a reader thread; one more is refused at once (ReadersBusy). */
  readonly maxWaitingReads?: number;
  /**
   * How long after a removal (an erasure, a retention batch) the log is checkpointed and cut, so
   * that what was removed is gone from the files; see RemovalCheckpoint. 5 seconds when omitted.
   */
  readonly checkpointDelayMs?: number;
  /** The least time between two such checkpoints; 20 seconds when omitted. */
  readonly checkpointSpacingMs?: number;
  /**
   * The store is for a bulk load (`webhook-inbox import`): the writer thread's connection keeps a
   * large page cache (BULK_WRITER_CACHE_KIB) rather than the 2 MiB that suits small commits, and
   * checkpoints its log ten times less often (BULK_WRITER_AUTOCHECKPOINT_PAGES).
   */
  readonly bulkLoad?: boolean;
}

/** The writer thread's entry point next to this module, as compiled into dist/. */
export const defaultWriterUrl = new URL('./writer.worker.js', import.meta.url);
/** The reader threads' entry point next to this module, as compiled into dist/. */
export const defaultReaderUrl = new URL('./reader.worker.js', import.meta.url);

/** Enough to absorb a burst of reads; beyond it a read waits longer than it is worth. */
const DEFAULT_MAX_WAITING_READS = 64;

export class SqliteStore implements MessageStore {
  readonly #db: Database.Database;
  /** The files opened at the path; null for ':memory:'. */
  readonly #files: OpenedFiles | null;
  readonly #now: () => Date;
  readonly #thread: SqliteWriterThread | null;
  /**
   * Commits a part (a batch, a delivery or an import): inline on this thread, or on the writer
   * thread. `sequence`: an import's ImportSequence id (see importMessages).
   */
  readonly #commit: (part: WritePart, sequence?: number) => DeliveryOutcome | Promise<DeliveryOutcome>;
  readonly #sequences = new ImportSequences();
  /** Runs a removal: inline on this thread, or on the writer thread (which checkpoints after it). */
  readonly #remove: (removal: RemovalRequest) => PurgeBatch | Promise<PurgeBatch>;
  /** Inline writes only: the checkpoint after removals, which the writer thread runs otherwise. */
  readonly #checkpoint: RemovalCheckpoint | null;
  /** Reader threads, or null when reads run here, on #reads. */
  readonly #readers: SqliteReaderPool | null;
  /** Reads on this thread: all of them without reader threads, the index lookups with them. */
  readonly #reads: ThreadReads;
  readonly #readTimeoutMs: number;
  #closed = false;

  /** The writer thread merges batches that queue up during a commit, so they need not wait here. */
  get concurrentWrites(): number {
    return this.#thread === null ? 1 : 64;
  }

  /**
   * With the writer thread, webhooks go to it 16 at a time as they are parsed: the thread starts
   * a commit with the first of them while the event loop still parses the rest (and merges what
   * queued meanwhile into the next). Handed over only at the end of the event loop's turn, the
   * rows of all 50 connections of the ingest benchmark arrived in one lump: the thread waited for
   * the whole turn, then the event loop for the whole commit, and the thread was idle 28% of the
   * time. 16 did best of 8, 16 and 32 there (docs/performance.md).
   */
  get handOffRows(): number | undefined {
    return this.#thread === null ? undefined : 16;
  }

  /** Opens the file, migrating it, and starts the writer thread (with writerThread) and the reader threads. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    try {
      await Promise.all([store.#thread?.start(), store.#readers?.start()]);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Threads not started here start with the first write or read that needs them. */
  constructor(options: SqliteStoreOptions) {
    this.#db = openConnection(options.path);
    const files = options.path === ':memory:' ? null : OpenedFiles.of(options.path);
    this.#files = files;
    this.#now = options.now ?? (() => new Date());
    const checkpointSettings = {
      ...(options.checkpointDelayMs === undefined ? {} : { checkpointDelayMs: options.checkpointDelayMs }),
      ...(options.checkpointSpacingMs === undefined ? {} : { checkpointSpacingMs: options.checkpointSpacingMs }),
      ...(options.bulkLoad === true
        ? { cacheKiB: BULK_WRITER_CACHE_KIB, autocheckpointPages: BULK_WRITER_AUTOCHECKPOINT_PAGES }
        : {}),
    };
    const thread =
      options.writerThread && files !== null ? new SqliteWriterThread(files, options.writerThread, checkpointSettings) : null;
    this.#thread = thread;
    if (thread !== null) {
      this.#commit = (part, sequence) => thread.commit(part, sequence);
      this.#remove = (removal) => thread.remove(removal);
      this.#checkpoint = null;
    } else {
      const inline = new SqliteWriter(this.#db, files);
      const checkpoint = new RemovalCheckpoint(this.#db, checkpointOptions(options));
      this.#checkpoint = checkpoint;
      this.#remove = (removal) => {
        const started = performance.now();
        const removed = inline.remove(removal);
        if (removed.messages + removed.statuses + removed.deadLetters > 0) checkpoint.removed();
        return { ...removed, writerMs: performance.now() - started };
      };
      this.#commit = (part) => {
        const [outcome] = inline.commit([part]);
        // No thread to index in the background: index now, so that searches never scan.
        inline.indexText(Number.MAX_SAFE_INTEGER);
        if (outcome === undefined) throw new Error('the writer returned no outcome');
        return outcome;
      };
    }
    const readWorkers = options.readWorkers ?? 0;
    // A ':memory:' database exists only on this connection: no other thread could read it.
    this.#readers =
      readWorkers > 0 && options.path !== ':memory:'
        ? new SqliteReaderPool({
            file: options.path,
            workerUrl: options.readerThread ?? defaultReaderUrl,
            size: readWorkers,
            maxWaiting: options.maxWaitingReads ?? DEFAULT_MAX_WAITING_READS,
          })
        : null;
    // Exports here (no reader threads) read on a connection of their own too, with a small page cache.
    const file = options.path;
    this.#reads = new ThreadReads(
      new SqliteReads(this.#db),
      file === ':memory:' ? null : () => openConnection(file, 'export', { mustExist: true }),
    );
    this.#readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  }

  async insertMany(messages: readonly IncomingMessage[]): Promise<InsertOutcome[]> {
    return (await this.storeDelivery(messagesOnly(messages))).messages;
  }

  async storeDelivery(delivery: Delivery): Promise<DeliveryOutcome> {
    if (this.#closed) throw new Error('the store is closed');
    if (delivery.messages.length === 0 && delivery.statuses.length === 0 && delivery.deadLetters.length === 0) {
      return { messages: [], statuses: [], deadLetters: [] };
    }
    return this.#commit({ ...delivery, createdAt: this.#now().toISOString() });
  }

  /**
   * On a reader thread when there are some; otherwise here, where nothing can stop a slow read:
   * it holds the event loop until it ends.
   */
  async #read<K extends ReadKind>(read: ReadRequest<K>): Promise<ReadAnswers[K]> {
    if (this.#closed) throw new Error('the store is closed');
    return this.#readers === null ? this.#reads.answer(read) : this.#readers.run(read, this.#readTimeoutMs);
  }

  listMessages(filter: MessageFilter, page: Page): Promise<MessagePage> {
    return this.#read({ kind: 'messages', filter, page });
  }

  listConversations(
    filter: ConversationFilter,
    page: { readonly limit: number; readonly after?: ConversationPosition },
  ): Promise<ConversationPage> {
    return this.#read({ kind: 'conversations', filter, page });
  }

  timeseries(query: TimeseriesQuery): Promise<BucketCount[]> {
    return this.#read({ kind: 'timeseries', query });
  }

  /**
   * A message and /stats are answered here, on the calling thread, even with reader threads: each
   * is a few index lookups (a primary key; the aggregate tables and the two ends of the time
   * index), microseconds whatever the size of the store, and on a busy pool they would otherwise
   * wait behind the scans.
   */
  async getMessage(messageId: string): Promise<MessageDetail | null> {
    if (this.#closed) throw new Error('the store is closed');
    return this.#reads.answer({ kind: 'message', messageId });
  }

  /** The rows are read (on a reader thread when there are some) as JSON texts, and made events here. */
  async readFeed(query: FeedQuery): Promise<FeedEvent[]> {
    return toFeedEvents(await this.#read({ kind: 'feed', query }));
  }

  /** Written by SQLite, on a reader thread when there are some: one string crosses, nothing is parsed. */
  readFeedJson(query: FeedQuery): Promise<FeedJson> {
    return this.#read({ kind: 'feedJson', query });
  }

  /** Here: one lookup at the end of an index. */
  async feedHead(): Promise<FeedHead> {
    if (this.#closed) throw new Error('the store is closed');
    return this.#reads.answer({ kind: 'feedHead' });
  }

  listDeadLetters(page: { readonly limit: number; readonly offset: number }): Promise<DeadLetterPage> {
    return this.#read({ kind: 'deadLetters', page });
  }

  /** Here, not on a reader thread: see getMessage. */
  async stats(topSenders: number): Promise<Stats> {
    if (this.#closed) throw new Error('the store is closed');
    return this.#reads.answer({ kind: 'stats', topSenders });
  }

  exportMessages(filter: MessageFilter, page: { readonly after?: Position; readonly limit: number }): Promise<StoredMessage[]> {
    return this.#read({ kind: 'export', filter, page });
  }

  /** Read and formatted on a reader thread when there are some, from which only the bytes come back. */
  async exportChunk(
    filter: MessageFilter,
    page: { readonly after?: Position; readonly limit: number },
    format: ExportFormat,
    reuse?: ArrayBuffer,
  ): Promise<ExportChunk> {
    return this.#read({ kind: 'exportChunk', filter, page, format, ...(reuse !== undefined ? { reuse } : {}) });
  }

  /**
   * Through the writer like a batch (merged with what else is queued there), each message at its
   * own received_at. Its texts are folded here, which the writer would do otherwise: an import
   * keeps the writer busy, and this thread has time to spare meanwhile. With a writer thread, the
   * imports of a sequence keep their order there (requests are taken in the order posted), and
   * the thread refuses those that follow a failure, so the next import is posted at once; inline,
   * each waits for the one before it.
   */
  async importMessages(messages: readonly ImportedMessage[], sequence?: ImportSequence): Promise<InsertOutcome[]> {
    if (this.#closed) throw new Error('the store is closed');
    return this.#sequences.run(
      sequence,
      async () => {
        if (messages.length === 0) return [];
        const receivedAt = messages.map((m) => storedInstant(m.receivedAt, `receivedAt of ${m.messageId}`));
        // Only the IncomingMessage fields travel to the writer.
        const plain = messages.map(({ receivedAt: _, ...m }): IncomingMessage => m);
        const folded = messages.map((m) => (m.text === null ? null : foldCase(m.text)));
        const part: WritePart = { ...messagesPart(plain, this.#now().toISOString()), receivedAt, folded };
        return (await this.#commit(part, sequence?.id)).messages;
      },
      { ordered: this.#thread === null },
    );
  }

  async eraseMessage(messageId: string): Promise<Removal> {
    if (this.#closed) throw new Error('the store is closed');
    if (!isStorableId(messageId)) return NOTHING_REMOVED;
    return removalCounts(await this.#remove({ kind: 'message', messageId }));
  }

  async eraseConversation(filter: { readonly from: string; readonly to?: string }): Promise<Removal> {
    if (this.#closed) throw new Error('the store is closed');
    if (filter.from.includes('\0') || filter.to?.includes('\0')) return NOTHING_REMOVED;
    return removalCounts(
      await this.#remove({ kind: 'conversation', from: filter.from, ...(filter.to !== undefined ? { to: filter.to } : {}) }),
    );
  }

  async countPurge(before: string): Promise<Removal> {
    return this.#read({ kind: 'purgeCount', before: storedInstant(before, 'the retention cutoff') });
  }

  /** One batch through the writer, between the webhook commits queued there. */
  async purge(before: string, limit: number): Promise<PurgeBatch | null> {
    if (this.#closed) throw new Error('the store is closed');
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`a purge batch holds at least 1 row, not ${limit}`);
    return this.#remove({ kind: 'purge', before: storedInstant(before, 'the retention cutoff'), limit });
  }

  /** Here: three index lookups. */
  async oldestReceivedAt(): Promise<string | null> {
    if (this.#closed) throw new Error('the store is closed');
    return this.#reads.answer({ kind: 'oldestReceivedAt' });
  }

  async checkHealth(): Promise<void> {
    if (this.#closed) throw new Error('database is closed');
    // First: the queries below would still succeed on a deleted file, which is held open.
    this.#files?.check();
    if (this.#thread !== null && !this.#thread.running) {
      // A dead writer is restarted here (and by the next write); ready again once it is up.
      await this.#thread.start();
    }
    const version = this.#db.prepare('SELECT max(version) FROM schema_migrations').pluck().get();
    if (version !== SQLITE_SCHEMA_VERSION) {
      throw new Error(`schema version is ${String(version)}, expected ${SQLITE_SCHEMA_VERSION}`);
    }
    this.#db.prepare('SELECT 1 FROM messages LIMIT 1').get();
  }

  /** Waits for the reads in flight (each bounded by readTimeoutMs) and the queued writes, then stops the threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#readers?.close(), this.#thread?.close()]);
    this.#checkpoint?.close();
    this.#reads.close();
    this.#db.close();
  }
}
