// buildApp: the whole HTTP application from its parts. It never listens; server.ts and the
// tests call it the same way.

import { createRequire } from 'node:module';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type Config, ingestConfigured } from './config.js';
import { FeedHub } from './feed/hub.js';
import { requireAdminToken, requireBearerToken } from './http/auth.js';
import { registerClosing } from './http/closing.js';
import { conversationRoutes } from './http/conversations.js';
import { dashboardRoutes } from './http/dashboard.js';
import { eventRoutes, sseFrame } from './http/events.js';
import { feedRoutes } from './http/feed.js';
import './http/context.js';
import { deadLetterRoutes } from './http/dead-letters.js';
import { erasureRoutes } from './http/erasure.js';
import { registerErrorHandling } from './http/errors.js';
import { exportRoutes } from './http/export.js';
import { healthRoutes } from './http/health.js';
import { registerLoadShedding } from './http/load-shedding.js';
import { messagesRoutes } from './http/messages.js';
import { metricsRoutes } from './http/metrics.js';
import { registerOpenApi } from './http/openapi.js';
import { registerRawBody } from './http/raw-body.js';
import { createRequestLog, requestId } from './http/request-log.js';
import { statsRoutes } from './http/stats.js';
import { timeseriesRoutes } from './http/timeseries.js';
import { webhookRoutes } from './http/webhook.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { RetentionTask } from './retention/task.js';
import { GroupCommitter } from './store/group-commit.js';
import type { MessageStore } from './store/store.js';

export interface AppOptions {
  readonly config: Config;
  readonly store: MessageStore;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** The built dashboard (index.html and assets/); default dist/web. */
  readonly dashboardDir?: string;
}

/** The version the OpenAPI document carries: package.json's, one folder up from src/ and from dist/. */
const PACKAGE_VERSION = String((createRequire(import.meta.url)('../package.json') as { version?: unknown }).version);

/** How much later than REQUEST_TIMEOUT_MS Node's own request timeout cuts a connection. */
const BACKSTOP_MS = 2000;

export async function buildApp({
  config,
  store,
  logger,
  metrics = createMetrics(),
  dashboardDir,
}: AppOptions): Promise<FastifyInstance> {
  const requestLog = createRequestLog(metrics);
  const baseLogger: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance: baseLogger,
    // One line per request, written by request-log.ts to the contract's shape, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    requestIdHeader: false,
    genReqId: requestId,
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
    // Requests that arrive while closing are refused by closing.ts instead, so they get the
    // contract's body, a log line and a metric like any other.
    return503OnClosing: false,
    frameworkErrors: requestLog.frameworkErrors,
  });
  app.decorateRequest('webhookOutcome', null);

  requestLog.register(app);
  registerClosing(app);
  const bodies = registerRawBody(app, config);
  app.decorate('bodiesInFlight', bodies);
  metrics.bodiesInFlight.bytes = bodies.bytes;
  registerErrorHandling(app, metrics);
  // Route schemas document and serialise; they never validate a request. The hand-written readers
  // in src/ingest and the routes do that, word every 422 exactly as the contract gives it, and
  // check a webhook's signature before its body is read at all.
  app.setValidatorCompiler(() => () => true);
  await registerOpenApi(app, PACKAGE_VERSION);
  await registerLoadShedding(app, config.maxEventLoopDelayMs);

  // The live end of the feed for GET /events; this process's own writes wake it at once.
  const hub = new FeedHub({
    store,
    format: sseFrame,
    // Pages at most 50 times a second: each costs every subscriber a write.
    minIntervalMs: 20,
    onError: (error) => app.log.warn({ err: error }, 'reading the feed failed'),
  });
  metrics.sseClients.count = () => hub.subscribers;
  metrics.feedHead.read = () => store.feedHead();
  metrics.oldestReceivedAt.read = () => store.oldestReceivedAt();
  // Before the server stops accepting: the streams end, so closing does not wait on them.
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });

  const committer = new GroupCommitter(store, {
    maxSize: config.batchMaxSize,
    maxWaitMs: config.batchMaxWaitMs,
    maxInFlight: store.concurrentWrites ?? 1,
    ...(store.handOffRows === undefined ? {} : { handOffRows: store.handOffRows }),
  });
  app.addHook('onClose', async () => {
    // Requests in flight have been answered by now; anything still queued is committed before the store closes.
    await committer.drain();
  });

  // Each resource is a plugin. Stored data is read with a bearer token when API_TOKEN is set, and
  // erased only with ADMIN_TOKEN's; health, metrics and the API description stay open.
  const auth = requireBearerToken(config.apiTokens);
  // Webhook writes begun so far: a retention pass pauses between its batches only while they come.
  let webhookWrites = 0;
  await app.register(webhookRoutes, {
    config,
    committer,
    store,
    metrics,
    onStored: () => hub.wake(),
    onWrite: () => {
      webhookWrites++;
    },
  });
  await app.register(messagesRoutes, { store, auth });
  await app.register(exportRoutes, { store, auth, metrics, recordEnded: requestLog.record });
  await app.register(erasureRoutes, { store, adminAuth: requireAdminToken(config.adminTokens), metrics });
  await app.register(deadLetterRoutes, { store, auth });
  await app.register(conversationRoutes, { store, auth });
  await app.register(feedRoutes, { store, auth });
  await app.register(eventRoutes, { store, auth, hub, maxClients: config.sseMaxClients, recordEnded: requestLog.record });
  await app.register(statsRoutes, { store, auth });
  await app.register(timeseriesRoutes, { store, auth });
  await app.register(healthRoutes, { store, ingestConfigured: ingestConfigured(config) });
  await app.register(metricsRoutes, { metrics });
  // The dashboard at / and /assets/*: a client of the routes above, open like /docs.
  await app.register(dashboardRoutes, dashboardDir !== undefined ? { dir: dashboardDir } : {});

  // RETENTION_DAYS: removal in the background for as long as the app is open. Stopped when it
  // closes (after its current batch), before server.ts closes the store.
  const retention =
    config.retentionDays === null
      ? null
      : new RetentionTask({ store, days: config.retentionDays, logger, metrics, webhookWrites: () => webhookWrites });
  if (retention !== null) {
    app.addHook('onClose', async () => {
      await retention.stop();
    });
  }

  await app.ready();
  retention?.start();
  return app;
}
