// GET /messages: paginated, filtered, chronological listing; GET /messages/{message_id}:
// one message with its delivery statuses.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { MAX_MESSAGE_ID_CODE_POINTS } from '../ingest/message.js';
import { messageObject, storedJson } from '../store/export-format.js';
import type { MessageFilter, Page, Position, SortOrder, StoredMessage } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { NotFound, ValidationFailed } from './errors.js';
import { READ_SECURITY } from './openapi.js';
import {
  cursorParam,
  DEFAULT_LIMIT,
  encodeCursor,
  enumParam,
  instantParam,
  integerParam,
  isInstantKey,
  MAX_LIMIT,
  phoneParam,
  type Query,
  scopeDigest,
  single,
  textParam,
} from './query.js';
import {
  detail,
  INCLUDABLE,
  type Includable,
  MESSAGE_DETAILS,
  MESSAGE_TYPE,
  MessageItem,
  NullableReceivedAt,
  NullableSource,
  NullableString,
  PHONE,
  StatusItem,
  StringEnum,
  unauthorizedRead,
  unavailable,
  validationError,
} from './schemas.js';

export interface MessageQuery {
  readonly filter: MessageFilter;
  readonly page: Page;
  /** True when the client asked for keyset pagination (a `cursor` parameter, empty for the first page). */
  readonly keyset: boolean;
  /** What to add to each item, in INCLUDABLE's order. */
  readonly include: readonly Includable[];
  /** What a next_cursor of this listing carries, to be given back with the same order and filters. */
  readonly scope: string;
}

const ORDERS: readonly SortOrder[] = ['asc', 'desc'];

/** `include`: comma-separated INCLUDABLE names, each known; empty adds nothing. */
function includeParam(query: Query, issues: ValidationIssue[]): Includable[] {
  const raw = single(query, 'include', issues);
  if (raw === undefined || raw === '') return [];
  const names = raw.split(',');
  const unknown = names.filter((name) => !INCLUDABLE.some((known) => known === name));
  if (unknown.length > 0) {
    issues.push({
      loc: ['query', 'include'],
      type: 'enum',
      msg: `Unknown name${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}: give a comma-separated subset of ${INCLUDABLE.join(', ')}`,
    });
    return [];
  }
  return INCLUDABLE.filter((name) => names.includes(name));
}

/** A message's place from a cursor's parts: [instant key, message_id]. */
function messagePlace(parts: readonly unknown[]): Position | null {
  const [tsKey, messageId] = parts;
  return parts.length === 2 && isInstantKey(tsKey) && typeof messageId === 'string' ? { tsKey, messageId } : null;
}

/**
 * The filters of GET /messages (`from`, `to`, `type`, `since`, `until`, `q`), shared with
 * GET /messages/export: each bad one is added to `issues`, in the order of the parameters. Pure.
 */
export function parseMessageFilter(query: Query, issues: ValidationIssue[]): MessageFilter {
  const from = phoneParam(query, 'from', false, issues);
  const to = phoneParam(query, 'to', true, issues);
  const type = textParam(query, 'type', MAX_MESSAGE_ID_CODE_POINTS, issues);
  const sinceKey = instantParam(query, 'since', issues);
  const untilKey = instantParam(query, 'until', issues);
  // An empty q (a cleared search box) filters nothing.
  const rawQ = single(query, 'q', issues);
  const q = rawQ === '' ? undefined : rawQ;
  return {
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(sinceKey !== undefined ? { sinceKey } : {}),
    ...(untilKey !== undefined ? { untilKey } : {}),
    ...(q !== undefined ? { q } : {}),
  };
}

/** Validates the query string of GET /messages; names every bad parameter. Pure. */
export function parseMessageQuery(query: Query): Parsed<MessageQuery> {
  const issues: ValidationIssue[] = [];
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT, issues);
  const offset = integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, issues);
  const filter = parseMessageFilter(query, issues);
  const order = enumParam(query, 'order', ORDERS, issues) ?? 'asc';
  const include = includeParam(query, issues);

  const scope = scopeDigest(['messages', order, filter.from, filter.to, filter.type, filter.sinceKey, filter.untilKey, filter.q]);
  const cursor = cursorParam(query, issues.length > 0 ? null : scope, messagePlace, issues);
  if (cursor.present && offset !== 0) {
    issues.push({ loc: ['query', 'offset'], type: 'offset_with_cursor', msg: 'Use either offset or cursor, not both' });
  }

  if (issues.length > 0) return { ok: false, issues };
  const details = include.some((name) => name !== 'type');
  const page: Page = {
    limit,
    offset,
    ...(cursor.after !== undefined ? { after: cursor.after } : {}),
    ...(order === 'desc' ? { order } : {}),
    ...(details ? { details } : {}),
  };
  return { ok: true, value: { filter, page, keyset: cursor.present, include, scope } };
}

type ListItem = { -readonly [K in keyof Static<typeof MessageItem>]: Static<typeof MessageItem>[K] };

