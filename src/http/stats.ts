// GET /stats: totals, top senders and the time span of the store (SPEC A.4).

import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { MessageStore } from '../store/store.js';

const TOP_SENDERS = 10;

export function statsRoutes(app: FastifyInstance, store: MessageStore, auth: onRequestAsyncHookHandler): void {
  app.get('/stats', { onRequest: auth }, async () => {
    const stats = await store.stats(TOP_SENDERS);
    return {
      total_messages: stats.totalMessages,
      senders_count: stats.sendersCount,
      messages_per_sender: stats.messagesPerSender.map((s) => ({ from: s.from, count: s.count })),
      first_message_ts: stats.firstMessageTs,
      last_message_ts: stats.lastMessageTs,
    };
  });
}
