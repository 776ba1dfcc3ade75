// GET /dead-letters: the provider items that could not be read, kept whole with their reason.

import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { MessageStore } from '../store/store.js';
import { ValidationFailed } from './errors.js';
import { parsePageQuery, type QueryValue, storedJson } from './messages.js';

export function deadLetterRoutes(app: FastifyInstance, store: MessageStore, auth: onRequestAsyncHookHandler): void {
  app.get('/dead-letters', { onRequest: auth }, async (request) => {
    const parsed = parsePageQuery(request.query as Record<string, QueryValue>);
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
  });
}
