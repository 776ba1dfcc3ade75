// `webhook-inbox import FILE`: stores the messages of an NDJSON export in the database, a chunk of
// lines per transaction. A message_id already stored is skipped (the first write wins, as for
// webhooks); every message added keeps its received_at and becomes a new event of the feed. Each
// line is checked with the webhook's own rules before anything of its chunk is written.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { codePointLength, type ValidationIssue } from '../ingest/issues.js';
import {
  MAX_MESSAGE_ID_CODE_POINTS,
  MESSAGE_SOURCES,
  type MessageSource,
  parseJsonObject,
  validateMessage,
} from '../ingest/message.js';
import { instantKey } from '../ingest/timestamp.js';
import { ImportSequence } from '../store/import-sequence.js';
import type { ImportedMessage, InsertOutcome, MessageStore } from '../store/store.js';
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
import { type Progress, startProgress } from './progress.js';

/**
 * Lines per transaction unless --chunk says otherwise: large enough to be fast, small enough that
 * a failure loses little work. Each transaction writes every index page its rows touch to the log
 * once, and the message_id and sender indexes are touched all over, so a larger transaction
 * writes each such page once for more rows: importing the benchmark's export of 1,000,000
 * messages (with the bulk load's page cache, before the hand-over of the next chunk during a
 * commit) took 51-57 s at 20,000 lines, 58 s at 10,000 and 61-64 s at 5,000. Each transaction
 * holds the database's write lock for its commit, about a second at 20,000 lines: a service
 * running on the database makes its webhooks wait that long.
 */
export const IMPORT_CHUNK_LINES = 20_000;

/**
 * The first chunk's lines: each next chunk doubles, up to --chunk. The writer waits for the first
 * chunk to be read and checked (20,000 lines took 0.64 s, the writer idle meanwhile); a small first
 * chunk sets it to work sooner, and the doubling keeps the reading ahead of it.
 */
export const IMPORT_FIRST_CHUNK_LINES = 1000;

export function importCommand(program: Command, env: Env): Command {
  return withDatabaseOption(
    program
      .command('import')
      .summary('store the messages of an NDJSON export in the database')
      .description(
        'Reads an NDJSON export (`webhook-inbox export`; "-" reads standard input) into the database, a chunk of lines ' +
          'per transaction (the first of 1,000 lines, each next one twice as large up to --chunk). A message_id already stored is skipped. Each message keeps its received_at and becomes a new ' +
          'event of the feed. A line that is not a valid message stops the import: the error names it, and every ' +
          'chunk of lines before its chunk is stored. The service may keep running meanwhile: its webhooks wait for ' +
          'each chunk to commit (about a second for 20,000 lines), which a smaller --chunk shortens.',
      )
      .argument('<file>', 'the NDJSON file')
      .addOption(new Option('--chunk <lines>', 'lines per transaction').argParser(positiveInteger).default(IMPORT_CHUNK_LINES)),
  ).action(async (file: string, _options: unknown, command: Command) => {
    await importFile(file, command.opts<ImportOptions>(), env);
  });
}

