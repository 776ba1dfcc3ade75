// The one root logger and its line contract: JSON lines on stdout with `ts`
// (ISO-8601) and `level` (a name); every other module receives it, none creates its own.

import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config.js';

export type { Logger };

/** Level names as operators write them in LOG_LEVEL. */
const LEVEL_NAMES: Readonly<Record<string, string>> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'webhook-inbox' },
    messageKey: 'msg',
    timestamp: () => `,"ts":"${new Date().toISOString()}"`,
    formatters: {
      level: (label: string) => ({ level: LEVEL_NAMES[label] ?? label.toUpperCase() }),
    },
  };
  // Asynchronous writes: under load the lines that pile up during one write go out in the next,
  // instead of one blocking syscall per request. pino flushes what is left when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
