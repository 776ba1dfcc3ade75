// `webhook-inbox <command>`: the command line (bin/webhook-inbox.js runs this, compiled). One file
// per subcommand; this one assembles them and owns the process: the environment is read here, and
// every failure ends as one line on stderr and exit code 1.

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { backupCommand } from './backup.js';
import { CliError } from './command.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { openApiCommand, REPOSITORY_ROOT } from './openapi.js';
import { purgeCommand } from './purge.js';
import { seedCommand } from './seed.js';
import { sendCommand } from './send.js';
import { serveCommand } from './serve.js';
import { tailCommand } from './tail.js';

const NAME = 'webhook-inbox';

function version(): string {
  const manifest = JSON.parse(readFileSync(`${REPOSITORY_ROOT}/package.json`, 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** Commander's own errors ("error: unknown option '--x'") worded like the commands' own. */
function configureErrors(command: Command, name: string): void {
  command.configureOutput({
    outputError: (text, write) =>
      write(
        `${name}: ${text
          .replace(/^error: /, '')
          .trimEnd()
          .replace(/\s*\n\s*/g, ' ')}\n`,
      ),
  });
}

export function buildProgram(env: NodeJS.ProcessEnv): Command {
  const program = new Command(NAME)
    .description('Operate webhook-inbox: run it, send it webhooks, follow its feed, move its data in and out.')
    .version(version(), '-V, --version')
    .helpCommand(false);
  configureErrors(program, NAME);
  const commands = [
    serveCommand(program),
    sendCommand(program, env),
    tailCommand(program),
    exportCommand(program),
    importCommand(program, env),
    backupCommand(program, env),
    purgeCommand(program, env),
    seedCommand(program, env),
    openApiCommand(program),
  ];
  for (const command of commands) configureErrors(command, `${NAME} ${command.name()}`);
  return program;
}

async function main(): Promise<void> {
  // A reader that stops early (`webhook-inbox openapi | head`) closes the pipe: not an error of ours.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const program = buildProgram(process.env);
  if (process.argv.length <= 2) {
    const names = program.commands.map((command) => command.name()).join(', ');
    process.stderr.write(`${NAME}: give a command: ${names} (see ${NAME} --help)\n`);
    process.exitCode = 1;
    return;
  }
  let running = NAME;
  program.hook('preAction', (_program, command) => {
    running = `${NAME} ${command.name()}`;
  });
  // Commander reports its own errors (an unknown option, a missing argument) and exits 1; what the
  // commands throw ends here. A CliError's message is written for the user; anything else is
  // unexpected, and its message is the best one line there is.
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    const message = error instanceof CliError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`${running}: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = 1;
  }
}

await main();
