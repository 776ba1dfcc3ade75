// `webhook-inbox export`: streams GET /messages/export to a file or to stdout, byte for byte as the
// service sends it. A file is written under a temporary name and renamed once complete, so a file
// of that name is never a cut-off export.

import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Command, Option } from 'commander';
import { CliError, callService, describeAnswer, formatCount, type ServiceOptions, withServiceOptions } from './command.js';
import { startProgress } from './progress.js';

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

interface ExportOptions extends ServiceOptions {
  readonly format: ExportFormat;
  readonly output?: string;
  readonly from?: string;
  readonly to?: string;
  readonly since?: string;
  readonly until?: string;
  readonly q?: string;
  readonly type?: string;
}

/** The /messages filters export takes, passed on as they are: the service checks them (422). */
const FILTERS = ['from', 'to', 'since', 'until', 'q', 'type'] as const;

export function exportCommand(program: Command): Command {
  return withServiceOptions(
    program
      .command('export')
      .summary('download every matching message as NDJSON or CSV')
      .description(
        'Streams GET /messages/export, oldest first, to --output or to standard output. NDJSON has one message a ' +
          'line, as GET /messages/{message_id} gives it without statuses (what `import` reads back); CSV has the core ' +
          'fields with a header row. On a terminal, stderr shows the count and the rate.',
      )
      .addOption(new Option('--format <format>', 'ndjson or csv').choices(EXPORT_FORMATS).default('ndjson'))
      .option('--output <file>', 'write to this file (default: standard output)')
      .option('--from <phone>', 'only messages from this sender')
      .option('--to <phone>', 'only messages to this recipient')
      .option('--since <timestamp>', 'only messages at or after this instant (YYYY-MM-DDTHH:MM:SSZ)')
      .option('--until <timestamp>', 'only messages before this instant')
      .option('--q <text>', 'only messages whose text contains this, ignoring case')
      .option('--type <type>', 'only messages of this provider type (text, image, …)'),
  ).action(async (_options: unknown, command: Command) => {
    await exportMessages(command.opts<ExportOptions>());
  });
}

/**
 * Counts records as they stream by: lines for NDJSON; for CSV, line breaks outside quoted fields
 * (a text may hold line breaks, inside quotes; an escaped quote is two, so the parity holds), less
 * the header row.
 */
function recordCounter(format: ExportFormat, onCount: (records: number) => void): Transform {
  let breaks = 0;
  let quoted = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (const byte of chunk) {
        if (byte === 0x22 && format === 'csv') quoted = !quoted;
        else if (byte === 0x0a && !quoted) breaks++;
      }
      onCount(format === 'csv' ? Math.max(0, breaks - 1) : breaks);
      done(null, chunk);
    },
  });
}

async function exportMessages(options: ExportOptions): Promise<void> {
  const query = new URLSearchParams({ format: options.format });
  for (const name of FILTERS) {
    const value = options[name];
    if (value !== undefined) query.set(name, value);
  }
  const response = await callService(options, `/messages/export?${query}`);
  if (!response.ok) throw new CliError(await describeAnswer(response));
  if (response.body === null) throw new CliError('the service answered without a body');

  const progress = startProgress('exporting', 'messages');
  let records = 0;
  const counter = recordCounter(options.format, (count) => {
    records = count;
    progress.update(count);
  });
  const { output } = options;
  const partial = output === undefined ? undefined : `${output}.partial`;
  try {
    const body = Readable.fromWeb(response.body);
    if (output === undefined || partial === undefined) {
      // Standard output stays open: the process ends it.
      await pipeline(body, counter, process.stdout, { end: false });
    } else {
      await pipeline(body, counter, createWriteStream(partial));
      await rename(partial, output);
    }
  } catch (error) {
    if (partial !== undefined) await rm(partial, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(`the export stopped after ${formatCount(records)} messages: ${reason}`, { cause: error });
  } finally {
    progress.stop();
  }
  if (output !== undefined) process.stdout.write(`exported ${formatCount(records)} messages to ${output}\n`);
}
