// The main thread's side of the reader threads: hands each read to an idle thread, keeps a bounded
// queue of the reads waiting for one, and stops a read that runs past its time limit by replacing
// the thread that runs it.

import { Worker } from 'node:worker_threads';
import { QueryTimeout, ReadersBusy, StoreUnavailable } from '../store.js';
import type { ReaderReply, ReaderRequest } from './reader-protocol.js';
import { type ReadAnswers, type ReadKind, type ReadRequest, readTransfers } from './reads.js';

/**
 * The young generation of each reader thread's heap, in MiB: what V8 starts a thread with, which
 * it would otherwise let grow to several times that. A read builds its answer, hands it over and
 * drops it, so little of what a reader allocates lives long; but one read after another (an
 * export's chunks, each formatted row by row on the thread) makes V8 grow the young generation to
 * its largest, and keep it. Exporting 1,000,000 messages grew the server by 36 MiB with 4 here,
 * 42 MiB with 8, at the same rate.
 */
export const READER_YOUNG_GENERATION_MB = 4;

export interface ReaderPoolOptions {
  readonly file: string;
  /** The compiled sqlite/reader.worker.js. */
  readonly workerUrl: URL;
  /** Threads, each with its own connection. */
  readonly size: number;
  /** Reads that may wait for a thread; one more is refused at once (ReadersBusy). */
  readonly maxWaiting: number;
}

interface Job {
  readonly read: ReadRequest;
  readonly timeoutMs: number;
  readonly resolve: (answer: unknown) => void;
  readonly reject: (error: Error) => void;
  /** While waiting: drops the job; while running: stops its thread. */
  timer: NodeJS.Timeout | null;
}

interface Reader {
  readonly worker: Worker;
  ready: boolean;
  running: { readonly id: number; readonly job: Job } | null;
}

export class SqliteReaderPool {
  readonly #options: ReaderPoolOptions;
  /** One place per thread; null while none runs there (not started yet, died, or held back). */
  readonly #readers: (Reader | null)[];
  /** Threads told to stop that have not exited yet (see #stopRead). */
  readonly #stopping = new Set<Worker>();
  readonly #waiting: Job[] = [];
  /** Called whenever a read settles or a thread exits: close() waits on them. */
  readonly #onChange = new Set<() => void>();
  #nextId = 1;
  #closed = false;

  constructor(options: ReaderPoolOptions) {
    this.#options = options;
    this.#readers = Array.from({ length: options.size }, () => null);
  }

  /** Threads started and not yet exited, those being stopped included. */
  get threads(): number {
    return this.#readers.filter((reader) => reader !== null).length + this.#stopping.size;
  }

  /** Starts every thread; resolves once each has opened the database, rejects if one cannot. */
  async start(): Promise<void> {
    await Promise.all(this.#readers.map((reader, place) => (reader === null ? this.#spawn(place) : Promise.resolve())));
  }

  /**
   * Runs the read on the next idle thread; rejects at once when too many reads already wait. A
   * read waiting `timeoutMs` for a thread is dropped unrun (ReadersBusy); one running `timeoutMs`
   * on its thread is stopped (QueryTimeout).
   */
  run<K extends ReadKind>(read: ReadRequest<K>, timeoutMs: number): Promise<ReadAnswers[K]> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    if (this.#waiting.length >= this.#options.maxWaiting) {
      return Promise.reject(new ReadersBusy(`${this.#waiting.length} reads are already waiting for a reader`));
    }
    return new Promise<ReadAnswers[K]>((resolve, reject) => {
      const job: Job = {
        read,
        timeoutMs,
        // The thread answers with the ReadAnswers entry of the kind it was asked for.
        resolve: (answer) => resolve(answer as ReadAnswers[K]),
        reject,
        timer: null,
      };
      job.timer = setTimeout(() => {
        const index = this.#waiting.indexOf(job);
        if (index === -1) return;
        this.#waiting.splice(index, 1);
        job.reject(new ReadersBusy(`no reader was free within ${timeoutMs} ms`));
        this.#changed();
      }, timeoutMs);
      this.#waiting.push(job);
      this.#fill();
      this.#dispatch();
    });
  }

