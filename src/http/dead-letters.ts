// GET /dead-letters: the provider items that could not be read, kept whole with their reason.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { storedJson } from '../store/export-format.js';
import type { ReadRoutesOptions } from './auth.js';
import { ValidationFailed } from './errors.js';
import { READ_SECURITY } from './openapi.js';
import { parsePageQuery, type Query } from './query.js';
import { DeadLetterItem, unauthorizedRead, unavailable, validationError } from './schemas.js';

const DeadLetterPage = Type.Object(
  {
    data: Type.Array(Type.Ref(DeadLetterItem), { description: 'Oldest first.' }),
    total: Type.Integer({ minimum: 0 }),
    limit: Type.Integer(),
    offset: Type.Integer(),
  },
  { additionalProperties: false, description: 'One page of dead letters, oldest first, with the total kept.' },
);

export async function deadLetterRoutes(app: FastifyInstance, { store, auth }: ReadRoutesOptions): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/dead-letters',
    {
      onRequest: auth,
      schema: {
        summary: 'Provider items that could not be read',
        description:
          'Each unreadable item of a WhatsApp envelope (an entry, a change, a message or a status), kept as received with the reason it could not be read. A redelivered item is kept once.',
        tags: ['messages'],
        security: READ_SECURITY,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
        }),
        response: { 200: DeadLetterPage, 401: unauthorizedRead, 422: validationError(), 503: unavailable },
      },
    },
    async (request) => {
      // The schema documents the parameters; this parser enforces them and words the 422 exactly.
      const parsed = parsePageQuery(request.query as Query);
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const page = parsed.value;
      const result = await store.listDeadLetters(page);
      return {
        data: result.data.map((d) => ({
          id: d.id,
          received_at: d.receivedAt,
          source: d.source,
          kind: d.kind,
          reason: d.reason,
          item_id: d.itemId,
          item: storedJson(d.item),
        })),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
      };
    },
  );
}
