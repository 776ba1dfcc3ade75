// Compiles src/ to dist/ once before any test runs: end-to-end tests start dist/server.js, and the
// SQLite writer thread runs dist/store/sqlite/writer.worker.js (worker threads load compiled files).
// Bundles the dashboard into dist/web too, so that every server a test starts serves it at /.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { buildWeb } from '../../web/build.js';
import { PROJECT_ROOT } from './server.js';

export default async function setup(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  await buildWeb();
}
