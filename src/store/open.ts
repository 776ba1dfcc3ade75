// Opens the MessageStore that DATABASE_URL names.

import type { DatabaseConfig } from '../config.js';
import { NoopStore } from './noop.js';
import { defaultWriterUrl, SqliteStore } from './sqlite.js';
import type { MessageStore } from './store.js';

export async function openStore(database: DatabaseConfig): Promise<MessageStore> {
  switch (database.kind) {
    case 'sqlite':
      return SqliteStore.open({ path: database.path, writerThread: defaultWriterUrl });
    case 'postgres':
      throw new Error('the PostgreSQL store is not available in this version');
    case 'noop':
      return new NoopStore();
  }
}
