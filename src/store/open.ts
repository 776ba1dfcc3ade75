// Opens the MessageStore that DATABASE_URL names, with the read settings that apply to it.

import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { NoopStore } from './noop.js';
import { PostgresStore } from './postgres/store.js';
import { defaultReaderUrl, defaultWriterUrl, SqliteStore } from './sqlite/store.js';
import type { MessageStore } from './store.js';

/** What opening a store takes from the configuration. */
export type StoreConfig = Pick<Config, 'database' | 'readWorkers' | 'readTimeoutMs'>;

/**
 * `logger` receives what a store notices outside any request (PostgreSQL: a dropped connection, a
 * missing index). `bulkLoad`: the store is opened to load many rows (see SqliteStoreOptions).
 */
export async function openStore(
  config: StoreConfig,
  logger?: Logger,
  options: { readonly bulkLoad?: boolean } = {},
): Promise<MessageStore> {
  const { database, readTimeoutMs } = config;
  switch (database.kind) {
    case 'sqlite':
      return SqliteStore.open({
        path: database.path,
        writerThread: defaultWriterUrl,
        readWorkers: config.readWorkers,
        readerThread: defaultReaderUrl,
        readTimeoutMs,
        ...(options.bulkLoad === true ? { bulkLoad: true } : {}),
      });
    case 'postgres':
      return PostgresStore.open({ url: database.url, poolMax: database.poolMax, readTimeoutMs, ...(logger ? { logger } : {}) });
    case 'noop':
      return new NoopStore();
  }
}
