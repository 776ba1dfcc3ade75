// The SQLite store when its file is deleted or replaced under it: a connection that stays open
// writes on into the unlinked file, so every commit acknowledged from then on would be lost at the
// next start. The store must refuse writes and fail its health check instead.

import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenedFiles, openConnection } from '../../src/store/sqlite/connection.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { messagesPart } from '../../src/store/sqlite/writer.js';
import { SqliteWriterThread } from '../../src/store/sqlite/writer-thread.js';
import { StoreUnavailable } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';
import { compiledWriterUrl } from '../helpers/writer.js';
import { incoming } from './contract.js';

const SIDE_FILES = ['', '-wal', '-shm'];

/** What a refused write or health check says. */
const REASON = /database file.* \S*messages\.db(-wal)? was deleted or replaced while open.*restore.*restart/s;

async function expectUnavailable(promise: Promise<unknown>, reason = REASON): Promise<void> {
  const error: unknown = await promise.then(
    () => new Error('expected the store to refuse, but it resolved'),
    (rejected: unknown) => rejected,
  );
  expect(error).toBeInstanceOf(StoreUnavailable);
  expect(error instanceof Error ? error.message : String(error)).toMatch(reason);
}

const MODES = [
  { mode: 'with a writer thread', writerThread: compiledWriterUrl },
  { mode: 'writing inline', writerThread: undefined },
];

describe.each(MODES)('SQLite store whose file goes away while open ($mode)', ({ writerThread }) => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const open = async () => {
    const tmp = tempDir('webhook-inbox-files-');
    cleanups.push(tmp.cleanup);
    const file = path.join(tmp.dir, 'messages.db');
    const store = await SqliteStore.open({ path: file, ...(writerThread === undefined ? {} : { writerThread }) });
    cleanups.push(() => store.close());
    expect(await store.insertMany([incoming('before')])).toEqual(['created']);
    await store.checkHealth();
    return { dir: tmp.dir, file, store };
  };

  it('refuses writes and fails its health check once the files are deleted, and keeps refusing', async () => {
    const { file, store } = await open();
    for (const suffix of SIDE_FILES) rmSync(`${file}${suffix}`);

    await expectUnavailable(store.insertMany([incoming('after')]));
    await expectUnavailable(store.checkHealth());
    await expectUnavailable(store.storeDelivery({ messages: [incoming('again')], statuses: [], deadLetters: [], source: 'x' }));
    await expectUnavailable(store.checkHealth());
    // Not silently carried on in a fresh, empty file at the same path either.
    expect(existsSync(file)).toBe(false);
  });

  it('refuses writes and fails its health check once the file is replaced by another at the same path', async () => {
    const { dir, file, store } = await open();
    mkdirSync(path.join(dir, 'moved'));
    for (const suffix of SIDE_FILES) renameSync(`${file}${suffix}`, path.join(dir, 'moved', `messages.db${suffix}`));
    const replacement = openConnection(file);
    replacement.close();

    await expectUnavailable(store.insertMany([incoming('after')]));
    await expectUnavailable(store.checkHealth());
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('refuses writes once only the -wal file is deleted: what it holds is not in the database file yet', async () => {
    const { file, store } = await open();
    rmSync(`${file}-wal`);

    const walReason = /messages\.db-wal was deleted or replaced while open/;
    await expectUnavailable(store.insertMany([incoming('after')]), walReason);
    await expectUnavailable(store.checkHealth(), walReason);
  });
});

describe('SQLite writer thread started after the file went away', () => {
  it('refuses, rather than opening a fresh file at the path', async () => {
    const tmp = tempDir('webhook-inbox-files-');
    const file = path.join(tmp.dir, 'messages.db');
    const db = openConnection(file);
    const thread = new SqliteWriterThread(OpenedFiles.of(file), compiledWriterUrl);
    try {
      for (const suffix of SIDE_FILES) rmSync(`${file}${suffix}`);
      await expectUnavailable(thread.commit(messagesPart([incoming('after')], new Date().toISOString())));
      expect(existsSync(file)).toBe(false);
    } finally {
      await thread.close();
      db.close();
      tmp.cleanup();
    }
  });
});
