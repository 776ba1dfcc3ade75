// GET /metrics: the Prometheus text exposition.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import { servedUnderPressure } from './context.js';

export async function metricsRoutes(app: FastifyInstance, { metrics }: { readonly metrics: Metrics }): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/metrics',
    {
      ...servedUnderPressure,
      schema: {
        summary: 'Prometheus metrics',
        description: 'The text exposition format, version 0.0.4, with HELP and TYPE lines. Served even while load is shed.',
        tags: ['operations'],
        response: {
          200: {
            description: 'Every metric, with HELP and TYPE lines.',
            content: { 'text/plain': { schema: Type.String() } },
          },
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
