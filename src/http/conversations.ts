// GET /conversations: one item per (from, to) pair that has messages, most recent first, from the
// aggregates the store keeps in the transaction that inserts each message.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import type { ConversationFilter, ConversationPosition } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { ValidationFailed } from './errors.js';
import { READ_SECURITY } from './openapi.js';
import {
  cursorParam,
  DEFAULT_LIMIT,
  encodeCursor,
  integerParam,
  isInstantKey,
  MAX_LIMIT,
  phoneParam,
  type Query,
  scopeDigest,
} from './query.js';
import { MESSAGE_TYPE, NullableString, PHONE, unauthorizedRead, unavailable, validationError } from './schemas.js';

export interface ConversationQuery {
  readonly filter: ConversationFilter;
  readonly limit: number;
  readonly after?: ConversationPosition;
  readonly scope: string;
}

/** A conversation's place from a cursor's parts: [last instant key, from, to]. */
function conversationPlace(parts: readonly unknown[]): ConversationPosition | null {
  const [lastTsKey, from, to] = parts;
  return parts.length === 3 && isInstantKey(lastTsKey) && typeof from === 'string' && typeof to === 'string'
    ? { lastTsKey, from, to }
    : null;
}

/** Validates the query string of GET /conversations; names every bad parameter. Pure. */
export function parseConversationQuery(query: Query): Parsed<ConversationQuery> {
  const issues: ValidationIssue[] = [];
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT, issues);
  const from = phoneParam(query, 'from', false, issues);
  const to = phoneParam(query, 'to', true, issues);
  const filter: ConversationFilter = { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
  const scope = scopeDigest(['conversations', filter.from, filter.to]);
  const cursor = cursorParam(query, issues.length > 0 ? null : scope, conversationPlace, issues);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { filter, limit, ...(cursor.after !== undefined ? { after: cursor.after } : {}), scope } };
}

const ConversationItem = Type.Object(
  {
    from: Type.String({ pattern: PHONE, examples: ['+919876543210'] }),
    to: Type.String({ pattern: PHONE, examples: ['+14155550100'] }),
    contact_name: NullableString({
      description: 'The contact name of the latest message (by instant, then message_id) that has one; else null.',
      examples: ['Asha'],
    }),
    messages: Type.Integer({ minimum: 1, description: 'Messages stored in this conversation.' }),
    first_ts: Type.String({ description: 'The ts of its earliest message by instant.', examples: ['2025-01-10T09:00:00Z'] }),
    last_ts: Type.String({ description: 'The ts of last_message.', examples: ['2025-01-15T10:00:00Z'] }),
    last_message: Type.Object(
      {
        message_id: Type.String({ examples: ['m9'] }),
        ts: Type.String({ examples: ['2025-01-15T10:00:00Z'] }),
        text: NullableString({ examples: ['Hello'] }),
        type: MESSAGE_TYPE,
      },
      { additionalProperties: false, description: 'The latest message by instant; ties: the greatest message_id.' },
    ),
  },
  { additionalProperties: false },
);

const ConversationPage = Type.Object(
  {
    data: Type.Array(ConversationItem, { description: 'Most recent first: last_ts instant descending, then from, then to.' }),
    total: Type.Integer({ minimum: 0, description: 'Every conversation matching the filters, ignoring limit and cursor.' }),
    limit: Type.Integer({ description: 'As applied.' }),
    next_cursor: NullableString({
      description: 'Pass it back as `cursor`, with the same filters, for the next page; null on the last page.',
    }),
  },
  {
    additionalProperties: false,
    description: 'One page of conversations, most recent first, with the total that match.',
    examples: [
      {
        data: [
          {
            from: '+919876543210',
            to: '+14155550100',
            contact_name: 'Asha',
            messages: 12,
            first_ts: '2025-01-10T09:00:00Z',
            last_ts: '2025-01-15T10:00:00Z',
            last_message: { message_id: 'm9', ts: '2025-01-15T10:00:00Z', text: 'Hello', type: 'text' },
          },
        ],
        total: 1,
        limit: 50,
        next_cursor: null,
      },
    ],
  },
);

export async function conversationRoutes(app: FastifyInstance, { store, auth }: ReadRoutesOptions): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/conversations',
    {
      onRequest: auth,
      schema: {
        summary: 'Conversations, most recent first',
        description:
          'One item per (from, to) pair that has messages, kept up to date in the transaction that stores each message. Any parameter out of range, malformed or repeated is a 422 naming it.',
        tags: ['messages'],
        security: READ_SECURITY,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
          cursor: Type.Optional(
            Type.String({
              description: 'Empty (or absent) for the first page, then each `next_cursor`, with the same filters (else 422).',
            }),
          ),
          from: Type.Optional(
            Type.String({ description: 'Exact sender; a leading space is read as `+`.', examples: ['+919876543210'] }),
          ),
          to: Type.Optional(
            Type.String({
              pattern: PHONE,
              description: 'Exact recipient, `+` and 1 to 15 digits; a leading space is read as `+`.',
              examples: ['+14155550100'],
            }),
          ),
        }),
        response: { 200: ConversationPage, 401: unauthorizedRead, 422: validationError(), 503: unavailable },
      },
    },
    async (request) => {
      const parsed = parseConversationQuery(request.query as Query);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const { filter, limit, after, scope } = parsed.value;
      const page = await store.listConversations(filter, { limit, ...(after !== undefined ? { after } : {}) });
      const last = page.data.at(-1);
      return {
        data: page.data.map((c) => ({
          from: c.from,
          to: c.to,
          contact_name: c.contactName,
          messages: c.messages,
          first_ts: c.firstTs,
          last_ts: c.lastTs,
          last_message: {
            message_id: c.lastMessage.messageId,
            ts: c.lastMessage.ts,
            text: c.lastMessage.text,
            type: c.lastMessage.type,
          },
        })),
        total: page.total,
        limit,
        next_cursor: page.hasMore && last !== undefined ? encodeCursor([last.lastTsKey, last.from, last.to, scope]) : null,
      };
    },
  );
}
