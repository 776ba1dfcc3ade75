// The process: config → logger → store → app → listen, and the signals that end it.
// The only module that touches `process`.

import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type Config, ConfigError, ingestConfigured, loadConfig } from './config.js';
import { createLogger, type Logger } from './observability/logger.js';
import { openStore } from './store/open.js';
import type { MessageStore } from './store/store.js';

function fail(logger: Logger, message: string, fields: Record<string, unknown> = {}): never {
  logger.fatal(fields, message);
  process.stderr.write(`webhook-inbox: ${message}\n`);
  process.exit(1);
}

/** After the shutdown grace period: how long requests past their body get to be answered before every connection is closed. */
const FINAL_CLOSE_MS = 1000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, process.cwd());
  } catch (error) {
    const logger = createLogger('info');
    if (error instanceof ConfigError) fail(logger, `invalid configuration: ${error.message}`, { variable: error.variable });
    throw error;
  }
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  process.on('uncaughtException', (error) => fail(logger, 'uncaught exception', { err: error }));

  if (!ingestConfigured(config)) {
    logger.error('WEBHOOK_SECRET is not set: POST /webhook answers 503 and /health/ready stays 503 until it is');
  } else if (config.webhookSecrets.length === 0) {
    logger.warn('WEBHOOK_SECRET is not set: webhooks in the X-Signature format answer 503');
  }
  if (config.apiTokens.length === 0) {
    logger.warn(
      'API_TOKEN is not set: the reads of stored data (/messages, /conversations, /dead-letters, /stats, /feed, /events) are open to anyone who can reach this port',
    );
  }

  if (config.retentionDays !== null) {
    logger.info(
      { retention_days: config.retentionDays },
      `RETENTION_DAYS is set: messages, statuses and dead letters received more than ${config.retentionDays} days ago are removed in the background`,
    );
  }

  let store: MessageStore;
  try {
    store = await openStore(config, logger);
  } catch (error) {
    fail(logger, `cannot open the database: ${error instanceof Error ? error.message : String(error)}`, {
      database: config.database.kind,
    });
  }

  let app: FastifyInstance;
  try {
    app = await buildApp({ config, store, logger });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await store.close();
    fail(logger, `cannot start the HTTP server: ${error instanceof Error ? error.message : String(error)}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  logger.info({ host: config.host, port, pid: process.pid, database: config.database.kind }, 'webhook-inbox started');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, grace_ms: config.shutdownGraceMs }, 'shutting down: no new connections, finishing requests in flight');
    // A client that sends its body slowly would hold the close open for as long as it likes. After
    // the grace period, requests whose bodies are still arriving are answered 503 (the sender
    // retries elsewhere or later; nothing of theirs was acknowledged); a moment later, whatever
    // connection is left is closed. Requests already past their body are committed and answered first.
    const graceOver = setTimeout(() => {
      const cutOff = app.bodiesInFlight.cutOff();
      app.server.closeIdleConnections();
      logger.warn({ cut_off: cutOff }, 'shutdown grace period over: requests still being received answered 503');
      setTimeout(() => app.server.closeAllConnections(), FINAL_CLOSE_MS).unref();
    }, config.shutdownGraceMs);
    graceOver.unref();
    try {
      await app.close(); // waits for in-flight requests; onClose commits what is still queued
      clearTimeout(graceOver);
      await store.close();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      fail(logger, 'shutdown failed', { err: error });
    }
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}

await main();
