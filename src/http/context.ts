// What a handler tells the request log line and the metrics about its request (SPEC A.7, A.8).

import type { WebhookResult } from '../observability/metrics.js';

export interface WebhookOutcome {
  result: WebhookResult;
  messageId?: string;
  dup?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the /webhook handler; read when the request completes. */
    webhookOutcome: WebhookOutcome | null;
  }
}
