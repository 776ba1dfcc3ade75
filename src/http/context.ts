// What a handler tells the request log line and the metrics about its request (SPEC A.7, A.8).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookResult } from '../observability/metrics.js';

export interface WebhookOutcome {
  result: WebhookResult;
  messageId?: string;
  dup?: boolean;
  /** A WhatsApp envelope: how many items of each kind it carried. */
  items?: Readonly<Record<string, number>>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/under-pressure: a route that sets one returning nothing is served even under pressure. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply) => undefined;
  }
  interface FastifyRequest {
    /** Set by the webhook handlers (and by refused credentials); read when the request completes. */
    webhookOutcome: WebhookOutcome | null;
  }
}
