// GET /messages: paginated, filtered, chronological listing; GET /messages/{message_id}:
// one message with its delivery statuses.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { instantKey, TIMESTAMP_FORMAT_MESSAGE } from '../ingest/timestamp.js';
import type { MessageFilter, Page, Position } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { NotFound, ValidationFailed } from './errors.js';
import { READ_SECURITY } from './openapi.js';
import {
  detail,
  MessageItem,
  NullableString,
  PHONE,
  StatusItem,
  unauthorizedRead,
  unavailable,
  validationError,
} from './schemas.js';

export interface MessageQuery {
  readonly filter: MessageFilter;
  readonly page: Page;
  /** True when the client asked for keyset pagination (a `cursor` parameter, empty for the first page). */
  readonly keyset: boolean;
}

/** Cursors are opaque to clients: base64url of the JSON position [tsKey, messageId]. */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.tsKey, position.messageId]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): Position | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [tsKey, messageId] = value;
    // A key is its own canonical form: re-parsing it as a timestamp gives it back.
    if (typeof tsKey !== 'string' || typeof messageId !== 'string' || instantKey(`${tsKey}Z`) !== tsKey) return null;
    return { tsKey, messageId };
  } catch {
    return null;
  }
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

export type QueryValue = string | string[] | undefined;

/** One query parameter; a repeated one is ambiguous and rejected rather than guessed at. */
function single(query: Record<string, QueryValue>, name: string, issues: ValidationIssue[]): string | undefined {
  const value = Object.hasOwn(query, name) ? query[name] : undefined;
  if (Array.isArray(value)) {
    issues.push({ loc: ['query', name], type: 'query_repeated', msg: 'Give this parameter at most once' });
    return undefined;
  }
  return value;
}

function integerParam(
  query: Record<string, QueryValue>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  issues: ValidationIssue[],
): number {
  const raw = single(query, name, issues);
  if (raw === undefined) return fallback;
  const loc = ['query', name];
  if (!/^[0-9]+$/.test(raw)) {
    issues.push({ loc, type: 'int_parsing', msg: 'Input should be a valid integer, unable to parse string as an integer' });
    return fallback;
  }
  const value = Number(raw);
  if (value < min) issues.push({ loc, type: 'greater_than_equal', msg: `Input should be greater than or equal to ${min}` });
  else if (value > max) issues.push({ loc, type: 'less_than_equal', msg: `Input should be less than or equal to ${max}` });
  return value;
}

/** Validates plain `limit` and `offset` paging (the lists other than /messages). Pure. */
export function parsePageQuery(query: Record<string, QueryValue>): Parsed<{ limit: number; offset: number }> {
  const issues: ValidationIssue[] = [];
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT, issues);
  const offset = integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, issues);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { limit, offset } };
}

/** Validates the query string of GET /messages; names every bad parameter. Pure. */
export function parseMessageQuery(query: Record<string, QueryValue>): Parsed<MessageQuery> {
  const issues: ValidationIssue[] = [];
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT, issues);
  const offset = integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, issues);

  let from = single(query, 'from', issues);
  // A raw `+` in a query string decodes to a space, and curl sends `+` raw: read the space back as `+`.
  if (from?.startsWith(' ')) from = `+${from.slice(1)}`;

  const since = single(query, 'since', issues);
  let sinceKey: string | undefined;
  if (since !== undefined) {
    sinceKey = instantKey(since) ?? undefined;
    if (sinceKey === undefined) {
      issues.push({
        loc: ['query', 'since'],
        type: 'datetime_format',
        msg: TIMESTAMP_FORMAT_MESSAGE,
      });
    }
  }

  // An empty q (a cleared search box) filters nothing.
  const q = single(query, 'q', issues);

  const cursor = single(query, 'cursor', issues);
  let after: Position | undefined;
  if (cursor !== undefined && cursor !== '') {
    after = decodeCursor(cursor) ?? undefined;
    if (after === undefined) {
      issues.push({
        loc: ['query', 'cursor'],
        type: 'cursor_invalid',
        msg: 'Cursor should be a next_cursor value from an earlier page',
      });
    }
  }
  if (cursor !== undefined && offset !== 0) {
    issues.push({ loc: ['query', 'offset'], type: 'offset_with_cursor', msg: 'Use either offset or cursor, not both' });
  }

  if (issues.length > 0) return { ok: false, issues };
  const filter: MessageFilter = {
    ...(from !== undefined ? { from } : {}),
    ...(sinceKey !== undefined ? { sinceKey } : {}),
    ...(q !== undefined && q !== '' ? { q } : {}),
  };
  return { ok: true, value: { filter, page: { limit, offset, ...(after ? { after } : {}) }, keyset: cursor !== undefined } };
}

