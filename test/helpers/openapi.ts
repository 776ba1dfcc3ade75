// Checks a response against what openapi.json documents for its route and status, with Ajv in
// strict mode: the HTTP tier runs every response it receives through it, so the document cannot
// drift from what the service does.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { PROJECT_ROOT } from './server.js';

interface Operation {
  readonly responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { readonly schemas: Record<string, unknown> };
}

export const OPENAPI_PATH = path.join(PROJECT_ROOT, 'openapi.json');

let loaded: { document: Document; ajv: Ajv2020; compiled: Map<string, ValidateFunction> } | undefined;

/** Local references (#/components/schemas/X) point at schemas registered with Ajv under their name. */
function withAjvRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withAjvRefs);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] =
      key === '$ref' && typeof value === 'string' ? value.replace('#/components/schemas/', 'component:') : withAjvRefs(value);
  }
  return out;
}

function load() {
  if (loaded) return loaded;
  const document = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Document;
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats.default(ajv);
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    const { $id: _id, ...rest } = withAjvRefs(schema) as Record<string, unknown>;
    ajv.addSchema({ ...rest, $id: `component:${name}` });
  }
  loaded = { document, ajv, compiled: new Map() };
  return loaded;
}

/** The documented path template a URL path matches (an exact path wins over a template). */
function templateOf(document: Document, urlPath: string): string | undefined {
  if (Object.hasOwn(document.paths, urlPath)) return urlPath;
  const segments = urlPath.split('/');
  return Object.keys(document.paths).find((template) => {
    const parts = template.split('/');
    return parts.length === segments.length && parts.every((part, i) => /^\{.+\}$/.test(part) || part === segments[i]);
  });
}

export interface ObservedResponse {
  readonly method: string;
  readonly url: string;
  readonly statusCode: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/**
 * Throws, naming the route, status and every mismatch, when the response is not what the document
 * says. A request that matched no documented route (a 404 for an unknown URL, a 400 for a URL that
 * cannot be decoded) has nothing to be checked against and passes.
 */
export function checkDocumentedResponse(response: ObservedResponse): void {
  const { document, ajv, compiled } = load();
  // The path the app was asked for: light-my-request, like any HTTP client, resolves dot segments
  // first, so `/messages/%2E%2E` is a request for `/` (the dashboard), not for a message.
  const base = 'http://localhost';
  const urlPath = new URL(response.url.startsWith('//') ? base + response.url : response.url, base).pathname;
  const template = templateOf(document, urlPath);
  const operation = template === undefined ? undefined : document.paths[template]?.[response.method.toLowerCase()];
  if (template === undefined || operation === undefined) return;
  const where = `${response.method} ${template} ${response.statusCode}`;
  const documented = operation.responses[String(response.statusCode)];
  if (documented === undefined) throw new Error(`${where}: status not documented (body ${response.body.slice(0, 200)})`);
  // A response documented without content (204) must come without a body.
  if (documented.content === undefined) {
    if (response.body !== '')
      throw new Error(`${where}: documented without content, but has a body (${response.body.slice(0, 200)})`);
    return;
  }
  const mediaType = (response.contentType ?? '').split(';', 1)[0]?.trim() ?? '';
  const content = documented.content;
  const entry = content[mediaType];
  if (entry === undefined) {
    throw new Error(`${where}: content type ${JSON.stringify(mediaType)} not documented (${Object.keys(content).join(', ')})`);
  }
  const key = `${where} ${mediaType}`;
  let validate = compiled.get(key);
  if (validate === undefined) {
    validate = ajv.compile(withAjvRefs(entry.schema ?? {}) as object);
    compiled.set(key, validate);
  }
  const body: unknown = mediaType === 'application/json' ? JSON.parse(response.body) : response.body;
  if (!validate(body)) {
    throw new Error(
      `${where}: body does not match the document: ${ajv.errorsText(validate.errors)}\n${response.body.slice(0, 500)}`,
    );
  }
}
