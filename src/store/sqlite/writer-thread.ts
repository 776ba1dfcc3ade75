// The main thread's side of the writer thread: posts batches, deliveries and removals, matches
// replies to callers, and starts a fresh thread if one dies (the requests it held are failed, never
// acknowledged), but never once the database files are gone from their path.

import { Worker } from 'node:worker_threads';
import { type DeliveryOutcome, type PurgeBatch, StoreUnavailable } from '../store.js';
import type { OpenedFiles } from './connection.js';
import type { RemovalRequest, WritePart } from './writer.js';
import type { WriterAnswer, WriterData, WriterReply, WriterRequest } from './writer-protocol.js';

/** A reply that is not an error, for the request whose id it carries. */
type Answer = Exclude<WriterAnswer, { error: string }>;

interface Waiting {
  readonly answer: (reply: Answer) => void;
  readonly reject: (error: Error) => void;
}

export class SqliteWriterThread {
  readonly #files: OpenedFiles;
  readonly #workerUrl: URL;
  readonly #settings: Pick<WriterData, 'checkpointDelayMs' | 'checkpointSpacingMs' | 'cacheKiB' | 'autocheckpointPages'>;
  #worker: Worker | null = null;
  #ready: Promise<void> | null = null;
  #lastError: Error | null = null;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #closed = false;

  /** `files`: what the main thread opened; the thread writes into those files or not at all. */
  constructor(
    files: OpenedFiles,
    workerUrl: URL,
    settings: Pick<WriterData, 'checkpointDelayMs' | 'checkpointSpacingMs' | 'cacheKiB' | 'autocheckpointPages'> = {},
  ) {
    this.#files = files;
    this.#workerUrl = workerUrl;
    this.#settings = settings;
  }

  /**
   * Starts the thread (if not running) and resolves once it has opened and migrated the database;
   * rejects with StoreUnavailable, starting nothing, once the path no longer names the files.
   */
  start(): Promise<void> {
    if (this.#worker !== null && this.#ready !== null) return this.#ready;
    try {
      this.#files.check();
    } catch (error) {
      return Promise.reject(error);
    }
    const workerData: WriterData = { ...this.#settings, file: this.#files.path, opened: this.#files.identities };
    const worker = new Worker(this.#workerUrl, { workerData });
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      const onReady = (reply: WriterReply) => {
        if (reply.type === 'ready') {
          worker.off('message', onReady);
          resolve();
        }
      };
      worker.on('message', onReady);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`writer thread exited with code ${code} before it was ready`)));
    });
    this.#ready.catch(() => {}); // observed by callers; never an unhandled rejection here
    worker.on('message', (reply: WriterReply) => {
      if (reply.type !== 'answers') return;
      for (const answer of reply.answers) {
        const waiting = this.#waiting.get(answer.id);
        if (waiting === undefined) continue;
        this.#waiting.delete(answer.id);
        if ('error' in answer) waiting.reject(answer.unavailable ? new StoreUnavailable(answer.error) : new Error(answer.error));
        else waiting.answer(answer);
      }
    });
    worker.on('error', (error) => {
      this.#lastError = error;
    });
    worker.on('exit', (code) => {
      if (this.#worker === worker) {
        this.#worker = null;
        this.#ready = null;
      }
      const error = this.#lastError ?? new Error(`writer thread exited with code ${code}`);
      for (const [id, waiting] of this.#waiting) {
        this.#waiting.delete(id);
        waiting.reject(error);
      }
    });
    return this.#ready;
  }

  /**
   * Commits the part on the thread (merged with whatever else is queued there); resolves once
   * committed. `sequence`: an import's ImportSequence id; the thread refuses it, unwritten, once
   * an earlier request of that sequence has failed.
   */
  async commit(part: WritePart, sequence?: number): Promise<DeliveryOutcome> {
    const reply = await this.#request((id) => ({ type: 'commit', id, part, ...(sequence === undefined ? {} : { sequence }) }));
    if (!('outcome' in reply)) throw new Error('the writer answered a commit with no outcome');
    return reply.outcome;
  }

  /**
   * Runs the removal on the thread, in a transaction of its own between commits; resolves once
   * committed, with how long that transaction ran there (writerMs).
   */
  async remove(removal: RemovalRequest): Promise<PurgeBatch> {
    const reply = await this.#request((id) => ({ type: 'remove', id, removal }));
    if (!('removed' in reply)) throw new Error('the writer answered a removal with no count of what it removed');
    return { ...reply.removed, writerMs: reply.writerMs };
  }

  /** Posts the request `make` builds with a fresh id; resolves with the thread's answer to it. */
  async #request(make: (id: number) => WriterRequest): Promise<Answer> {
    if (this.#closed) throw new Error('the store is closed');
    await this.start();
    const worker = this.#worker;
    if (worker === null) throw this.#lastError ?? new Error('writer thread is not running');
    const id = this.#nextId++;
    return new Promise<Answer>((resolve, reject) => {
      this.#waiting.set(id, { answer: resolve, reject });
      try {
        worker.postMessage(make(id));
      } catch (error) {
        // Not posted (a value the structured clone refuses): nothing will answer it.
        this.#waiting.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** True while the thread runs; a dead thread is restarted by the next write. */
  get running(): boolean {
    return this.#worker !== null;
  }

  /** Lets queued requests finish, then stops the thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' } satisfies WriterRequest);
    await exited;
  }
}
