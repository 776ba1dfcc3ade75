// PostgreSQL for test files: the admin URL the global setup provides, and a database per file.

import { afterAll, inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from './postgres-server.js';

export type { TestDatabase };

export function postgresAdminUrl(): string {
  const url = inject('postgresAdminUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error(
      'no PostgreSQL for this test: run it in a vitest project whose globalSetup is test/helpers/postgres-setup.ts',
    );
  }
  return url;
}

/**
 * A fresh database for the calling test file (or describe block), created on first use and
 * dropped after its last test. Call at the top level of a file or describe block.
 */
export function useTestDatabase(label: string): () => Promise<TestDatabase> {
  let database: Promise<TestDatabase> | null = null;
  afterAll(async () => {
    const created = database;
    database = null;
    if (created !== null) await (await created).drop();
  });
  return () => {
    database ??= createTestDatabase(postgresAdminUrl(), label);
    return database;
  };
}
