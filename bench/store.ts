// Opens the store a DATABASE_URL names, for the seeder and the benchmark's own checks, as the
// server does: for SQLite, commits run on the writer thread. These scripts run from the
// TypeScript sources (tsx), and worker threads load only compiled files, so the thread runs the
// build in dist/ (the scripts build first).

import type { DatabaseConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { openStore } from '../src/store/open.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { MessageStore } from '../src/store/store.js';

const compiledWriterUrl = new URL('../dist/store/sqlite-writer.worker.js', import.meta.url);

export async function openBenchStore(database: DatabaseConfig): Promise<MessageStore> {
  if (database.kind === 'sqlite') return SqliteStore.open({ path: database.path, writerThread: compiledWriterUrl });
  return openStore(database, createLogger('warn'));
}
