// GET /feed: every stored message, delivery status and dead letter as an event with its position,
// in commit order. The shapes of the events are shared with GET /events (Server-Sent Events).

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { FEED_EVENT_TYPES, type FeedEventType, type FeedQuery } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { ValidationFailed } from './errors.js';
import { READ_SECURITY } from './openapi.js';
import { integerParam, phoneParam, type Query, single } from './query.js';
import {
  DeadLetterItem,
  MessageEvent,
  PHONE,
  StatusEvent,
  StringEnum,
  unauthorizedRead,
  unavailable,
  validationError,
} from './schemas.js';

export const DEFAULT_FEED_LIMIT = 100;
export const MAX_FEED_LIMIT = 1000;

/** `types`: comma-separated event types, each known. */
export function typesParam(query: Query, issues: ValidationIssue[]): FeedEventType[] | undefined {
  const raw = single(query, 'types', issues);
  if (raw === undefined || raw === '') return undefined;
  const names = raw.split(',');
  const unknown = names.filter((name) => !FEED_EVENT_TYPES.some((type) => type === name));
  if (unknown.length > 0) {
    issues.push({
      loc: ['query', 'types'],
      type: 'enum',
      msg: `Unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}: give a comma-separated subset of ${FEED_EVENT_TYPES.join(', ')}`,
    });
    return undefined;
  }
  return FEED_EVENT_TYPES.filter((type) => names.includes(type));
}

/** The filters GET /feed and GET /events share: `types`, and `from`/`to`, which keep only message events. */
export function feedFilters(query: Query, issues: ValidationIssue[]): Pick<FeedQuery, 'types' | 'from' | 'to'> {
  const types = typesParam(query, issues);
  const from = phoneParam(query, 'from', false, issues);
  const to = phoneParam(query, 'to', true, issues);
  return {
    ...(types !== undefined ? { types } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}

/** Validates the query string of GET /feed. Pure. */
export function parseFeedQuery(query: Query): Parsed<FeedQuery> {
  const issues: ValidationIssue[] = [];
  const after = integerParam(query, 'after', 0, 0, Number.MAX_SAFE_INTEGER, issues);
  const limit = integerParam(query, 'limit', DEFAULT_FEED_LIMIT, 1, MAX_FEED_LIMIT, issues);
  const filters = feedFilters(query, issues);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { after, limit, ...filters } };
}

const eventBase = {
  position: Type.Integer({ minimum: 1, description: 'Strictly increasing in commit order, across every replica.' }),
  received_at: Type.String({ format: 'date-time', description: 'When the store took the row in.' }),
};

export const FeedItem = Type.Object(
  {
    ...eventBase,
    type: StringEnum(FEED_EVENT_TYPES),
    data: Type.Unsafe<unknown>({
      oneOf: [Type.Ref(MessageEvent), Type.Ref(StatusEvent), Type.Ref(DeadLetterItem)],
      description:
        'message.created: the message as GET /messages/{message_id} gives it, without statuses. status.created: the status with its message_id. dead_letter.created: the GET /dead-letters item.',
    }),
  },
  { additionalProperties: false },
);

const FeedPage = Type.Object(
  {
    data: Type.Array(FeedItem, { description: 'Oldest first.' }),
    next_after: Type.Integer({
      minimum: 0,
      description: 'The last position returned, or `after` when nothing is: pass it as `after` for what follows.',
    }),
  },
  {
    additionalProperties: false,
    description: 'Events after a position, in commit order.',
    examples: [
      {
        data: [
          {
            position: 42,
            received_at: '2025-01-15T10:00:01.234Z',
            type: 'status.created',
            data: {
              message_id: 'wamid.HBgL…',
              status: 'read',
              ts: '2025-01-15T10:00:00Z',
              recipient_id: '919876543210',
              errors: null,
            },
          },
        ],
        next_after: 42,
      },
    ],
  },
);

export const FEED_FILTER_QUERY = {
  types: Type.Optional(
    Type.String({
      description: `Only these event types, comma-separated: any subset of ${FEED_EVENT_TYPES.join(', ')}.`,
      examples: ['message.created'],
    }),
  ),
  from: Type.Optional(
    Type.String({ description: 'Only message.created events of this sender (a leading space is read as `+`).' }),
  ),
  to: Type.Optional(
    Type.String({ pattern: PHONE, description: 'Only message.created events of this recipient (+ and 1 to 15 digits).' }),
  ),
};

export async function feedRoutes(app: FastifyInstance, { store, auth }: ReadRoutesOptions): Promise<void> {
  // Without the TypeBox type provider: the handler sends the page as JSON text, which the schema's
  // type would refuse; the schema still documents it. The store writes each event's text (see
  // readFeedJson and feedItemJson), so nothing here parses, builds or validates an event.
  app.get(
    '/feed',
    {
      onRequest: auth,
      schema: {
        summary: 'Every stored event after a position, in commit order',
        description:
          'Each stored message, delivery status and dead letter is an event with a position, strictly increasing in commit order across every replica: a reader that has seen position N never later meets an unseen event at or below N. Follow it by passing each `next_after` back as `after`. Any parameter out of range, malformed or repeated is a 422 naming it.',
        tags: ['feed'],
        security: READ_SECURITY,
        querystring: Type.Object({
          after: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Events with a greater position.' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_FEED_LIMIT, default: DEFAULT_FEED_LIMIT })),
          ...FEED_FILTER_QUERY,
        }),
        response: { 200: FeedPage, 401: unauthorizedRead, 422: validationError(), 503: unavailable },
      },
    },
    async (request, reply) => {
      const parsed = parseFeedQuery(request.query as Query);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const page = await store.readFeedJson(parsed.value);
      // A string with a JSON content type goes out as it is: the serialiser does not run.
      return reply
        .type('application/json; charset=utf-8')
        .send(`{"data":[${page.items}],"next_after":${page.last ?? parsed.value.after}}`);
    },
  );
}
