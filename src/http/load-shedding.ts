// Load shedding (MAX_EVENT_LOOP_DELAY_MS): while the event loop lags, requests are answered 503
// with Retry-After at once (senders back off and retry) instead of queueing work that would time
// out anyway. Reads go first.

import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { Overloaded } from './errors.js';

/**
 * Whether a request is refused while the event loop lags by `delayMs` (mean) against
 * MAX_EVENT_LOOP_DELAY_MS. Reads go first, from half the limit; webhooks, the work the service
 * exists for, only past the limit itself.
 */
export function shouldShed(webhook: boolean, delayMs: number, limitMs: number): boolean {
  return webhook ? delayMs > limitMs : delayMs > limitMs / 2;
}

/** `limitMs` 0 turns shedding off. Routes with `servedUnderPressure` (context.ts) are never shed. */
export async function registerLoadShedding(app: FastifyInstance, limitMs: number): Promise<void> {
  if (limitMs <= 0) return;
  await app.register(underPressure, {
    // The plugin calls pressureHandler past the lower of the two limits; it decides per route.
    maxEventLoopDelay: limitMs / 2,
    pressureHandler: async (request) => {
      const webhook = request.routeOptions.url === '/webhook';
      if (!shouldShed(webhook, app.memoryUsage().eventLoopDelay, limitMs)) return;
      if (webhook) request.webhookOutcome = { result: 'overloaded' };
      throw new Overloaded();
    },
  });
}