interface ImportOptions extends DatabaseOptions {
  readonly chunk: number;
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

/**
 * A line of white space alone (or nothing), which is skipped: the bytes String.prototype.trim
 * removes from a line read as Latin-1 (tab to carriage return, space, no-break space), checked in
 * place rather than by making a string of every line.
 */
function blank(line: Buffer): boolean {
  for (const byte of line) if (!((byte >= 0x09 && byte <= 0x0d) || byte === 0x20 || byte === 0xa0)) return false;
  return true;
}

/**
 * The lines of a stream as bytes (without the line break, CR LF or LF), with the bytes each took.
 * A line within one piece of the stream is a view of it, not a copy: each line is read once, at
 * once, and copying a million lines into buffers of their own made work for the collector.
 */
async function* lines(input: AsyncIterable<Buffer>): AsyncGenerator<{ line: Buffer; bytes: number }> {
  let pending: Buffer[] = [];
  for await (const chunk of input) {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      const line = pending.length === 0 ? chunk.subarray(start, end) : Buffer.concat([...pending, chunk.subarray(start, end)]);
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

/** A chunk the store did not take: `line` is its last line. */
class ChunkFailed extends Error {
  constructor(
    readonly line: number,
    readonly reason: unknown,
  ) {
    super(reason instanceof Error ? reason.message : String(reason), { cause: reason });
  }
}

async function storeChunk(
  store: MessageStore,
  sequence: ImportSequence,
  chunk: ImportedMessage[],
  tally: Tally,
  lastLine: number,
): Promise<void> {
  let outcomes: InsertOutcome[];
  try {
    outcomes = await store.importMessages(chunk, sequence);
  } catch (error) {
    throw new ChunkFailed(lastLine, error);
  }
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

async function importFile(file: string, options: ImportOptions, env: Env): Promise<void> {
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

  await withStore(
    config,
    async (store) => {
      const progress: Progress = startProgress('importing', 'messages', total);
      let chunk: ImportedMessage[] = [];
      let lineNumber = 0;
      let bytesRead = 0;
      // The chunks of this file, in order: the store refuses one that follows a chunk it failed to
      // store, so nothing after a failed chunk is ever stored.
      const sequence = new ImportSequence();
      // The chunk being committed while the next one is read and checked. Once read, the next is
      // handed to the store at once, so the writer can take it as soon as it is done with this
      // one; only then is this one waited for. At most two chunks are in the store's hands.
      let committing: Promise<void> | null = null;
      let size = Math.min(IMPORT_FIRST_CHUNK_LINES, options.chunk);
      const committed = async (): Promise<void> => {
        const pending = committing;
        committing = null;
        if (pending !== null) await pending;
      };
      try {
        for await (const { line, bytes } of lines(input)) {
          lineNumber++;
          bytesRead += bytes;
          if (blank(line)) continue;
          const read = readExportLine(line);
          if (!read.ok) {
            await committed();
            const stored =
              tally.storedThrough === 0
                ? 'nothing was stored'
                : `lines 1-${tally.storedThrough} were stored (${summary(tally)}) and nothing after them`;
            throw new CliError(`${file}: line ${lineNumber} is not a valid message: ${read.reason}; ${stored}`);
          }
          chunk.push(read.message);
          if (chunk.length === size) {
            size = Math.min(size * 2, options.chunk);
            const handed = storeChunk(store, sequence, chunk, tally, lineNumber);
            // Observed by committed() once it is the one committing; a failure meanwhile (or its
            // refusal, after the chunk before it failed) must not count as unhandled.
            handed.catch(() => {});
            chunk = [];
            await committed();
            committing = handed;
            progress.update(tally.added + tally.skipped, bytesRead);
          }
        }
        await committed();
        if (chunk.length > 0) await storeChunk(store, sequence, chunk, tally, lineNumber);
        progress.update(tally.added + tally.skipped, bytesRead);
      } catch (error) {
        if (error instanceof CliError) throw error;
        if (readError(error)) {
          // What was handed to the store before the file failed is stored (or not) before saying so.
          await committed().catch(() => {});
          throw new CliError(`cannot read ${file}: ${error.code ?? error.message}`);
        }
        const failed = error instanceof ChunkFailed ? error : null;
        const reason = error instanceof Error ? error.message : String(error);
        const stored =
          tally.storedThrough === 0 ? 'nothing was stored' : `lines 1-${tally.storedThrough} were stored (${summary(tally)})`;
        throw new CliError(`storing stopped at line ${failed?.line ?? lineNumber}: ${reason}; ${stored}`, {
          cause: failed?.reason ?? error,
        });
      } finally {
        progress.stop();
      }
    },
    { bulkLoad: true },
  );
  process.stdout.write(`imported ${file} into ${describeDatabase(config.database)}: ${summary(tally)} (already stored)\n`);
}
