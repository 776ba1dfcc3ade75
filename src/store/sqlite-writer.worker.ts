// The writer thread: owns one write connection and commits the batches the main thread posts, so
// the disk sync of each commit never blocks the event loop that serves HTTP. Batches that queued
// up while a commit was running are merged into the next transaction: one disk sync answers all.

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { openConnection } from './sqlite-connection.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { WriterReply, WriterRequest } from './sqlite-writer-protocol.js';
import type { IncomingMessage } from './store.js';

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
if (port === null) throw new Error('sqlite-writer.worker must run as a worker thread');
const file: unknown = (workerData as { file?: unknown } | null)?.file;
if (typeof file !== 'string') throw new Error('sqlite-writer.worker needs workerData.file');

const db = openConnection(file, 'writer');
const writer = new SqliteWriter(db);
let closing = false;

// Text indexing runs between commits: a full chunk as soon as there is one (after the batches
// already waiting), the remainder when the writes pause.
let indexing: { readonly cancel: () => void } | null = null;
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

type WriteRequest = Extract<WriterRequest, { type: 'write' }>;

function commit(requests: WriteRequest[]): void {
  const messages: IncomingMessage[] = [];
  for (const request of requests) messages.push(...request.messages);
  const createdAt = requests[requests.length - 1]?.createdAt ?? new Date().toISOString();
  let replies: WriterReply[];
  try {
    const outcomes = writer.write(messages, createdAt);
    let offset = 0;
    replies = requests.map((request) => {
      const mine = outcomes.slice(offset, offset + request.messages.length);
      offset += request.messages.length;
      return { id: request.id, outcomes: mine };
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    replies = requests.map((request) => ({ id: request.id, error: reason }));
  }
  for (const reply of replies) port?.postMessage(reply);
}

port.on('message', (first: WriterRequest) => {
  if (first.type === 'close') {
    closing = true;
  } else {
    const batch: WriteRequest[] = [first];
    let rows = first.messages.length;
    // Take whatever else is already waiting, without yielding to the event loop.
    while (rows < MAX_MERGED_ROWS) {
      const next = receiveMessageOnPort(port)?.message as WriterRequest | undefined;
      if (next === undefined) break;
      if (next.type === 'close') {
        closing = true;
        break;
      }
      batch.push(next);
      rows += next.messages.length;
    }
    commit(batch);
    scheduleIndexing();
  }
  if (closing) {
    indexing?.cancel();
    // Writes posted before 'close' were received first (ports keep order) and are committed.
    db.close();
    port.close();
  }
});
port.postMessage({ type: 'ready' } satisfies WriterReply);
