// The one log line and the metrics of every request, the X-Request-ID it carries,
// and the answer to a URL that cannot even be routed.

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Metrics, UNMATCHED_PATH } from '../observability/metrics.js';

/** An incoming X-Request-ID is reused when it is a sane token; anything else gets a fresh id. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** Fastify's genReqId: the sender's X-Request-ID when it is usable, else a fresh UUID. */
export function requestId(req: { readonly headers: IncomingHttpHeaders }): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export interface RequestLog {
  /** Writes the line and counts the request; `elapsedMs` from its arrival to its answer. */
  readonly record: (request: FastifyRequest, status: number, elapsedMs: number) => void;
  /** Fastify's frameworkErrors option: a URL that cannot be decoded never reaches the hooks. */
  readonly frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;
  /** Adds the hooks that tag every response with its request id and record it once answered. */
  readonly register: (app: FastifyInstance) => void;
}

export function createRequestLog(metrics: Metrics): RequestLog {
  const record = (request: FastifyRequest, status: number, elapsedMs: number): void => {
    const path = request.routeOptions.url ?? UNMATCHED_PATH;
    const latencyMs = Math.round(elapsedMs * 1000) / 1000;
    metrics.httpRequests.inc({ path, status: String(status) });
    metrics.requestLatency.observe(latencyMs);

    const outcome = request.webhookOutcome;
    if (outcome) metrics.webhookRequests.inc({ result: outcome.result });

    const line = {
      method: request.method,
      path: request.url.split('?', 1)[0],
      status,
      latency_ms: latencyMs,
      ...(outcome
        ? {
            ...(outcome.messageId !== undefined ? { message_id: outcome.messageId } : {}),
            dup: outcome.dup ?? false,
            result: outcome.result,
            ...(outcome.items !== undefined ? { items: outcome.items } : {}),
          }
        : {}),
    };
    // A request that anyone could send by the thousand and that says nothing new (a provider's
    // webhook for a scheme that is not configured) is logged at DEBUG; the route summarises them
    // at WARNING once a minute.
    if (outcome?.quiet === true) request.log.debug(line, 'request completed');
    // A forged or broken signature is an error-level event, and so is a replayed one;
    // so is anything 5xx.
    else if (outcome?.result === 'invalid_signature' || outcome?.result === 'stale_timestamp' || status >= 500) {
      request.log.error(line, 'request completed');
    } else if (status >= 400) request.log.warn(line, 'request completed');
    else request.log.info(line, 'request completed');
  };

  return {
    record,
    frameworkErrors: (error, request, reply) => {
      // Such a request is never routed, so Fastify starts no clock for it and no onResponse hook
      // runs. It is timed like every other request: from when Fastify took it (at once, once its
      // headers were read) until its answer has been written.
      const started = performance.now();
      reply.raw.once('finish', () => record(request, 400, performance.now() - started));
      reply.header('x-request-id', request.id);
      void reply.code(400).send({ detail: error.message });
    },
    register: (app) => {
      // Callback hooks, not async ones: these run on every request, and a promise each is measurable.
      app.addHook('onRequest', (request, reply, done) => {
        reply.header('x-request-id', request.id);
        done();
      });
      app.addHook('onResponse', (request, reply, done) => {
        record(request, reply.statusCode, reply.elapsedTime);
        done();
      });
    },
  };
}
