// GET /metrics: the Prometheus text exposition (SPEC A.7).

import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import { servedUnderPressure } from './context.js';

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', servedUnderPressure, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