/** Provider JSON stored as text (status errors, dead-letter items), given back as JSON. */
export function storedJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const MessageDetail = Type.Object(
  {
    message_id: Type.String(),
    from: NullableString({ pattern: PHONE }),
    to: NullableString({ pattern: PHONE }),
    ts: NullableString(),
    text: NullableString(),
    type: NullableString({ description: "The provider's message type (text, image, …); null for a message of the core form." }),
    statuses: Type.Array(Type.Ref(StatusItem), { description: 'Oldest first; sent < delivered < read < failed at one instant.' }),
  },
  {
    additionalProperties: false,
    description:
      'A message and its delivery statuses. When only statuses are known (they usually describe messages the business sent), the message fields are null.',
  },
);

const MessagePage = Type.Object(
  {
    data: Type.Array(Type.Ref(MessageItem)),
    total: Type.Integer({ minimum: 0, description: 'Every message matching the filters, ignoring limit, offset and cursor.' }),
    limit: Type.Integer({ description: 'As applied.' }),
    offset: Type.Integer({ description: 'As applied.' }),
    next_cursor: Type.Optional(
      NullableString({
        description:
          'Only when the request had a `cursor` parameter: pass it back as `cursor` for the next page; null on the last page.',
      }),
    ),
  },
  { additionalProperties: false, description: 'One page of messages, oldest first, with the total that match.' },
);

const TIMESTAMP = 'YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant.';

const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  from: Type.Optional(
    Type.String({
      description:
        'Exact sender. A leading space is read as `+` (a raw `+` in a query string decodes to a space, and curl sends it raw).',
      examples: ['+919876543210'],
    }),
  ),
  since: Type.Optional(Type.String({ description: `Keeps messages at or after this instant: ${TIMESTAMP}` })),
  q: Type.Optional(
    Type.String({
      description: 'Case-insensitive substring of the text (Unicode-aware; %, _ and \\ are literal). Empty: no filter.',
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      description: 'Keyset pagination: empty for the first page, then each `next_cursor`. Not together with a non-zero offset.',
    }),
  ),
});

export async function messagesRoutes(app: FastifyInstance, { store, auth }: ReadRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/messages/:message_id',
    {
      onRequest: auth,
      schema: {
        summary: 'One message with its delivery statuses',
        tags: ['messages'],
        security: READ_SECURITY,
        params: Type.Object({ message_id: Type.String({ description: 'Up to 512 characters.' }) }),
        response: {
          200: MessageDetail,
          400: detail(
            'The id in the URL is not valid percent-encoded UTF-8.',
            "'/messages/%ED%A0%80' is not a valid url component",
          ),
          401: unauthorizedRead,
          404: detail('No message and no status has this id.', 'message not found'),
          503: unavailable,
        },
      },
    },
    async (request) => {
      const found = await store.getMessage(request.params.message_id);
      if (found === null) throw new NotFound('message not found');
      const m = found.message;
      return {
        message_id: found.messageId,
        from: m?.from ?? null,
        to: m?.to ?? null,
        ts: m?.ts ?? null,
        text: m?.text ?? null,
        type: m?.type ?? null,
        statuses: found.statuses.map((s) => ({
          status: s.status,
          ts: s.ts,
          recipient_id: s.recipientId,
          errors: storedJson(s.errors),
        })),
      };
    },
  );

  api.get(
    '/messages',
    {
      onRequest: auth,
      schema: {
        summary: 'Messages, filtered and paginated',
        description:
          'Chronological by the instant of `ts`, ties by `message_id`. Filters are AND-ed. Any parameter out of range, malformed or repeated is a 422 naming it.',
        tags: ['messages'],
        security: READ_SECURITY,
        querystring: ListQuery,
        response: { 200: MessagePage, 401: unauthorizedRead, 422: validationError(), 503: unavailable },
      },
    },
    async (request) => {
      // The schema documents the parameters; this parser enforces them and words the 422 exactly.
      const parsed = parseMessageQuery(request.query as Record<string, QueryValue>);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const { filter, page, keyset } = parsed.value;
      const result = await store.listMessages(filter, page);
      const last = result.data.at(-1);
      return {
        data: result.data.map((m) => ({ message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text })),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
        // Only for keyset requests: a plain request keeps exactly the core response shape.
        ...(keyset ? { next_cursor: result.hasMore && last ? encodeCursor(last) : null } : {}),
      };
    },
  );
}
