// What a handler tells the request log line and the metrics about its request.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookResult } from '../observability/metrics.js';
import type { BodiesInFlight } from './raw-body.js';

export interface WebhookOutcome {
  result: WebhookResult;
  messageId?: string;
  dup?: boolean;
  /** A WhatsApp envelope: how many items of each kind it carried. */
  items?: Readonly<Record<string, number>>;
  /** Logged at DEBUG: a refusal anyone can repeat at will, summarised elsewhere (see webhook.ts). */
  quiet?: boolean;
}

/**
 * Route options for an endpoint answered even while load is shed (@fastify/under-pressure skips a
 * route whose pressureHandler returns nothing): liveness, because an overloaded process is still
 * alive and restarting it would lose the work it is doing, and metrics, which matter most then.
 */
export const servedUnderPressure = { config: { pressureHandler: (): undefined => undefined } } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/under-pressure: a route that sets one returning nothing is served even under pressure. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply) => undefined;
  }
  interface FastifyInstance {
    /** The request bodies still arriving (raw-body.ts), for a shutdown to cut off. */
    bodiesInFlight: BodiesInFlight;
  }
  interface FastifyRequest {
    /** Set by the webhook handlers (and by refused credentials); read when the request completes. */
    webhookOutcome: WebhookOutcome | null;
  }
}
