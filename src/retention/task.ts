// RETENTION_DAYS in the background: every so often, removes what was received before the cutoff,
// in small batches with pauses between them, so that webhooks never wait long behind it.

import type { Logger } from '../observability/logger.js';
import { countRemoval, type Metrics } from '../observability/metrics.js';
import type { MessageStore, Removal } from '../store/store.js';

/** How often a pass starts, counted from the end of the previous one. */
export const RETENTION_INTERVAL_MS = 60_000;
/** About the most rows one batch (one transaction) removes: messages, statuses and dead letters together. */
export const RETENTION_BATCH = 500;
/** The fewest rows a batch asks for, however slow the batches before it were. */
export const RETENTION_MIN_BATCH = 10;
/** The rows the first batch of a pass asks for, before any batch was timed. */
export const RETENTION_FIRST_BATCH = 50;
/**
 * How long a batch should take. On SQLite a batch holds the one writer, and a webhook that arrives
 * meanwhile waits for it to end: the batch's duration is added to that webhook's latency. The
 * size of each batch is worked out from the one before (rows per millisecond vs. this target), so
 * the wait stays near this whatever one row costs to remove on this machine and database (from
 * well under 0.1 ms to over half a millisecond with its text index, conversations and counts).
 * Measured at 1,000,000 messages (`npm run bench -- --only lifecycle`): fixed batches of 500
 * took about 320 ms each and made webhook p99 6.8 times that without retention.
 */
export const RETENTION_BATCH_MS = 20;
/** The shortest pause between two batches of a pass. */
export const RETENTION_PAUSE_MS = 50;

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  readonly store: Pick<MessageStore, 'purge'>;
  readonly days: number;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'retentionDeleted'>;
  readonly intervalMs?: number;
  /** The most rows a batch removes (RETENTION_BATCH). */
  readonly batchSize?: number;
  /** The duration batches aim at (RETENTION_BATCH_MS); their size follows it, between RETENTION_MIN_BATCH and batchSize. */
  readonly batchMs?: number;
  readonly pauseMs?: number;
  /**
   * How many webhook writes this process has begun so far. While it stays put, no webhook waits
   * for the writer, and a pass goes on from batch to batch without the pause; left out, every
   * batch is followed by the pause.
   */
  readonly webhookWrites?: () => number;
  /** The clock (tests move it). */
  readonly now?: () => number;
}

/** What one pass did: its cutoff, what it removed, and how it ended. */
export interface RetentionPass {
  readonly before: string;
  readonly batches: number;
  readonly removed: Removal;
  /** 'done': nothing older is left; 'locked': another process is purging; 'stopped': shutdown; 'failed': the database failed. */
  readonly outcome: 'done' | 'locked' | 'stopped' | 'failed';
}

function added(a: Removal, b: Removal): Removal {
  return { messages: a.messages + b.messages, statuses: a.statuses + b.statuses, deadLetters: a.deadLetters + b.deadLetters };
}

const NOTHING: Removal = { messages: 0, statuses: 0, deadLetters: 0 };

/**
 * The size of the next batch: as many rows as the last batch removed per millisecond times the
 * target duration, at most twice the last size (one quick batch, say of rows without text, does
 * not make the next one huge), between RETENTION_MIN_BATCH and `most`. A batch that removed fewer
 * rows than it asked for was the end of the backlog; its size stays.
 */
export function nextBatchSize(size: number, removed: Removal, tookMs: number, targetMs: number, most: number): number {
  const rows = removed.messages + removed.statuses + removed.deadLetters;
  if (rows < size) return size;
  const fitting = Math.floor((rows / Math.max(tookMs, 0.1)) * targetMs);
  return Math.max(Math.min(RETENTION_MIN_BATCH, most), Math.min(fitting, size * 2, most));
}

/**
 * One pass runs batches until one removes nothing, so a backlog (the first start with RETENTION_DAYS
 * on an old database) is worked through continuously rather than 500 rows a minute. After each
 * batch it pauses at least as long as the batch took (and RETENTION_PAUSE_MS), and each batch is
 * sized to take about RETENTION_BATCH_MS (nextBatchSize): on SQLite a batch holds the one writer,
 * so retention takes at most about half of its time, the group commits of webhooks run in between,
 * and none waits long behind a batch. The pause is for webhooks: when none began since the check
 * before (webhookWrites), nothing waits for the writer, and the next batch follows at once; the
 * first webhook to come waits for one batch at most, as it would during any batch. Passes never
 * overlap; stop() ends the current one after its batch.
 */
