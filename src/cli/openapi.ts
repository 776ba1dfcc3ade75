// `webhook-inbox openapi [--output FILE]`: writes the OpenAPI document the routes generate (the same
// one GET /openapi.json serves) to standard output or FILE. `npm run openapi` writes it to
// openapi.json at the repository root, where it is committed.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { NoopStore } from '../store/noop.js';

/** The repository root: one folder up from src/cli/ and from dist/cli/, two in all. */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The document, as the routes declare it; it depends on no environment variable. */
export async function openApiDocument(): Promise<unknown> {
  // No store is read: the app is built only to collect its routes' schemas. Loaded here, not at
  // the top, so that the other commands start without loading the whole service.
  const { buildApp } = await import('../app.js');
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

export function openApiCommand(program: Command): Command {
  return program
    .command('openapi')
    .summary('write the OpenAPI document of the API')
    .description('Writes the OpenAPI 3.1 document that GET /openapi.json serves, generated from the route schemas.')
    .option('--output <file>', 'write to this file (default: standard output)')
    .action(async (_options: unknown, command: Command) => {
      const { output } = command.opts<{ output?: string }>();
      const text = openApiText(await openApiDocument());
      if (output === undefined) {
        process.stdout.write(text);
        return;
      }
      await writeFile(output, text);
      process.stdout.write(`wrote ${output}\n`);
    });
}
