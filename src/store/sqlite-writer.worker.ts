// The writer thread: owns one write connection and commits the batches the main thread posts, so
// the disk sync of each commit never blocks the event loop that serves HTTP.

import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './sqlite-connection.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { WriterReply, WriterRequest } from './sqlite-writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-writer.worker must run as a worker thread');
const file: unknown = (workerData as { file?: unknown } | null)?.file;
if (typeof file !== 'string') throw new Error('sqlite-writer.worker needs workerData.file');

const db = openConnection(file);
const writer = new SqliteWriter(db);

port.on('message', (request: WriterRequest) => {
  if (request.type === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { id: request.id, outcomes: writer.write(request.messages, request.createdAt) };
  } catch (error) {
    reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
port.postMessage({ type: 'ready' } satisfies WriterReply);
