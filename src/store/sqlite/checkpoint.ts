// After rows are removed (an erasure, a retention batch): a truncating checkpoint of the WAL soon
// after, so that the removed text, which the log's older frames still hold, is gone from the
// files. With secure_delete (see writer.ts) the pages copied back into the database file hold
// zeros where the rows were; TRUNCATE then cuts the log to nothing.
//
// The promise is a minute (the text can no longer be read from the files within it). A lone
// erasure is checkpointed after a few seconds; a stream of removals (a retention pass, which runs
// batch after batch for many minutes on a large backlog) is checkpointed at most every
// DEFAULT_CHECKPOINT_SPACING_MS. Each checkpoint copies the whole log back on the connection that
// commits webhooks, which wait meanwhile: at one every five seconds during a long purge this was
// a pause that came back far more often than the promise needs.

import type Database from 'better-sqlite3';

export interface RemovalCheckpointOptions {
  /**
   * How long after the first removal since the last checkpoint it runs: removals that follow
   * meanwhile (a retention run's batches) share it. Erased text is out of the files within about
   * this much, plus the retries.
   */
  readonly delayMs: number;
  /**
   * The least time from one checkpoint to the next: a removal that follows a checkpoint sooner
   * than this waits until then (and never less than delayMs).
   */
  readonly spacingMs: number;
  /** The wait before trying again when readers held the log. */
  readonly retryMs: number;
  /** The clock (tests move it). */
  readonly now: () => number;
}

/** A store's or a writer thread's settings of its checkpoints; each left out takes its default. */
export interface CheckpointSettings {
  /** RemovalCheckpointOptions.delayMs. */
  readonly checkpointDelayMs?: number;
  /** RemovalCheckpointOptions.spacingMs. */
  readonly checkpointSpacingMs?: number;
}

/** The options of a RemovalCheckpoint from a store's settings. */
export function checkpointOptions(settings: CheckpointSettings): Partial<RemovalCheckpointOptions> {
  return {
    ...(settings.checkpointDelayMs === undefined ? {} : { delayMs: settings.checkpointDelayMs }),
    ...(settings.checkpointSpacingMs === undefined ? {} : { spacingMs: settings.checkpointSpacingMs }),
  };
}

export const DEFAULT_CHECKPOINT_DELAY_MS = 5_000;
/** Leaves room within the minute for the retries while a long read holds the log. */
export const DEFAULT_CHECKPOINT_SPACING_MS = 20_000;
const DEFAULT_RETRY_MS = 1_000;

/**
 * How long an attempt waits for readers that still read an older snapshot. Short: it runs on the
 * connection that commits webhooks, which wait meanwhile; a read that holds on is outlasted by
 * trying again later rather than by waiting here.
 */
const ATTEMPT_BUSY_MS = 50;

/**
 * Checkpoints with TRUNCATE on the connection that removed the rows, soon after they were
 * removed, and again until it succeeds: a reader still reading a snapshot from before the
 * removal keeps the log in use, and TRUNCATE gives up rather than cut it under the reader.
 */
export class RemovalCheckpoint {
  readonly #db: Database.Database;
  readonly #options: RemovalCheckpointOptions;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** When the last checkpoint that cut the log ended (-Infinity: none yet). */
  #lastDone = Number.NEGATIVE_INFINITY;

  constructor(db: Database.Database, options: Partial<RemovalCheckpointOptions> = {}) {
    this.#db = db;
    this.#options = {
      delayMs: options.delayMs ?? DEFAULT_CHECKPOINT_DELAY_MS,
      spacingMs: options.spacingMs ?? DEFAULT_CHECKPOINT_SPACING_MS,
      retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
      now: options.now ?? Date.now,
    };
  }

  /**
   * Rows were removed: a checkpoint follows after delayMs, or spacingMs after the last one if that
   * is later, unless one is already due (it is not put off).
   */
  removed(): void {
    if (this.#closed || this.#timer !== null) return;
    const { delayMs, spacingMs, now } = this.#options;
    this.#schedule(Math.max(delayMs, this.#lastDone + spacingMs - now()));
  }

  /** Whether a checkpoint is due (removals not yet checkpointed). */
  get pending(): boolean {
    return this.#timer !== null;
  }

  /**
   * Stops; a checkpoint that is due is tried once more, right now (the connection is about to
   * close, and the last connection to close checkpoints and deletes the log anyway).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#attempt();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#attempt()) this.#lastDone = this.#options.now();
      else if (!this.#closed) this.#schedule(this.#options.retryMs);
    }, ms);
  }

  /** One TRUNCATE checkpoint; true when it copied the whole log back and cut it. */
  #attempt(): boolean {
    const db = this.#db;
    if (!db.open) return true;
    const busyMs = Number(db.pragma('busy_timeout', { simple: true }));
    try {
      db.pragma(`busy_timeout = ${ATTEMPT_BUSY_MS}`);
      // One row: busy (1 when readers or another writer stopped it short), then the frames in
      // the log and those copied back (both 0 once the log is cut).
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      return result !== undefined && result.busy === 0;
    } catch {
      // SQLITE_BUSY or a failing file: the next attempt may do better.
      return false;
    } finally {
      if (db.open) db.pragma(`busy_timeout = ${busyMs}`);
    }
  }
}
