// vitest globalSetup of the projects that need PostgreSQL: TEST_DATABASE_URL when it is set,
// otherwise one embedded server for the whole run, shared by every project that asks for it and
// stopped after the last one. Test files get its admin URL through inject('postgresAdminUrl').

import type { TestProject } from 'vitest/node';
import { type PostgresServer, startEmbeddedPostgres } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL whose user may CREATE DATABASE: each test file makes its own database with it. */
    postgresAdminUrl: string;
  }
}

interface Shared {
  server: Promise<PostgresServer> | null;
  users: number;
}

// Each project loads this file as its own module, so the one server is kept on the global object.
const SHARED = Symbol.for('webhook-inbox.test.postgres');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL?.trim();
  if (external !== undefined && external !== '') {
    project.provide('postgresAdminUrl', external);
    return async () => {};
  }
  const holder = globalThis as typeof globalThis & { [SHARED]?: Shared };
  holder[SHARED] ??= { server: null, users: 0 };
  const shared = holder[SHARED];
  shared.users++;
  shared.server ??= startEmbeddedPostgres();
  const server = await shared.server;
  project.provide('postgresAdminUrl', server.adminUrl);
  return async () => {
    shared.users--;
    if (shared.users > 0) return;
    shared.server = null;
    await server.destroy();
  };
}
