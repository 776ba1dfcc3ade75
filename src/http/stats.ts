// GET /stats: totals, top senders and the time span of the store.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ReadRoutesOptions } from './auth.js';
import { READ_SECURITY } from './openapi.js';
import { NullableString, PHONE, unauthorizedRead, unavailable } from './schemas.js';

const TOP_SENDERS = 10;

const Stats = Type.Object(
  {
    total_messages: Type.Integer({ minimum: 0 }),
    senders_count: Type.Integer({ minimum: 0 }),
    messages_per_sender: Type.Array(
      Type.Object(
        { from: Type.String({ pattern: PHONE }), count: Type.Integer({ minimum: 1 }) },
        { additionalProperties: false },
      ),
      { maxItems: TOP_SENDERS, description: 'The top 10 senders by count, descending, ties by sender ascending.' },
    ),
    first_message_ts: NullableString({ description: 'The ts of the earliest message by instant; null when empty.' }),
    last_message_ts: NullableString({ description: 'The ts of the latest message by instant; null when empty.' }),
  },
  {
    additionalProperties: false,
    description: 'Totals kept exact in the transaction that stores each message.',
    examples: [
      {
        total_messages: 123,
        senders_count: 10,
        messages_per_sender: [{ from: '+919876543210', count: 50 }],
        first_message_ts: '2025-01-10T09:00:00Z',
        last_message_ts: '2025-01-15T10:00:00Z',
      },
    ],
  },
);

export async function statsRoutes(app: FastifyInstance, { store, auth }: ReadRoutesOptions): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/stats',
    {
      onRequest: auth,
      schema: {
        summary: 'Totals, top senders and time span',
        tags: ['messages'],
        security: READ_SECURITY,
        response: { 200: Stats, 401: unauthorizedRead, 503: unavailable },
      },
    },
    async () => {
      const stats = await store.stats(TOP_SENDERS);
      return {
        total_messages: stats.totalMessages,
        senders_count: stats.sendersCount,
        messages_per_sender: stats.messagesPerSender.map((s) => ({ from: s.from, count: s.count })),
        first_message_ts: stats.firstMessageTs,
        last_message_ts: stats.lastMessageTs,
      };
    },
  );
}
