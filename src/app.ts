// buildApp: the whole HTTP application from its parts. It never listens; server.ts and the
// tests call it the same way.

import { randomUUID } from 'node:crypto';
import underPressure from '@fastify/under-pressure';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { type Config, ingestConfigured } from './config.js';
import { requireBearerToken } from './http/auth.js';
import './http/context.js';
import { deadLetterRoutes } from './http/dead-letters.js';
import { Overloaded, registerErrorHandling, ServiceUnavailable } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { messagesRoutes } from './http/messages.js';
import { metricsRoutes } from './http/metrics.js';
import { statsRoutes } from './http/stats.js';
import { webhookRoutes } from './http/webhook.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics, UNMATCHED_PATH } from './observability/metrics.js';
import { GroupCommitter } from './store/group-commit.js';
import type { MessageStore } from './store/store.js';

export interface AppOptions {
  readonly config: Config;
  readonly store: MessageStore;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** Seconds an overloaded server asks clients to wait before retrying. */
const RETRY_AFTER_SECONDS = 10;

/** An incoming X-Request-ID is reused when it is a sane token; anything else gets a fresh id. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export async function buildApp({ config, store, logger, metrics = createMetrics() }: AppOptions): Promise<FastifyInstance> {
  // The log line and the metrics of one completed request (SPEC A.7, A.8).
  const recordRequest = (request: FastifyRequest, status: number, elapsedMs: number): void => {
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
    // A forged or broken signature is an error-level event (SPEC A.2), and so is a replayed one;
    // so is anything 5xx.
    if (outcome?.result === 'invalid_signature' || outcome?.result === 'stale_timestamp' || status >= 500) {
      request.log.error(line, 'request completed');
    } else if (status >= 400) request.log.warn(line, 'request completed');
    else request.log.info(line, 'request completed');
  };

  const baseLogger: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance: baseLogger,
    // One line per request, written below to the contract's shape, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    bodyLimit: config.maxBodyBytes,
    // GET /messages/{message_id}: an id may have 512 characters, each up to 12 once percent-encoded.
    routerOptions: { maxParamLength: 512 * 12 },
    // Requests that arrive while closing are refused by the onRequest hook below instead, so
    // they get the contract's body, a log line and a metric like any other.
    return503OnClosing: false,
    // A URL that cannot be decoded never reaches the hooks: answer, tag and log it here.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const started = performance.now();
      reply.header('x-request-id', request.id);
      void reply.code(400).send({ detail: error.message });
      recordRequest(request, 400, performance.now() - started);
    },
  });
  app.decorateRequest('webhookOutcome', null);

  // Every body stays raw bytes whatever its Content-Type (or none): /webhook must verify the
  // signature over exactly what was sent, before anything is parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // Shutting down: finish what is in flight, refuse what is new, and ask every keep-alive client
  // to disconnect, since an idle kept-alive connection would hold the close open for its timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) throw new ServiceUnavailable('shutting down; retry later');
    // Fastify refuses a Content-Type it cannot parse (415) before any body parser runs, and so
    // before the signature check. Every body here is raw bytes whatever its type, so the header
    // is replaced by one that reaches the raw parser: a webhook is judged on its signature.
    if (request.headers['content-type'] !== undefined) request.headers['content-type'] = 'application/octet-stream';
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (request, reply) => {
    recordRequest(request, reply.statusCode, reply.elapsedTime);
  });

  registerErrorHandling(app);

  // Shed load before falling over: when the event loop lags, answer 503 with Retry-After at once
  // (webhook senders back off and retry) instead of queueing work that would time out anyway.
  if (config.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.maxEventLoopDelayMs,
      retryAfter: RETRY_AFTER_SECONDS,
      pressureHandler: async (request, reply) => {
        if (request.routeOptions.url === '/webhook') request.webhookOutcome = { result: 'overloaded' };
        reply.header('retry-after', String(RETRY_AFTER_SECONDS));
        throw new Overloaded();
      },
    });
  }

  const committer = new GroupCommitter(store, {
    maxSize: config.batchMaxSize,
    maxWaitMs: config.batchMaxWaitMs,
    maxInFlight: store.concurrentWrites ?? 1,
  });
  app.addHook('onClose', async () => {
    // Requests in flight have been answered by now; anything still queued is committed before the store closes.
    await committer.drain();
  });

  // Stored data is read with a bearer token when API_TOKEN is set; health and metrics stay open.
  const readAuth = requireBearerToken(config.apiTokens);
  webhookRoutes(app, { config, committer, store, metrics });
  messagesRoutes(app, store, readAuth);
  deadLetterRoutes(app, store, readAuth);
  statsRoutes(app, store, readAuth);
  healthRoutes(app, store, ingestConfigured(config));
  metricsRoutes(app, metrics);

  await app.ready();
  return app;
}
