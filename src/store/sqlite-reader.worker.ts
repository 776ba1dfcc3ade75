// A reader thread: runs the reads the main thread hands it, one at a time, on a connection of its
// own, so that a slow query (a short ?q= that scans, a deep offset) never blocks the event loop.

import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './sqlite-connection.js';
import type { ReaderReply, ReaderRequest } from './sqlite-reader-protocol.js';
import { SqliteReads } from './sqlite-reads.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-reader.worker must run as a worker thread');
const file: unknown = (workerData as { file?: unknown } | null)?.file;
if (typeof file !== 'string') throw new Error('sqlite-reader.worker needs workerData.file');

// The store opened (and created) the file before starting this thread: a reader started later (in
// place of a stopped one) must never create an empty database where the file has gone.
const db = openConnection(file, 'reader', { mustExist: true });
const reads = new SqliteReads(db);

port.on('message', (request: ReaderRequest) => {
  if (request.type === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: ReaderReply;
  try {
    reply = { type: 'answer', id: request.id, answer: reads.answer(request.read) };
  } catch (error) {
    reply = { type: 'failed', id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
port.postMessage({ type: 'ready' } satisfies ReaderReply);
