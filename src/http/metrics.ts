// GET /metrics: the Prometheus text exposition (SPEC A.7).

import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  // Scraped even while load is shed: that is when the figures matter most.
  app.get('/metrics', { config: { pressureHandler: () => undefined } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
