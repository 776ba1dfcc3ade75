// `npm run openapi [-- --output FILE]`: writes the OpenAPI document the routes generate (the same
// one GET /openapi.json serves) to openapi.json at the repository root, or to FILE.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { NoopStore } from '../store/noop.js';

/** The repository root: one folder up from src/cli/ and from dist/cli/, two in all. */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The document, as the routes declare it; it depends on no environment variable. */
export async function openApiDocument(): Promise<unknown> {
  // No store is read: the app is built only to collect its routes' schemas.
  const app = await buildApp({ config: loadConfig({}, REPOSITORY_ROOT), store: new NoopStore(), logger: createLogger('error') });
  try {
    return app.swagger();
  } finally {
    await app.close();
  }
}

/** The file's text: two-space JSON with a final newline, so a diff of it reads well. */
export function openApiText(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { output: { type: 'string', short: 'o' } } });
  const output = path.resolve(values.output ?? path.join(REPOSITORY_ROOT, 'openapi.json'));
  writeFileSync(output, openApiText(await openApiDocument()));
  process.stdout.write(`wrote ${output}\n`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
