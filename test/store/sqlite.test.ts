// Runs the MessageStore contract on the SQLite store, each test on a fresh file in its own temp dir.

import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledWriterUrl } from '../helpers/writer.js';
import { describeStoreContract } from './contract.js';

describeStoreContract('SQLite', async () => {
  const tmp = tempDir('webhook-inbox-store-');
  const store = new SqliteStore({ path: path.join(tmp.dir, 'nested', 'messages.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      tmp.cleanup();
    },
  };
});

describeStoreContract('SQLite with a writer thread', async () => {
  const tmp = tempDir('webhook-inbox-store-');
  const store = await SqliteStore.open({ path: path.join(tmp.dir, 'messages.db'), writerThread: compiledWriterUrl });
  return {
    store,
    cleanup: async () => {
      await store.close();
      tmp.cleanup();
    },
  };
});