export class RetentionTask {
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly batchMs: number;
  private readonly pauseMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionPass> | null = null;
  private stopped = false;
  /** Wakes a pause early when the task stops. */
  private wake: (() => void) | null = null;

  constructor(private readonly options: RetentionOptions) {
    this.intervalMs = options.intervalMs ?? RETENTION_INTERVAL_MS;
    this.batchSize = options.batchSize ?? RETENTION_BATCH;
    this.batchMs = options.batchMs ?? RETENTION_BATCH_MS;
    this.pauseMs = options.pauseMs ?? RETENTION_PAUSE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Runs a first pass at once, then one every interval after the end of the previous one. */
  start(): void {
    if (this.stopped || this.timer !== null || this.running !== null) return;
    this.schedule(0);
  }

  /** Cancels the next pass and waits for the current one to end after its batch; leaves no timer. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runPass();
      void this.running.then(() => {
        this.running = null;
        if (!this.stopped) this.schedule(this.intervalMs);
      });
    }, delayMs);
    // Never what keeps a process alive: a command that opens the app and closes it exits on time.
    this.timer.unref();
  }

  /** Waits `ms`, or until stop(); at once when stopped already. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }

  /** One pass: batches until nothing older than the cutoff is left (or the task stops). Never throws. */
  async runPass(): Promise<RetentionPass> {
    const { store, days, logger, metrics } = this.options;
    const started = this.now();
    const before = new Date(started - days * DAY_MS).toISOString();
    let removed = NOTHING;
    let batches = 0;
    let outcome: RetentionPass['outcome'] = 'done';
    let lastProgressLog = started;
    let size = Math.min(RETENTION_FIRST_BATCH, this.batchSize);
    const webhookWrites = this.options.webhookWrites;
    let writesSeen = webhookWrites?.();
    try {
      for (;;) {
        if (this.stopped) {
          outcome = 'stopped';
          break;
        }
        const batchStarted = this.now();
        const batch = await store.purge(before, size);
        if (batch === null) {
          outcome = 'locked';
          break;
        }
        batches++;
        removed = added(removed, batch);
        countRemoval(metrics.retentionDeleted, batch);
        if (batch.messages === 0 && batch.statuses === 0 && batch.deadLetters === 0) break;
        if (this.now() - lastProgressLog >= this.intervalMs) {
          lastProgressLog = this.now();
          logger.info({ retention_days: days, before, batches, ...fields(removed) }, 'retention pass in progress');
        }
        // The time the batch held the writer, where the store knows it: under load most of the call
        // is its wait for a turn between webhook commits, which a smaller batch would not shorten.
        const held = batch.writerMs ?? this.now() - batchStarted;
        size = nextBatchSize(size, batch, held, this.batchMs, this.batchSize);
        // Quiet: no webhook write began during the last pause or this batch.
        const writes = webhookWrites?.();
        const quiet = writes !== undefined && writes === writesSeen;
        writesSeen = writes;
        await this.pause(quiet ? 0 : Math.max(this.pauseMs, held));
      }
    } catch (error) {
      outcome = 'failed';
      logger.warn(
        { err: error, retention_days: days, before, batches, ...fields(removed) },
        'retention pass failed; retried at the next',
      );
    }
    const pass: RetentionPass = { before, batches, removed, outcome };
    const line = { retention_days: days, before, batches, outcome, ...fields(removed), duration_ms: this.now() - started };
    // A failed pass was logged with its error. One that removed something is worth a line at INFO;
    // an idle one every minute is not.
    if (outcome !== 'failed') {
      if (removed.messages + removed.statuses + removed.deadLetters > 0) logger.info(line, 'retention pass');
      else logger.debug(line, 'retention pass');
    }
    return pass;
  }
}

function fields(removal: Removal) {
  return { messages: removal.messages, statuses: removal.statuses, dead_letters: removal.deadLetters };
}
