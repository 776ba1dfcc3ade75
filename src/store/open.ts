// Opens the MessageStore that DATABASE_URL names.

import type { DatabaseConfig } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { NoopStore } from './noop.js';
import { PostgresStore } from './postgres.js';
import { defaultWriterUrl, SqliteStore } from './sqlite.js';
import type { MessageStore } from './store.js';

/** `logger` receives what a store notices outside any request (PostgreSQL: a dropped connection, a missing index). */
export async function openStore(database: DatabaseConfig, logger?: Logger): Promise<MessageStore> {
  switch (database.kind) {
    case 'sqlite':
      return SqliteStore.open({ path: database.path, writerThread: defaultWriterUrl });
    case 'postgres':
      return PostgresStore.open({ url: database.url, poolMax: database.poolMax, ...(logger ? { logger } : {}) });
    case 'noop':
      return new NoopStore();
  }
}
