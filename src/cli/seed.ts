// `webhook-inbox seed --count N`: fills a database with synthetic messages (see synthetic.ts), through
// the store's bulk path, for trying the reads and the dashboard by hand. Refuses a database that
// already holds messages unless told to: synthetic messages must never mix into a real inbox by accident.

import { type Command, InvalidArgumentError, Option } from 'commander';
import { instantKey } from '../ingest/timestamp.js';
import {
  CliError,
  commandConfig,
  type DatabaseOptions,
  describeDatabase,
  type Env,
  formatCount,
  positiveInteger,
  withDatabaseOption,
  withStore,
} from './command.js';
import { startProgress } from './progress.js';
import { type SeedResult, seedStore, startOfUtcDay } from './synthetic.js';

interface SeedOptions extends DatabaseOptions {
  readonly count: number;
  readonly senders: number;
  readonly seed: number;
  readonly batch: number;
  readonly until?: Date;
  readonly plain?: boolean;
  readonly force?: boolean;
}

function endInstant(raw: string): Date {
  const key = instantKey(raw);
  if (key === null) throw new InvalidArgumentError('expected YYYY-MM-DDTHH:MM:SSZ, a real UTC instant');
  return new Date(raw);
}

export function seedCommand(program: Command, env: Env): Command {
  return withDatabaseOption(
    program
      .command('seed')
      .summary('fill an empty database with synthetic messages')
      .description(
        'Stores --count synthetic messages: Zipf-skewed senders writing mostly to one business number, a year of ' +
          'timestamps, text in six languages, WhatsApp types with contact names and replies. The same --seed and ' +
          '--until give the same messages. Refuses a database that already holds messages, unless --force.',
      )
      .requiredOption('--count <n>', 'messages to store', positiveInteger)
      .addOption(new Option('--senders <n>', 'distinct senders').argParser(positiveInteger).default(5000))
      .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInteger).default(1))
      .addOption(new Option('--batch <n>', 'messages per transaction').argParser(positiveInteger).default(10_000))
      .addOption(
        new Option(
          '--until <timestamp>',
          'the newest instant; messages span the year before it (default: today 00:00 UTC)',
        ).argParser(endInstant),
      )
      .option('--plain', 'messages of the core form only, without type or origin')
      .option('--force', 'seed a database that already holds messages'),
  ).action(async (_options: unknown, command: Command) => {
    await seed(command.opts<SeedOptions>(), env);
  });
}

/** The line that says what a seeding did. */
export function seedSummary(count: number, result: SeedResult): string {
  const seconds = result.elapsedMs / 1000;
  const rate = seconds > 0 ? count / seconds : 0;
  return (
    `seeded ${formatCount(count)} messages (${formatCount(result.created)} created, ${formatCount(result.duplicates)} already there) ` +
    `in ${seconds.toFixed(1)} s: ${formatCount(rate)} rows/s; ${formatCount(result.facts.conversations.length)} conversations`
  );
}

async function seed(options: SeedOptions, env: Env): Promise<void> {
  const config = commandConfig(env, options);
  const where = describeDatabase(config.database);
  await withStore(config, async (store) => {
    const existing = await store.listMessages({}, { limit: 1, offset: 0 });
    if (existing.data.length > 0 && options.force !== true) {
      throw new CliError(`${where} already holds ${formatCount(existing.total)} messages; pass --force to add synthetic ones`);
    }
    const progress = startProgress('seeding', 'messages', options.count);
    let result: SeedResult;
    try {
      result = await seedStore(
        store,
        {
          count: options.count,
          senders: options.senders,
          seed: options.seed,
          batchSize: options.batch,
          until: options.until ?? startOfUtcDay(),
          plain: options.plain === true,
        },
        ({ done }) => progress.update(done),
      );
    } finally {
      progress.stop();
    }
    process.stdout.write(`${seedSummary(options.count, result)} into ${where}\n`);
  });
}
