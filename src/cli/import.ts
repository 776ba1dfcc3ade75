// `webhook-inbox import FILE`: stores the messages of an NDJSON export in the database, a chunk of
// lines per transaction. A message_id already stored is skipped (the first write wins, as for
// webhooks); every message added keeps its received_at and becomes a new event of the feed. Each
// line is checked with the webhook's own rules before anything of its chunk is written.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { codePointLength, type ValidationIssue } from '../ingest/issues.js';
import {
  MAX_MESSAGE_ID_CODE_POINTS,
  MESSAGE_SOURCES,
  type MessageSource,
  parseJsonObject,
  validateMessage,
} from '../ingest/message.js';
import { instantKey } from '../ingest/timestamp.js';
import type { ImportedMessage, MessageStore } from '../store/store.js';
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
import { type Progress, startProgress } from './progress.js';

/** Lines per transaction: large enough to be fast, small enough that a failure loses little work. */
export const IMPORT_CHUNK_LINES = 1000;

export function importCommand(program: Command, env: Env): Command {
  return withDatabaseOption(
    program
      .command('import')
      .summary('store the messages of an NDJSON export in the database')
      .description(
        'Reads an NDJSON export (`webhook-inbox export`; "-" reads standard input) into the database, 1,000 lines per ' +
          'transaction. A message_id already stored is skipped. Each message keeps its received_at and becomes a new ' +
          'event of the feed. A line that is not a valid message stops the import: the error names it, and every ' +
          'chunk of lines before its chunk is stored. The service may keep running meanwhile.',
      )
      .argument('<file>', 'the NDJSON file'),
  ).action(async (file: string, _options: unknown, command: Command) => {
    await importFile(file, command.opts<DatabaseOptions>(), env);
  });
}

type LineResult = { readonly ok: true; readonly message: ImportedMessage } | { readonly ok: false; readonly reason: string };

const describeIssues = (issues: readonly ValidationIssue[]): string =>
  issues.map((issue) => `${issue.loc.slice(1).join('.') || 'line'}: ${issue.msg}`).join('; ');

/** A text field beyond the core ones: absent or null, or a string the databases can hold. */
function optionalText(obj: Record<string, unknown>, name: string, problems: string[], maxCodePoints?: number): string | null {
  const value = Object.hasOwn(obj, name) ? obj[name] : undefined;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') problems.push(`${name}: expected a string or null`);
  else if (codePointLength(value) < 0) problems.push(`${name}: holds an unpaired UTF-16 surrogate`);
  else if (value.includes('\0')) problems.push(`${name}: holds the NUL character`);
  else if (maxCodePoints !== undefined && codePointLength(value) > maxCodePoints) {
    problems.push(`${name}: longer than ${maxCodePoints} characters`);
  } else return value;
  return null;
}

/**
 * One line of an export (the GET /messages/{message_id} object without statuses) as the message to
 * store: the core fields checked exactly as POST /webhook checks them, then what the message kept.
 */