  /**
   * Lets the reads in flight finish (each is bounded by the time limit, twice over for one still
   * waiting), then stops every thread and resolves once all have exited.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#until(
      () => this.#waiting.length === 0 && this.#readers.every((reader) => reader === null || reader.running === null),
    );
    for (const reader of this.#readers) {
      if (reader === null) continue;
      if (reader.ready) reader.worker.postMessage({ type: 'close' } satisfies ReaderRequest);
      else void reader.worker.terminate();
    }
    await this.#until(() => this.threads === 0);
  }

  #until(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (!done()) return;
        this.#onChange.delete(check);
        resolve();
      };
      this.#onChange.add(check);
      check();
    });
  }

  #changed(): void {
    for (const check of [...this.#onChange]) check();
  }

  /**
   * Starts threads in the empty places, as long as no more threads are still stopping than the
   * pool has places: reads that keep timing out hold at most twice the pool's threads.
   */
  #fill(): void {
    if (this.#closed) return;
    this.#readers.forEach((reader, place) => {
      if (reader === null && this.#stopping.size <= this.#options.size) this.#spawn(place).catch(() => {});
    });
  }

  /** Hands waiting reads to idle threads, oldest first. */
  #dispatch(): void {
    for (const reader of this.#readers) {
      if (reader === null || !reader.ready || reader.running !== null) continue;
      const job = this.#waiting.shift();
      if (job === undefined) return;
      if (job.timer !== null) clearTimeout(job.timer);
      const id = this.#nextId++;
      reader.running = { id, job };
      job.timer = setTimeout(() => this.#stopRead(reader, id), job.timeoutMs);
      try {
        reader.worker.postMessage({ type: 'read', id, read: job.read } satisfies ReaderRequest, readTransfers(job.read));
      } catch (error) {
        // Not posted (a value the structured clone refuses): nothing will answer it.
        clearTimeout(job.timer);
        reader.running = null;
        job.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /**
   * The read `id` passed the time limit. better-sqlite3 has no way to interrupt a statement from
   * another thread (no sqlite3_interrupt, no progress handler), so the thread itself is
   * terminated and a fresh one takes its place at once. Termination takes effect only once
   * SQLite returns from the statement it is running: until then the old thread goes on using a
   * CPU and holds its read snapshot (the WAL cannot be checkpointed past it), then exits.
   */
  #stopRead(reader: Reader, id: number): void {
    const place = this.#readers.indexOf(reader);
    if (place === -1 || reader.running?.id !== id) return;
    const { job } = reader.running;
    reader.running = null;
    this.#readers[place] = null;
    this.#stopping.add(reader.worker);
    void reader.worker.terminate();
    job.reject(new QueryTimeout());
    this.#fill();
    this.#changed();
  }

  #settle(reader: Reader, reply: Exclude<ReaderReply, { type: 'ready' }>): void {
    const running = reader.running;
    if (running === null || running.id !== reply.id) return;
    reader.running = null;
    if (running.job.timer !== null) clearTimeout(running.job.timer);
    if (reply.type === 'answer') running.job.resolve(reply.answer);
    else running.job.reject(new Error(reply.error));
    this.#dispatch();
    this.#changed();
  }

  /** Starts a thread in `place`; resolves once it has opened the database. */
  #spawn(place: number): Promise<void> {
    const worker = new Worker(this.#options.workerUrl, {
      workerData: { file: this.#options.file },
      resourceLimits: { maxYoungGenerationSizeMb: READER_YOUNG_GENERATION_MB },
    });
    const reader: Reader = { worker, ready: false, running: null };
    this.#readers[place] = reader;
    let lastError: Error | null = null;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: ReaderReply) => {
        if (reply.type !== 'ready') {
          this.#settle(reader, reply);
          return;
        }
        reader.ready = true;
        resolve();
        this.#dispatch();
      });
      worker.on('error', (error) => {
        lastError = error;
      });
      worker.on('exit', (code) => {
        const error = lastError ?? new Error(`reader thread exited with code ${code}`);
        reject(error);
        this.#stopping.delete(worker);
        if (this.#readers[place] === reader) {
          // It died by itself (a closed or broken database), or close() ended it. Its place is
          // filled again by the next read, not now: a file that cannot be opened must not make
          // threads start in a loop.
          this.#readers[place] = null;
          const running = reader.running;
          reader.running = null;
          if (running !== null) {
            if (running.job.timer !== null) clearTimeout(running.job.timer);
            running.job.reject(new StoreUnavailable(`reader thread failed: ${error.message}`, { cause: error }));
          }
          if (this.#readers.every((r) => r === null) && this.#stopping.size === 0) {
            // No thread left to serve the waiting reads.
            for (const job of this.#waiting.splice(0)) {
              if (job.timer !== null) clearTimeout(job.timer);
              job.reject(new StoreUnavailable(`reader thread failed: ${error.message}`, { cause: error }));
            }
          }
        } else if (this.#waiting.length > 0) {
          // A stopped thread has gone: a place it held back can take a fresh one now.
          this.#fill();
        }
        this.#changed();
      });
    });
  }
}
