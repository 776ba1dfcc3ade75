import { defineConfig } from 'vitest/config';

// PostgreSQL for the projects that need it: TEST_DATABASE_URL, or one embedded server per run.
const postgres = 'test/helpers/postgres-setup.ts';
const http = ['test/http/**/*.test.ts'];

// Four tiers. Unit and HTTP files run in parallel, each with its own
// database; end-to-end files start real server processes and run one at a time. The HTTP tier is
// one suite run on each store: TEST_STORE picks the store test/helpers/app.ts builds the app on.
// The browser tier drives the dashboard in a real Chromium against a real server, one file at a
// time and after the other tiers, so that what it waits for on screen never competes with them for CPU.
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'http',
          include: [...http, 'test/store/**/*.test.ts'],
          env: { TEST_STORE: 'sqlite' },
          globalSetup: [postgres],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'http-postgres',
          include: http,
          env: { TEST_STORE: 'postgres' },
          globalSetup: [postgres],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/cli/**/*.test.ts'],
          globalSetup: [postgres],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/helpers/browser-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
