// The dashboard's API types (web/src/api/schema.d.ts) are what openapi-typescript makes of the
// openapi.json committed beside them: a change of the API that was not followed by
// `npm run api-types` fails here, before the dashboard drifts from the API it reads.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, SCHEMA_TYPES_FILE, schemaTypes } from '../../web/openapi-types.js';

describe('web/src/api/schema.d.ts', () => {
  it('is up to date with openapi.json: `npm run api-types` would write exactly what is committed', async () => {
    const expected = await schemaTypes(readFileSync(OPENAPI_FILE, 'utf8'));
    expect(
      readFileSync(SCHEMA_TYPES_FILE, 'utf8') === expected,
      'web/src/api/schema.d.ts is stale: run `npm run api-types`',
    ).toBe(true);
  });

  it('is derived from the document: a route added to it appears in the types', async () => {
    const document = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as { paths: Record<string, unknown> };
    document.paths['/added-for-this-test'] = { get: { responses: { 200: { description: 'ok' } } } };
    expect(await schemaTypes(JSON.stringify(document))).toContain('"/added-for-this-test"');
  });
});
