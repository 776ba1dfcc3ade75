// `webhook-inbox serve`: the service itself, exactly what `npm start` runs (src/server.ts), which
// reads its configuration from the environment and owns the process from then on.

import type { Command } from 'commander';
import { type DatabaseOptions, withDatabaseOption } from './command.js';

export function serveCommand(program: Command): Command {
  return withDatabaseOption(
    program
      .command('serve')
      .summary('run the service (what `npm start` runs)')
      .description(
        'Runs the HTTP service, configured by the environment variables described in docs/configuration.md ' +
          '(PORT, HOST, WEBHOOK_SECRET, …), with --database-url in place of DATABASE_URL when given. SIGTERM or ' +
          'Ctrl-C stops it after the requests in flight are answered.',
      ),
  ).action(async (_options: unknown, command: Command) => {
    const { databaseUrl } = command.opts<DatabaseOptions>();
    // The server reads the environment once, at start: the option is handed over as the variable.
    if (databaseUrl !== undefined) process.env.DATABASE_URL = databaseUrl;
    await import('../server.js');
  });
}
