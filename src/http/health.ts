// Liveness and readiness probes (SPEC A.5).

import type { FastifyInstance } from 'fastify';
import type { MessageStore } from '../store/store.js';
import { servedUnderPressure } from './context.js';

/**
 * `ingestConfigured`: at least one webhook scheme has its secret (WEBHOOK_SECRET, or
 * WHATSAPP_APP_SECRET, or STANDARD_WEBHOOKS_SECRET); without any, nothing could be taken in.
 */
export function healthRoutes(app: FastifyInstance, store: MessageStore, ingestConfigured: boolean): void {
  app.get('/health/live', servedUnderPressure, async () => ({ status: 'ok' }));

  app.get('/health/ready', async (request, reply) => {
    let database = 'ok';
    try {
      await store.checkHealth();
    } catch (error) {
      // The probe is open to anyone: the reason (a host, a port, a file path) goes to the log only.
      database = 'failed: the database does not answer on the current schema (the log says why)';
      request.log.warn({ err: error }, 'readiness: database check failed');
    }
    const webhookSecret = ingestConfigured
      ? 'ok'
      : 'failed: WEBHOOK_SECRET is not set (nor WHATSAPP_APP_SECRET or STANDARD_WEBHOOKS_SECRET)';
    const ready = database === 'ok' && ingestConfigured;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      checks: { database, webhook_secret: webhookSecret },
    });
  });
}
