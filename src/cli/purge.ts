// `webhook-inbox purge --before TS`: says how much was received before TS (messages, their delivery
// statuses, dead letters); with --yes removes it, in small transactions, as RETENTION_DAYS does, so
// the service keeps storing webhooks meanwhile.

import { type Command, InvalidArgumentError } from 'commander';
import { instantKey } from '../ingest/timestamp.js';
import { nextBatchSize, RETENTION_BATCH_MS, RETENTION_FIRST_BATCH } from '../retention/task.js';
import type { MessageStore, Removal } from '../store/store.js';
import {
  CliError,
  commandConfig,
  type DatabaseOptions,
  describeDatabase,
  type Env,
  formatCount,
  withDatabaseOption,
  withStore,
} from './command.js';
import { startProgress } from './progress.js';

interface PurgeOptions extends DatabaseOptions {
  readonly before: string;
  readonly yes?: boolean;
}

/**
 * Rows one transaction removes at most. Each batch is sized as RETENTION_DAYS sizes its own, to take
 * about RETENTION_BATCH_MS, and followed by a pause as long as it took: webhooks that the service
 * stores meanwhile never wait long for the writer.
 */
export const PURGE_BATCH = 500;
/** How long to wait for another process that holds the retention lock (PostgreSQL) before giving up. */
const LOCK_WAIT_MS = 60_000;

function instant(raw: string): string {
  if (instantKey(raw) === null) throw new InvalidArgumentError('expected YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant');
  return raw;
}

export function purgeCommand(program: Command, env: Env): Command {
  return withDatabaseOption(
    program
      .command('purge')
      .summary('remove what was received before an instant')
      .description(
        'Counts the messages (with their delivery statuses) and dead letters whose received_at is before --before, ' +
          'and removes them only with --yes: in small transactions, while the service keeps running, every count ' +
          'and total staying exact.',
      )
      .requiredOption('--before <timestamp>', 'the cutoff, YYYY-MM-DDTHH:MM:SSZ: what was received before it goes', instant)
      .option('--yes', 'remove them (without it, nothing is removed)'),
  ).action(async (_options: unknown, command: Command) => {
    await purge(command.opts<PurgeOptions>(), env);
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const rows = (r: Removal): string =>
  `${formatCount(r.messages)} messages, ${formatCount(r.statuses)} delivery statuses and ${formatCount(r.deadLetters)} dead letters`;

/** Purges batch after batch until one removes nothing; waits while another process holds the retention lock. */
async function purgeAll(store: MessageStore, before: string, onBatch: (removed: Removal) => void): Promise<Removal> {
  const removed = { messages: 0, statuses: 0, deadLetters: 0 };
  let waitingSince: number | undefined;
  let size = RETENTION_FIRST_BATCH;
  for (;;) {
    const started = performance.now();
    const batch = await store.purge(before, size);
    if (batch === null) {
      waitingSince ??= Date.now();
      if (Date.now() - waitingSince > LOCK_WAIT_MS) {
        throw new CliError(
          `another process has been removing old rows for over a minute (RETENTION_DAYS?); removed so far: ${rows(removed)}`,
        );
      }
      await sleep(1000);
      continue;
    }
    waitingSince = undefined;
    if (batch.messages + batch.statuses + batch.deadLetters === 0) return removed;
    removed.messages += batch.messages;
    removed.statuses += batch.statuses;
    removed.deadLetters += batch.deadLetters;
    onBatch(removed);
    const held = batch.writerMs ?? performance.now() - started;
    size = nextBatchSize(size, batch, held, RETENTION_BATCH_MS, PURGE_BATCH);
    await sleep(held);
  }
}

async function purge(options: PurgeOptions, env: Env): Promise<void> {
  // A cutoff in the future would take messages still arriving, and never be done with them.
  const now = new Date().toISOString();
  if ((instantKey(options.before) ?? '') > (instantKey(now) ?? '')) {
    throw new CliError(`--before ${options.before} is in the future (now is ${now})`);
  }
  const config = commandConfig(env, options);
  const where = describeDatabase(config.database);
  await withStore(config, async (store) => {
    const count = await store.countPurge(options.before);
    if (options.yes !== true) {
      process.stdout.write(
        `${where}: received before ${options.before}: ${rows(count)}; nothing removed (run again with --yes to remove them)\n`,
      );
      return;
    }
    const progress = startProgress('purging', 'messages', count.messages);
    let removed: Removal;
    try {
      removed = await purgeAll(store, options.before, (sofar) => progress.update(sofar.messages));
    } finally {
      progress.stop();
    }
    process.stdout.write(`${where}: removed ${rows(removed)} received before ${options.before}\n`);
  });
}
