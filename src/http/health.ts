// Liveness and readiness probes (SPEC A.5).

import type { FastifyInstance } from 'fastify';
import type { MessageStore } from '../store/store.js';

export function healthRoutes(app: FastifyInstance, store: MessageStore, secretSet: boolean): void {
  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (request, reply) => {
    let database = 'ok';
    try {
      await store.checkHealth();
    } catch (error) {
      database = `failed: ${error instanceof Error ? error.message : String(error)}`;
      request.log.warn({ err: error }, 'readiness: database check failed');
    }
    const webhookSecret = secretSet ? 'ok' : 'failed: WEBHOOK_SECRET is not set';
    const ready = database === 'ok' && secretSet;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      checks: { database, webhook_secret: webhookSecret },
    });
  });
}
