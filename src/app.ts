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
import { registerRawBody } from './http/raw-body.js';
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

/** An incoming X-Request-ID is reused when it is a sane token; anything else gets a fresh id. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Whether a request is refused while the event loop lags by `delayMs` (mean) against
 * MAX_EVENT_LOOP_DELAY_MS. Reads go first, from half the limit; webhooks, the work the service
 * exists for, only past the limit itself.
 */
export function shouldShed(webhook: boolean, delayMs: number, limitMs: number): boolean {
  return webhook ? delayMs > limitMs : delayMs > limitMs / 2;
}

/** How much later than REQUEST_TIMEOUT_MS Node's own request timeout cuts a connection. */
const BACKSTOP_MS = 2000;

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
    // A request that anyone could send by the thousand and that says nothing new (a provider's
    // webhook for a scheme that is not configured) is logged at DEBUG; the route summarises them
    // at WARNING once a minute.
    if (outcome?.quiet === true) request.log.debug(line, 'request completed');
    // A forged or broken signature is an error-level event (SPEC A.2), and so is a replayed one;
    // so is anything 5xx.
    else if (outcome?.result === 'invalid_signature' || outcome?.result === 'stale_timestamp' || status >= 500) {
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
    // Time limits on receiving a request. Bodies are timed by the raw-body reader (a 408 that is
    // logged and counted like any answer); Node's own limits are the backstop for what never
    // reaches it: headers that do not arrive (HEADERS_TIMEOUT_MS), and bodies of requests that
    // read none (a GET with a body). Node checks them once per connectionsCheckingInterval.
    requestTimeout: config.requestTimeoutMs + BACKSTOP_MS,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    },
    // GET /messages/{message_id}: an id may have 512 characters, each up to 12 once percent-encoded.
    routerOptions: { maxParamLength: 512 * 12 },
    // Requests that arrive while closing are refused by the onRequest hook below instead, so
    // they get the contract's body, a log line and a metric like any other.
    return503OnClosing: false,
    // A URL that cannot be decoded never reaches the hooks: answer, tag and log it here.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      // Fastify starts a reply's clock only once the request is routed, which this one never is:
      // time it from when Node handed the request over (app.inject does not go through the
      // server, so from now there).
      const started = arrivals.get(request.raw) ?? performance.now();
      reply.raw.once('finish', () => recordRequest(request, 400, performance.now() - started));
      reply.header('x-request-id', request.id);
      void reply.code(400).send({ detail: error.message });
    },
  });
  const arrivals = new WeakMap<object, number>();
  app.server.prependListener('request', (raw: object) => arrivals.set(raw, performance.now()));
  app.decorateRequest('webhookOutcome', null);

  const bodies = registerRawBody(app, config);
  app.decorate('bodiesInFlight', bodies);
  metrics.bodiesInFlight.bytes = bodies.bytes;

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
  // (senders back off and retry) instead of queueing work that would time out anyway.
  if (config.maxEventLoopDelayMs > 0) {
    const limit = config.maxEventLoopDelayMs;
    await app.register(underPressure, {
      // The plugin calls pressureHandler past the lower of the two limits; it decides per route.
      maxEventLoopDelay: limit / 2,
      pressureHandler: async (request) => {
        const webhook = request.routeOptions.url === '/webhook';
        if (!shouldShed(webhook, app.memoryUsage().eventLoopDelay, limit)) return;
        if (webhook) request.webhookOutcome = { result: 'overloaded' };
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
