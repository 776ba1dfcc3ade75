// Runs the MessageStore contract on the SQLite store, each test on a fresh file in its own temp dir.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite.js';
import { openConnection } from '../../src/store/sqlite-connection.js';
import { SqliteWriter } from '../../src/store/sqlite-writer.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledWriterUrl } from '../helpers/writer.js';
import { describeStoreContract, incoming } from './contract.js';

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

describe('SQLite text index built behind the writes', () => {
  const texts = ['Needle in a haystack', 'no match here', 'NEEDLES everywhere', null, 'a neeDle', 'needl', 'ne'];

  it('finds every match for q whether or not its row has been indexed yet, across restarts', async () => {
    const tmp = tempDir('webhook-inbox-index-');
    const file = path.join(tmp.dir, 'messages.db');
    const writerDb = openConnection(file, 'writer');
    const store = new SqliteStore({ path: file });
    try {
      const writer = new SqliteWriter(writerDb);
      const batch = Array.from({ length: 28 }, (_, i) =>
        incoming(`m${String(i).padStart(2, '0')}`, { text: texts[i % texts.length] ?? null }),
      );
      expect(writer.write(batch, new Date().toISOString())).toEqual(batch.map(() => 'created'));
      const expectIds = async (q: string) => {
        const folded = q.toLowerCase();
        const want = batch.filter((m) => m.text?.toLowerCase().includes(folded)).map((m) => m.messageId);
        const page = await store.listMessages({ q }, { limit: 100, offset: 0 });
        expect(
          page.data.map((m) => m.messageId),
          `q=${q} with ${writer.unindexedRows} rows unindexed`,
        ).toEqual(want);
        expect(page.total).toBe(want.length);
      };

      // Nothing indexed, part indexed, all indexed: the same answers (3+ characters use the index).
      const unindexed: number[] = [];
      for (;;) {
        unindexed.push(writer.unindexedRows);
        for (const q of ['needle', 'NEEDLE', 'eedl', 'haystack', 'ne']) await expectIds(q);
        if (writer.indexText(5) === 0) break;
      }
      expect(unindexed).toEqual([28, 23, 18, 13, 8, 3, 0]);

      // A second writer on the same file (a restart) knows what is left to index.
      writer.write([incoming('m99', { text: 'late needle' })], new Date().toISOString());
      batch.push(incoming('m99', { text: 'late needle' }));
      expect(new SqliteWriter(writerDb).unindexedRows).toBe(1);
      await expectIds('needle');
    } finally {
      writerDb.close();
      await store.close();
      tmp.cleanup();
    }
  });
});
