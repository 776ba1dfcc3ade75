// Opens the store a DATABASE_URL names, for the seeder and the benchmark's own checks, as the
// server does: for SQLite, commits run on the writer thread and reads on reader threads. These
// scripts run from the TypeScript sources (tsx), and worker threads load only compiled files, so
// the threads run the build in dist/ (the scripts build first).

import { createLogger } from '../src/observability/logger.js';
import { openStore, type StoreConfig } from '../src/store/open.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import type { MessageStore } from '../src/store/store.js';

const compiledWriterUrl = new URL('../dist/store/sqlite/writer.worker.js', import.meta.url);
const compiledReaderUrl = new URL('../dist/store/sqlite/reader.worker.js', import.meta.url);

export async function openBenchStore(config: StoreConfig): Promise<MessageStore> {
  const { database } = config;
  if (database.kind === 'sqlite') {
    return SqliteStore.open({
      path: database.path,
      writerThread: compiledWriterUrl,
      readWorkers: config.readWorkers,
      readerThread: compiledReaderUrl,
      readTimeoutMs: config.readTimeoutMs,
    });
  }
  return openStore(config, createLogger('warn'));
}