/** A list item: the five core keys, then those `include` names, in INCLUDABLE's order. */
function listItem(m: StoredMessage, include: readonly Includable[]): ListItem {
  const item: ListItem = { message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text };
  const d = m.details;
  for (const name of include) {
    if (name === 'type') item.type = m.type ?? null;
    else if (d !== undefined) {
      if (name === 'source') item.source = d.source;
      else if (name === 'received_at') item.received_at = d.receivedAt;
      else if (name === 'contact_name') item.contact_name = d.contactName;
      else if (name === 'reply_to') item.reply_to = d.replyTo;
      else if (name === 'phone_number_id') item.phone_number_id = d.phoneNumberId;
      else item.raw = storedJson(d.raw);
    }
  }
  return item;
}

/** GET /messages/{message_id} of an id known only from its statuses: every message field null. */
const NO_MESSAGE = {
  from: null,
  to: null,
  ts: null,
  text: null,
  type: null,
  source: null,
  received_at: null,
  contact_name: null,
  reply_to: null,
  phone_number_id: null,
  raw: null,
} as const;

const MessageDetail = Type.Object(
  {
    message_id: Type.String(),
    from: NullableString({ pattern: PHONE }),
    to: NullableString({ pattern: PHONE }),
    ts: NullableString(),
    text: NullableString(),
    type: MESSAGE_TYPE,
    source: NullableSource,
    received_at: NullableReceivedAt,
    contact_name: MESSAGE_DETAILS.contact_name,
    reply_to: MESSAGE_DETAILS.reply_to,
    phone_number_id: MESSAGE_DETAILS.phone_number_id,
    raw: MESSAGE_DETAILS.raw,
    statuses: Type.Array(Type.Ref(StatusItem), { description: 'Oldest first; sent < delivered < read < failed at one instant.' }),
  },
  {
    additionalProperties: false,
    description:
      'A message with everything it keeps, and its delivery statuses. When only statuses are known (they usually describe messages the business sent), every message field is null.',
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
          'Only when the request had a `cursor` parameter: pass it back as `cursor`, with the same order and filters, for the next page; null on the last page.',
      }),
    ),
  },
  { additionalProperties: false, description: 'One page of messages in the order asked for, with the total that match.' },
);

const TIMESTAMP = 'YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant.';

/** The filters of GET /messages, as documented; GET /messages/export takes the same. */
export const messageFilterQuery = {
  from: Type.Optional(
    Type.String({
      description:
        'Exact sender. A leading space is read as `+` (a raw `+` in a query string decodes to a space, and curl sends it raw).',
      examples: ['+919876543210'],
    }),
  ),
  to: Type.Optional(
    Type.String({
      pattern: PHONE,
      description: 'Exact recipient, `+` and 1 to 15 digits; a leading space is read as `+`, as for `from`.',
      examples: ['+14155550100'],
    }),
  ),
  type: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_MESSAGE_ID_CODE_POINTS,
      description: 'Exact provider message type (text, image, …). Messages of the core form have none and never match.',
      examples: ['image'],
    }),
  ),
  since: Type.Optional(Type.String({ description: `Keeps messages at or after this instant: ${TIMESTAMP}` })),
  until: Type.Optional(
    Type.String({ description: `Keeps messages strictly before this instant (since/until windows tile): ${TIMESTAMP}` }),
  ),
  q: Type.Optional(
    Type.String({
      description: 'Case-insensitive substring of the text (Unicode-aware; %, _ and \\ are literal). Empty: no filter.',
    }),
  ),
};

const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  ...messageFilterQuery,
  order: Type.Optional(
    StringEnum(ORDERS, {
      default: 'asc',
      description: '`asc`: oldest first (instant, then message_id). `desc`: newest first (both descending).',
    }),
  ),
  include: Type.Optional(
    Type.String({
      description: `Keys to add to each item, comma-separated, any subset of: ${INCLUDABLE.join(', ')}. Without it, items have exactly the five core keys.`,
      examples: ['type,contact_name,raw'],
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      description:
        'Keyset pagination: empty for the first page, then each `next_cursor`, with the same order and filters (else 422). Not together with a non-zero offset.',
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
        summary: 'One message with everything it keeps and its delivery statuses',
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
        ...(m?.details !== undefined ? messageObject({ ...m, details: m.details }) : NO_MESSAGE),
        message_id: found.messageId,
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
          'Oldest first by the instant of `ts`, ties by `message_id` (or newest first with order=desc). Filters are AND-ed, and `total` is exact for every combination. Any parameter out of range, malformed, unknown-valued or repeated is a 422 naming it.',
        tags: ['messages'],
        security: READ_SECURITY,
        querystring: ListQuery,
        response: { 200: MessagePage, 401: unauthorizedRead, 422: validationError(), 503: unavailable },
      },
    },
    async (request) => {
      // The schema documents the parameters; this parser enforces them and words the 422 exactly.
      const parsed = parseMessageQuery(request.query as Query);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const { filter, page, keyset, include, scope } = parsed.value;
      const result = await store.listMessages(filter, page);
      const last = result.data.at(-1);
      return {
        data: result.data.map((m) => listItem(m, include)),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
        // Only for keyset requests: a plain request keeps exactly the core response shape.
        ...(keyset ? { next_cursor: result.hasMore && last ? encodeCursor([last.tsKey, last.messageId, scope]) : null } : {}),
      };
    },
  );
}