export function readExportLine(line: Buffer): LineResult {
  const parsed = parseJsonObject(line);
  if (!parsed.ok) return { ok: false, reason: describeIssues(parsed.issues) };
  const obj = parsed.value;
  const core = validateMessage(obj);
  const problems: string[] = core.ok ? [] : [describeIssues(core.issues)];

  const type = optionalText(obj, 'type', problems, MAX_MESSAGE_ID_CODE_POINTS);
  const source = obj.source;
  if (!MESSAGE_SOURCES.includes(source as MessageSource)) problems.push(`source: expected one of ${MESSAGE_SOURCES.join(', ')}`);
  const receivedAt = obj.received_at;
  if (typeof receivedAt !== 'string' || instantKey(receivedAt) === null) {
    problems.push('received_at: expected YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant');
  }
  const contactName = optionalText(obj, 'contact_name', problems);
  const replyTo = optionalText(obj, 'reply_to', problems, MAX_MESSAGE_ID_CODE_POINTS);
  const phoneNumberId = optionalText(obj, 'phone_number_id', problems);

  if (!core.ok || problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return {
    ok: true,
    message: {
      ...core.value,
      ...(type !== null ? { type } : {}),
      origin: {
        source: source as MessageSource,
        // The export gives raw as the JSON it holds; stored again as its text. A message stored
        // before raw was kept exports null, stored as the JSON text "null", which reads back as null.
        raw: JSON.stringify(Object.hasOwn(obj, 'raw') ? obj.raw : null),
        contactName,
        replyTo,
        phoneNumberId,
      },
      receivedAt: receivedAt as string,
    },
  };
}

/** The lines of a stream as bytes (without the line break, CR LF or LF), with the bytes each took. */
async function* lines(input: AsyncIterable<Buffer>): AsyncGenerator<{ line: Buffer; bytes: number }> {
  let pending: Buffer[] = [];
  for await (const chunk of input) {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      const line = Buffer.concat([...pending, chunk.subarray(start, end)]);
      pending = [];
      start = end + 1;
      yield { line: line.at(-1) === 0x0d ? line.subarray(0, -1) : line, bytes: line.length + 1 };
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  const rest = Buffer.concat(pending);
  if (rest.length > 0) yield { line: rest.at(-1) === 0x0d ? rest.subarray(0, -1) : rest, bytes: rest.length };
}

interface Tally {
  added: number;
  skipped: number;
  /** The last line of the last chunk committed; 0 before the first. */
  storedThrough: number;
}

async function storeChunk(store: MessageStore, chunk: ImportedMessage[], tally: Tally, lastLine: number): Promise<void> {
  const outcomes = await store.importMessages(chunk);
  for (const outcome of outcomes) {
    if (outcome === 'created') tally.added++;
    else tally.skipped++;
  }
  tally.storedThrough = lastLine;
}

function summary(tally: Tally): string {
  return `${formatCount(tally.added)} added, ${formatCount(tally.skipped)} skipped`;
}

/** An error of reading the file itself (missing, a folder, not readable), rather than of storing. */
const readError = (error: unknown): error is NodeJS.ErrnoException => error instanceof Error && 'syscall' in error;

async function importFile(file: string, options: DatabaseOptions, env: Env): Promise<void> {
  const config = commandConfig(env, options);
  let total: number | undefined;
  if (file !== '-') {
    try {
      total = (await stat(file)).size;
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  const input: AsyncIterable<Buffer> = file === '-' ? process.stdin : createReadStream(file);
  const tally: Tally = { added: 0, skipped: 0, storedThrough: 0 };

  await withStore(config, async (store) => {
    const progress: Progress = startProgress('importing', 'messages', total);
    let chunk: ImportedMessage[] = [];
    let lineNumber = 0;
    let bytesRead = 0;
    try {
      for await (const { line, bytes } of lines(input)) {
        lineNumber++;
        bytesRead += bytes;
        if (line.toString('latin1').trim() === '') continue;
        const read = readExportLine(line);
        if (!read.ok) {
          const stored =
            tally.storedThrough === 0
              ? 'nothing was stored'
              : `lines 1-${tally.storedThrough} were stored (${summary(tally)}) and nothing after them`;
          throw new CliError(`${file}: line ${lineNumber} is not a valid message: ${read.reason}; ${stored}`);
        }
        chunk.push(read.message);
        if (chunk.length === IMPORT_CHUNK_LINES) {
          await storeChunk(store, chunk, tally, lineNumber);
          chunk = [];
          progress.update(tally.added + tally.skipped, bytesRead);
        }
      }
      if (chunk.length > 0) await storeChunk(store, chunk, tally, lineNumber);
      progress.update(tally.added + tally.skipped, bytesRead);
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (readError(error)) throw new CliError(`cannot read ${file}: ${error.code ?? error.message}`);
      const reason = error instanceof Error ? error.message : String(error);
      const stored =
        tally.storedThrough === 0 ? 'nothing was stored' : `lines 1-${tally.storedThrough} were stored (${summary(tally)})`;
      throw new CliError(`storing stopped at line ${lineNumber}: ${reason}; ${stored}`, { cause: error });
    } finally {
      progress.stop();
    }
  });
  process.stdout.write(`imported ${file} into ${describeDatabase(config.database)}: ${summary(tally)} (already stored)\n`);
}
