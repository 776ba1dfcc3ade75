// The writer thread: owns one write connection and commits the batches and deliveries the main
// thread posts, so the disk sync of each commit never blocks the event loop that serves HTTP.
// Requests that queued up while a commit was running are merged into the next transaction: one
// disk sync answers all. Removals (erasures, retention batches) run in transactions of their own,
// in the order they came among the commits, and are followed by a truncating checkpoint.

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { IMPORT_REFUSED } from '../import-sequence.js';
import { StoreUnavailable } from '../store.js';
import { checkpointOptions, RemovalCheckpoint } from './checkpoint.js';
import { OpenedFiles, openConnection } from './connection.js';
import { SqliteWriter } from './writer.js';
import type { WriterAnswer, WriterData, WriterReply, WriterRequest } from './writer-protocol.js';

/** The most rows merged into one transaction. */
const MAX_MERGED_ROWS = 4096;
/**
 * Rows added to the trigram index per transaction. A chunk holds the writer for a few
 * milliseconds, during which webhook batches queue up and are then merged into one commit.
 */
const INDEX_CHUNK_ROWS = 512;
/** Fewer unindexed rows than a chunk are indexed once writes pause for this long. */
const INDEX_IDLE_MS = 100;

const port = parentPort;
if (port === null) throw new Error('sqlite/writer.worker must run as a worker thread');
const data = workerData as Partial<WriterData> | null;
const file = data?.file;
const opened = data?.opened;
if (typeof file !== 'string' || opened === undefined) throw new Error('sqlite/writer.worker needs workerData.file and .opened');

// The files the main thread opened, not whatever the path names now: a thread (re)started after
// the file was deleted must refuse, never create and fill a fresh one (SqliteWriterThread checks
// before starting it; this covers a deletion in between).
const files = new OpenedFiles(file, opened);
files.check();
const db = openConnection(file, 'writer', {
  mustExist: true,
  ...(data?.cacheKiB === undefined ? {} : { cacheKiB: data.cacheKiB }),
  ...(data?.autocheckpointPages === undefined ? {} : { autocheckpointPages: data.autocheckpointPages }),
});
let writer: SqliteWriter;
try {
  files.check();
  writer = new SqliteWriter(db, files);
} catch (error) {
  db.close();
  throw error;
}
let closing = false;
const checkpoint = new RemovalCheckpoint(db, checkpointOptions(data ?? {}));

// Text indexing runs between commits. After a commit that leaves a chunk or more unindexed, at
// least as many rows as it created are indexed at once (its replies are already posted), so the
// index keeps pace with any write rate; a backlog (rows a previous run left) is worked off a chunk
// at a time behind the commits, and the remainder once the writes pause.
let indexing: { readonly cancel: () => void } | null = null;

/** `created`: the messages the commit just made (each one unindexed). */
function keepIndexPace(created: number): void {
  if (closing || writer.unindexedRows < INDEX_CHUNK_ROWS) return;
  try {
    writer.indexText(Math.max(INDEX_CHUNK_ROWS, created));
  } catch {
    // The rows stay searchable by scanning; the next commit or step tries again.
  }
}

function scheduleIndexing(): void {
  if (closing || indexing !== null || writer.unindexedRows === 0) return;
  const step = () => {
    indexing = null;
    if (closing) return;
    try {
      writer.indexText(INDEX_CHUNK_ROWS);
    } catch {
      // The rows stay searchable by scanning; the next step tries again.
    }
    scheduleIndexing();
  };
  if (writer.unindexedRows >= INDEX_CHUNK_ROWS) {
    const immediate = setImmediate(step);
    indexing = { cancel: () => clearImmediate(immediate) };
  } else {
    const timer = setTimeout(step, INDEX_IDLE_MS);
    indexing = { cancel: () => clearTimeout(timer) };
  }
}

type CommitRequest = Extract<WriterRequest, { type: 'commit' }>;
type RemoveRequest = Extract<WriterRequest, { type: 'remove' }>;

/** Rows a request adds to a transaction. */
function rowsOf({ part }: CommitRequest): number {
  return part.messages.length + part.statuses.length + part.deadLetters.length;
}

/**
 * The import sequences of which a request failed: their later requests are refused unwritten,
 * even those posted before the failure was answered (see ImportSequence).
 */
const failedSequences = new Set<number>();

/** Whether the request belongs to a sequence that has failed; if so, answers it as refused. */
function refused(request: CommitRequest): boolean {
  if (request.sequence === undefined || !failedSequences.has(request.sequence)) return false;
  port?.postMessage({
    type: 'answers',
    answers: [{ id: request.id, error: IMPORT_REFUSED, unavailable: false }],
  } satisfies WriterReply);
  return true;
}

/** Commits the requests in one transaction and answers them all in one message. */
function commit(requests: CommitRequest[]): void {
  let answers: WriterAnswer[];
  try {
    const outcomes = writer.commit(requests.map((request) => request.part));
    answers = requests.map((request, i): WriterAnswer => {
      const outcome = outcomes[i];
      return outcome === undefined
        ? { id: request.id, error: 'the writer returned no outcome for this request', unavailable: false }
        : { id: request.id, outcome };
    });
  } catch (error) {
    // One transaction: nothing of any request in it was committed, so every one of them fails.
    const reason = error instanceof Error ? error.message : String(error);
    const unavailable = error instanceof StoreUnavailable;
    answers = requests.map((request) => ({ id: request.id, error: reason, unavailable }));
    for (const { sequence } of requests) if (sequence !== undefined) failedSequences.add(sequence);
  }
  port?.postMessage({ type: 'answers', answers } satisfies WriterReply);
}

/** Runs one removal in its own transaction and answers it. */
function remove(request: RemoveRequest): void {
  let answer: WriterAnswer;
  try {
    const started = performance.now();
    const removed = writer.remove(request.removal);
    answer = { id: request.id, removed, writerMs: performance.now() - started };
    if (removed.messages + removed.statuses + removed.deadLetters > 0) checkpoint.removed();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    answer = { id: request.id, error: reason, unavailable: error instanceof StoreUnavailable };
  }
  port?.postMessage({ type: 'answers', answers: [answer] } satisfies WriterReply);
}

port.on('message', (first: WriterRequest) => {
  // A removal met while merging commits is taken off the port there, so it runs here next.
  let next: WriterRequest | undefined = first;
  while (next !== undefined && !closing) {
    const request: WriterRequest = next;
    next = undefined;
    if (request.type === 'close') {
      closing = true;
    } else if (request.type === 'remove') {
      remove(request);
    } else if (!refused(request)) {
      const batch: CommitRequest[] = [request];
      let rows = rowsOf(request);
      // Take whatever else is already waiting, batches and deliveries alike, without yielding to
      // the event loop; a removal ends the merge and runs after this commit.
      while (rows < MAX_MERGED_ROWS) {
        const waiting = receiveMessageOnPort(port)?.message as WriterRequest | undefined;
        if (waiting === undefined) break;
        if (waiting.type !== 'commit') {
          next = waiting;
          break;
        }
        if (refused(waiting)) continue;
        batch.push(waiting);
        rows += rowsOf(waiting);
      }
      const unindexedBefore = writer.unindexedRows;
      commit(batch);
      keepIndexPace(writer.unindexedRows - unindexedBefore);
    }
  }
  scheduleIndexing();
  if (closing) {
    indexing?.cancel();
    checkpoint.close();
    // Writes posted before 'close' were received first (ports keep order) and are committed.
    db.close();
    port.close();
  }
});
port.postMessage({ type: 'ready' } satisfies WriterReply);
scheduleIndexing();
