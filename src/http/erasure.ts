// DELETE /messages/{message_id} and DELETE /conversations: erasing stored data on request, behind
// ADMIN_TOKEN. The store removes the rows, their feed events and their text from every index, and
// adjusts every aggregate in the same transaction; this module guards, logs and counts.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { countRemoval, type Metrics } from '../observability/metrics.js';
import type { MessageStore, Removal } from '../store/store.js';
import { ADMIN_DISABLED } from './auth.js';
import { NotFound, ValidationFailed } from './errors.js';
import { ADMIN_SECURITY } from './openapi.js';
import { phoneParam, type Query } from './query.js';
import { detail, PHONE, unavailable, validationError } from './schemas.js';

export interface ErasureRoutesOptions {
  readonly store: MessageStore;
  /** The hook that lets only ADMIN_TOKEN holders through (see auth.ts). */
  readonly adminAuth: onRequestAsyncHookHandler;
  readonly metrics: Pick<Metrics, 'erased'>;
}

export interface ConversationErasure {
  readonly from: string;
  readonly to?: string;
}

/** Validates the query string of DELETE /conversations: `from` required, both numbers `+` and 1 to 15 digits. Pure. */
export function parseConversationErasure(query: Query): Parsed<ConversationErasure> {
  const issues: ValidationIssue[] = [];
  // Strict patterns, unlike the filters of the reads: a value that no stored number can have is a
  // mistake, and an erasure that quietly removes nothing would hide it.
  const from = phoneParam(query, 'from', true, issues);
  if (from === undefined && !Object.hasOwn(query, 'from')) {
    issues.push({ loc: ['query', 'from'], type: 'missing', msg: 'Field required: the sender whose messages to erase' });
  }
  const to = phoneParam(query, 'to', true, issues);
  if (issues.length > 0 || from === undefined) return { ok: false, issues };
  return { ok: true, value: { from, ...(to !== undefined ? { to } : {}) } };
}

/** The counts of a removal as log fields. */
function removedFields(removal: Removal) {
  return { messages: removal.messages, statuses: removal.statuses, dead_letters: removal.deadLetters };
}

const forbidden = detail('ADMIN_TOKEN is not set on the server: erasure through the API is disabled.', ADMIN_DISABLED);
const unauthorizedAdmin = detail(
  'ADMIN_TOKEN is set and the request has no `Authorization: Bearer` token that is ADMIN_TOKEN or ADMIN_TOKEN_PREVIOUS (API_TOKEN is not one); `WWW-Authenticate` says which.',
  'missing bearer token',
);

const PHONE_PARAM = (description: string) => Type.String({ pattern: PHONE, description, examples: ['+919876543210'] });

export async function erasureRoutes(app: FastifyInstance, { store, adminAuth, metrics }: ErasureRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.delete(
    '/messages/:message_id',
    {
      onRequest: adminAuth,
      schema: {
        summary: 'Erase one message, its delivery statuses and their feed events',
        description:
          'In one transaction: the message, its statuses, their feed events and its text in every index are removed, and every count (/stats, /stats/timeseries, /conversations, every `total`) is adjusted. An id known only from its statuses has those erased. Logged (the id and how many rows, never the text) and counted in `erased_total`.',
        tags: ['admin'],
        security: ADMIN_SECURITY,
        params: Type.Object({ message_id: Type.String({ description: 'Up to 512 characters, percent-encoded.' }) }),
        response: {
          204: { description: 'Erased.', type: 'null' },
          400: detail(
            'The id in the URL is not valid percent-encoded UTF-8.',
            "'/messages/%ED%A0%80' is not a valid url component",
          ),
          401: unauthorizedAdmin,
          403: forbidden,
          404: detail('No message and no status has this id: nothing was erased.', 'message not found'),
          503: unavailable,
        },
      },
    },
    async (request, reply) => {
      const messageId = request.params.message_id;
      const removal = await store.eraseMessage(messageId);
      if (removal.messages === 0 && removal.statuses === 0 && removal.deadLetters === 0) {
        throw new NotFound('message not found');
      }
      countRemoval(metrics.erased, removal);
      request.log.info({ erased: 'message', message_id: messageId, ...removedFields(removal) }, 'message erased');
      return reply.code(204).send();
    },
  );

  api.delete(
    '/conversations',
    {
      onRequest: adminAuth,
      schema: {
        summary: 'Erase everything stored from a sender (to one recipient, or to all)',
        description:
          'In one transaction: every message from `from` (to `to` when given), with its statuses, feed events and text in every index, every count adjusted as for DELETE /messages/{message_id}. Answers how many messages were erased (0 when there were none). Logged (the numbers and how many rows, never a text) and counted in `erased_total`.',
        tags: ['admin'],
        security: ADMIN_SECURITY,
        querystring: Type.Object({
          from: PHONE_PARAM('Required: the sender, `+` and 1 to 15 digits (a leading space is read as `+`).'),
          to: Type.Optional(PHONE_PARAM('Only the messages to this recipient, `+` and 1 to 15 digits.')),
        }),
        response: {
          200: Type.Object(
            { deleted: Type.Integer({ minimum: 0, description: 'Messages erased.' }) },
            {
              additionalProperties: false,
              description: 'Erased (or nothing matched): how many messages went.',
              examples: [{ deleted: 12 }],
            },
          ),
          401: unauthorizedAdmin,
          403: forbidden,
          422: validationError('`from` is missing, or `from` or `to` is not `+` and 1 to 15 digits, or either is given twice.'),
          503: unavailable,
        },
      },
    },
    async (request) => {
      const parsed = parseConversationErasure(request.query as Query);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const { from, to } = parsed.value;
      const removal = await store.eraseConversation(parsed.value);
      countRemoval(metrics.erased, removal);
      request.log.info(
        { erased: 'conversation', from, ...(to !== undefined ? { to } : {}), ...removedFields(removal) },
        'conversation erased',
      );
      return { deleted: removal.messages };
    },
  );
}
