// The dashboard's typed client of the public API: paths, parameters and bodies come from
// schema.d.ts (generated from openapi.json), so a change of the API that the dashboard does not
// follow fails `npm run typecheck`. Every failure becomes an ApiError that says what failed.

import type { components, paths } from './schema';

export type Schemas = components['schemas'];

/** The paths that answer GET with a JSON body. */
type JsonGetPath = {
  [P in keyof paths]: paths[P] extends { get: { responses: { 200: { content: { 'application/json': unknown } } } } } ? P : never;
}[keyof paths];

type GetOperation<P extends JsonGetPath> = paths[P]['get'];

/** The query parameters of GET `P`. */
export type QueryOf<P extends JsonGetPath> = GetOperation<P> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** The path parameters of GET `P` (`{message_id}`). */
type PathParamsOf<P extends JsonGetPath> = GetOperation<P> extends { parameters: { path: infer T } } ? T : undefined;

/** The 200 body of GET `P`. */
export type Ok<P extends JsonGetPath> =
  GetOperation<P> extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;

/** One item of the feed, as GET /feed lists it and GET /events sends it. */
export type FeedItem = Ok<'/feed'>['data'][number];
export type Conversation = Ok<'/conversations'>['data'][number];
export type MessageItem = Schemas['MessageItem'];
export type MessageDetail = Ok<'/messages/{message_id}'>;
export type StatusItem = Schemas['StatusItem'];
export type StatusEvent = Schemas['StatusEvent'];
export type MessageEvent = Schemas['MessageEvent'];
export type DeadLetter = Schemas['DeadLetterItem'];

export type ApiErrorKind = 'unauthorized' | 'status' | 'network' | 'malformed' | 'aborted';

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'webhook-inbox:api-token';

/**
 * The API token lives in sessionStorage: it survives a reload but not the tab, and no other tab
 * or later visit sees it. A browser that refuses storage keeps it in memory for the page.
 */
let memoryToken: string | null = null;

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return memoryToken;
  }
}

export function setToken(token: string | null): void {
  memoryToken = token;
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode, a policy): the in-memory copy serves this page.
  }
}

/** The headers every request of the API carries. */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token === null || token === '' ? {} : { Authorization: `Bearer ${token}` };
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called on every 401 of the API: the app shows the token prompt. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function reportUnauthorized(): void {
  for (const listener of unauthorizedListeners) listener();
}

type QueryValue = string | number | boolean | undefined | null;

/**
 * The URL of an API path, relative to the page (the service serves the dashboard at its root, and
 * relative URLs keep working behind a proxy that mounts it under a prefix).
 */
export function apiUrl(path: string, query: Readonly<Record<string, QueryValue>> = {}): URL {
  const url = new URL(path.replace(/^\//, ''), document.baseURI);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url;
}

/** `{"detail": "…"}` or a 422's list of issues, in words; else null. */
function detailOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || !('detail' in body)) return null;
  const { detail } = body;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((issue: unknown) => {
        if (typeof issue !== 'object' || issue === null) return String(issue);
        const loc = 'loc' in issue && Array.isArray(issue.loc) ? issue.loc.slice(1).join('.') : '';
        const msg = 'msg' in issue ? String(issue.msg) : '';
        return loc === '' ? msg : `${loc}: ${msg}`;
      })
      .join('; ');
  }
  return null;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /** Statuses besides 200 whose body has the 200 shape (GET /health/ready answers 503 so). */
  readonly alsoOk?: readonly number[];
}

async function send(url: URL, label: string, accept: string, options: RequestOptions): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { Accept: accept, ...authHeaders() },
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      cache: 'no-store',
    });
  } catch (error) {
    if (options.signal?.aborted === true) throw new ApiError('aborted', `${label}: cancelled`);
    throw new ApiError(
      'network',
      `${label}: the server cannot be reached (${error instanceof Error ? error.message : 'network error'})`,
    );
  }
  if (response.status === 401) {
    reportUnauthorized();
    throw new ApiError('unauthorized', `${label}: the API token is missing or not accepted`, 401);
  }
  if (!response.ok && !(options.alsoOk ?? []).includes(response.status)) {
    let detail: string | null = null;
    try {
      detail = detailOf(await response.json());
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    throw new ApiError(
      'status',
      `${label}: the server answered ${response.status}${detail === null ? '' : ` (${detail})`}`,
      response.status,
    );
  }
  return response;
}

/**
 * The keys each 200 body must have: a broken answer (a proxy's page, a truncated body) becomes a
 * clear error here instead of a view that fails while drawing. Typed by the schema, so a key
 * named here that the API lacks does not compile.
 */
const REQUIRED: { readonly [P in JsonGetPath]?: readonly (keyof Ok<P>)[] } = {
  '/conversations': ['data', 'total', 'next_cursor'],
  '/messages': ['data', 'total'],
  '/messages/{message_id}': ['message_id', 'statuses'],
  '/dead-letters': ['data', 'total', 'offset', 'limit'],
  '/stats': ['total_messages', 'senders_count', 'messages_per_sender'],
  '/stats/timeseries': ['bucket', 'data'],
  '/health/ready': ['status', 'checks'],
};

/** The list keys among REQUIRED, which must hold arrays. */
const ARRAYS = new Set(['data', 'statuses', 'messages_per_sender']);

function hasShape(body: unknown, keys: readonly PropertyKey[]): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return keys.every(
    (key) => key in body && (!ARRAYS.has(String(key)) || Array.isArray((body as Record<PropertyKey, unknown>)[key])),
  );
}

export interface GetOptions<P extends JsonGetPath> extends RequestOptions {
  readonly query?: QueryOf<P>;
  readonly params?: PathParamsOf<P>;
}

/** GET a JSON path of the API. */
export async function getJson<P extends JsonGetPath>(path: P, options: GetOptions<P> = {}): Promise<Ok<P>> {
  let concrete: string = path;
  for (const [name, value] of Object.entries((options.params ?? {}) as Record<string, string>)) {
    concrete = concrete.replace(`{${name}}`, encodeURIComponent(value));
  }
  const label = `GET ${path}`;
  const response = await send(
    apiUrl(concrete, (options.query ?? {}) as Record<string, QueryValue>),
    label,
    'application/json',
    options,
  );
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    if (options.signal?.aborted === true) throw new ApiError('aborted', `${label}: cancelled`);
    throw new ApiError('malformed', `${label}: the answer is not JSON`, response.status);
  }
  const required: readonly PropertyKey[] = REQUIRED[path] ?? [];
  if (!hasShape(body, required))
    throw new ApiError('malformed', `${label}: the answer does not have the documented shape`, response.status);
  return body as Ok<P>;
}

/** GET a text path (GET /metrics). */
export async function getText(path: '/metrics', options: RequestOptions = {}): Promise<string> {
  const response = await send(apiUrl(path), `GET ${path}`, 'text/plain', options);
  return response.text();
}
