// Liveness and readiness probes.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { MessageStore } from '../store/store.js';
import { servedUnderPressure } from './context.js';
import { StringEnum } from './schemas.js';

const readiness = (description: string) =>
  Type.Object(
    {
      status: StringEnum(['ready', 'not ready'] as const),
      checks: Type.Object(
        {
          database: Type.String({ description: '"ok", or "failed: …" saying which check failed (the reason is in the log).' }),
          webhook_secret: Type.String({ description: '"ok" when at least one webhook secret is set, else "failed: …".' }),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false, description },
  );

/**
 * `ingestConfigured`: at least one webhook scheme has its secret (WEBHOOK_SECRET, or
 * WHATSAPP_APP_SECRET, or STANDARD_WEBHOOKS_SECRET); without any, nothing could be taken in.
 */
export interface HealthRoutesOptions {
  readonly store: MessageStore;
  readonly ingestConfigured: boolean;
}

export async function healthRoutes(app: FastifyInstance, { store, ingestConfigured }: HealthRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/health/live',
    {
      ...servedUnderPressure,
      schema: {
        summary: 'Liveness: 200 whenever the process is serving',
        tags: ['operations'],
        response: {
          200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false, description: 'Serving.' }),
        },
      },
    },
    async () => ({ status: 'ok' }) as const,
  );

  api.get(
    '/health/ready',
    {
      // A probe answers for the database and the secrets, not for the load: shedding it too would
      // have an orchestrator restart a replica that is only busy.
      ...servedUnderPressure,
      schema: {
        summary: 'Readiness: 200 when the database answers and a webhook secret is set',
        tags: ['operations'],
        response: {
          200: readiness('Ready.'),
          503: readiness('Not ready: `checks` says which check failed.'),
        },
      },
    },
    async (request, reply) => {
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
    },
  );
}
