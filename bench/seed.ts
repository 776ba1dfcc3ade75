// `npm run seed -- --count N [--senders S] [--seed K] [--batch B] [--until ISO] [--plain]`: loads N synthetic
// messages into the store DATABASE_URL names, through the store's bulk path (insertMany). The
// benchmark's seeder: the same messages as `webhook-inbox seed`, run from the TypeScript sources.

import { parseArgs } from 'node:util';
import { seedSummary } from '../src/cli/seed.js';
import { seedStore, startOfUtcDay } from '../src/cli/synthetic.js';
import { ConfigError, DEFAULT_DATABASE_URL, loadConfig } from '../src/config.js';
import { createProgress, formatCount } from './progress.js';
import { openBenchStore } from './store.js';

const USAGE = `usage: npm run seed -- --count N [--senders S] [--seed K] [--batch B] [--until YYYY-MM-DDTHH:MM:SSZ] [--plain]
  --count    messages to load (required)
  --senders  distinct senders, Zipf-skewed (default 5000)
  --seed     random seed; the same seed and --until give the same messages (default 1)
  --batch    messages per insertMany transaction (default 10000)
  --until    newest instant; messages span the year before it (default: today 00:00 UTC)
  --plain    core-form messages only, without type or origin, each receiver drawn on its own: the data the
             seeder made before it gave messages provider types (same ids, senders, times and texts)
  --default-database  seed the server's default database (${DEFAULT_DATABASE_URL}) when DATABASE_URL is unset
DATABASE_URL names the store, as for the server; it is required unless --default-database is given,
so that synthetic messages never land in a real inbox by accident.`;

function positiveInteger(name: string, raw: string | undefined, fallback: number | null): number {
  if (raw === undefined) {
    if (fallback === null) throw new Error(`--${name} is required`);
    return fallback;
  }
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function fail(message: string): never {
  process.stderr.write(`seed: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        count: { type: 'string' },
        senders: { type: 'string' },
        seed: { type: 'string' },
        batch: { type: 'string' },
        until: { type: 'string' },
        plain: { type: 'boolean' },
        'default-database': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const str = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };

  let options: { count: number; senders: number; seed: number; batchSize: number; until: Date; plain: boolean };
  try {
    const until = str('until');
    const untilDate = until === undefined ? startOfUtcDay() : new Date(until);
    if (Number.isNaN(untilDate.getTime())) throw new Error(`--until: not a date: ${JSON.stringify(until)}`);
    options = {
      count: positiveInteger('count', str('count'), null),
      senders: positiveInteger('senders', str('senders'), 5000),
      seed: positiveInteger('seed', str('seed'), 1),
      batchSize: positiveInteger('batch', str('batch'), 10_000),
      until: untilDate,
      plain: values.plain === true,
    };
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }

  // Seeding writes a great many fake messages: into the database the server uses by default only
  // when asked for by name.
  if ((process.env.DATABASE_URL ?? '').trim() === '' && values['default-database'] !== true) {
    fail(`DATABASE_URL is not set; set it to the database to seed, or pass --default-database to seed ${DEFAULT_DATABASE_URL}`);
  }

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, process.cwd());
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
    throw error;
  }
  const { database } = config;
  const store = await openBenchStore(config);
  const where = database.kind === 'sqlite' ? database.path : database.kind;
  process.stderr.write(
    `seeding ${formatCount(options.count)} messages from ${formatCount(options.senders)} senders (seed ${options.seed}, ` +
      `until ${options.until.toISOString()}${options.plain ? ', plain' : ''}) into ${where}\n`,
  );
  const progress = createProgress('seed', options.count);
  try {
    const result = await seedStore(store, options, ({ done }) => progress.update(done));
    progress.finish();
    process.stdout.write(`${seedSummary(options.count, result)}\n`);
  } finally {
    await store.close();
  }
}

await main();
