// A reader thread: runs the reads the main thread hands it, one at a time, on a connection of its
// own, so that a slow query (a short ?q= that scans, a deep offset) never blocks the event loop.

import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './connection.js';
import type { ReaderReply, ReaderRequest } from './reader-protocol.js';
import { answerTransfers, SqliteReads, ThreadReads } from './reads.js';

const port = parentPort;
if (port === null) throw new Error('sqlite/reader.worker must run as a worker thread');
const file: unknown = (workerData as { file?: unknown } | null)?.file;
if (typeof file !== 'string') throw new Error('sqlite/reader.worker needs workerData.file');

// The store opened (and created) the file before starting this thread: a reader started later (in
// place of a stopped one) must never create an empty database where the file has gone.
const db = openConnection(file, 'reader', { mustExist: true });

/**
 * Reads yield the CPU to webhooks. On Linux a nice value belongs to a thread (setpriority on pid 0
 * changes only the caller), so this lowers the reader threads alone: when the cores are busy, the
 * event loop and the writer thread run first, and reads take what is left, or reach
 * READ_TIMEOUT_MS and are shed. Elsewhere it may lower the whole process, so it is left as is.
 */
const READER_NICE = 10;
if (process.platform === 'linux') {
  try {
    setPriority(READER_NICE);
  } catch {
    // Not permitted in this environment: readers then share the CPU evenly, which is still correct.
  }
}
// Exports read on a connection of their own, with a small page cache, opened by the first one.
const reads = new ThreadReads(new SqliteReads(db), () => openConnection(file, 'export', { mustExist: true }));

port.on('message', (request: ReaderRequest) => {
  if (request.type === 'close') {
    reads.close();
    db.close();
    port.close();
    return;
  }
  let reply: ReaderReply;
  let transfers: ArrayBuffer[] = [];
  try {
    const answer = reads.answer(request.read);
    transfers = answerTransfers(request.read.kind, answer);
    reply = { type: 'answer', id: request.id, answer };
  } catch (error) {
    reply = { type: 'failed', id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply, transfers);
});
port.postMessage({ type: 'ready' } satisfies ReaderReply);
