// The dashboard's API types, generated from openapi.json with openapi-typescript into
// web/src/api/schema.d.ts (committed, so the front end type-checks without a server). `npm run
// api-types` rewrites the file; test/unit/web-api-types.test.ts fails when it is stale.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = path.join(ROOT, 'openapi.json');
export const SCHEMA_TYPES_FILE = path.join(ROOT, 'web', 'src', 'api', 'schema.d.ts');

const HEADER = `// Generated from openapi.json by \`npm run api-types\` (openapi-typescript): do not edit.\n\n`;

/** The TypeScript declarations of an OpenAPI document's text. */
export async function schemaTypes(openapiText: string): Promise<string> {
  const document = JSON.parse(openapiText) as OpenAPI3;
  return HEADER + astToString(await openapiTS(document));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_TYPES_FILE, await schemaTypes(readFileSync(OPENAPI_FILE, 'utf8')));
  process.stdout.write(`wrote ${path.relative(ROOT, SCHEMA_TYPES_FILE)}\n`);
}
