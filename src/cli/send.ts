// `webhook-inbox send`: signs one body the way a sender of the chosen form does and posts it to
// POST /webhook; prints the answer. The body comes from --file, from the message fields, from a
// WhatsApp example, or from stdin.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { text as readAll } from 'node:stream/consumers';
import { type Command, Option } from 'commander';
import { PHONE_PATTERN } from '../ingest/message.js';
import { parseStandardWebhooksSecret } from '../ingest/standard-webhooks.js';
import { instantKey } from '../ingest/timestamp.js';
import {
  CliError,
  callService,
  commandConfig,
  describeAnswer,
  type Env,
  type ServiceOptions,
  withServiceOptions,
} from './command.js';
import { SCHEMES, type Scheme, specHeaders, standardHeaders, whatsappHeaders } from './sign.js';
import { WHATSAPP_EXAMPLE_NAMES, type WhatsAppExampleName, whatsappEnvelope, whatsappExampleBody } from './whatsapp-examples.js';

/** The sender and business number of a message built from fields, unless --from and --to say otherwise. */
export const DEFAULT_FROM = '+919876543210';
export const DEFAULT_TO = '+14155550100';

interface SendOptions extends ServiceOptions {
  readonly scheme?: Scheme;
  readonly secret?: string;
  readonly file?: string;
  readonly whatsappFixture?: WhatsAppExampleName;
  readonly id?: string;
  readonly from?: string;
  readonly to?: string;
  readonly ts?: string;
  readonly text?: string;
}

/** Where the variable the service reads for each form's secret. */
const SECRET_VARIABLE: Readonly<Record<Scheme, string>> = {
  spec: 'WEBHOOK_SECRET',
  whatsapp: 'WHATSAPP_APP_SECRET',
  standard: 'STANDARD_WEBHOOKS_SECRET',
};

export function sendCommand(program: Command, env: Env): Command {
  return withServiceOptions(
    program
      .command('send')
      .summary('sign one webhook body and post it to the service')
      .description(
        'Signs one body the way a sender of the chosen form does and posts it to POST /webhook, then prints the answer. ' +
          'The body is the file given with --file; else a message built from --id --from --to --ts --text when any ' +
          'of them is given (the others default to a random id, now, and two example numbers); else a WhatsApp ' +
          'example envelope with --whatsapp-fixture; else standard input. The secret is --secret, or the variable the ' +
          'service reads for the form: WEBHOOK_SECRET (spec), WHATSAPP_APP_SECRET (whatsapp), STANDARD_WEBHOOKS_SECRET ' +
          '(standard). Exits 0 when the service answers 2xx.',
      )
      .addOption(
        new Option('--scheme <scheme>', 'how to sign: spec (X-Signature), whatsapp, standard (default: spec)').choices(SCHEMES),
      )
      .option('--secret <secret>', "the signing secret (default: the service's variable for the scheme)")
      .option('--file <file>', 'post this file, byte for byte ("-": standard input)')
      .addOption(
        new Option(
          '--whatsapp-fixture <name>',
          'post an example WhatsApp envelope of this message type (scheme whatsapp)',
        ).choices(WHATSAPP_EXAMPLE_NAMES),
      )
      .option('--id <message_id>', 'message_id of a built message (default: a random one)')
      .option('--from <phone>', `sender of a built message (default: ${DEFAULT_FROM})`)
      .option('--to <phone>', `recipient of a built message (default: ${DEFAULT_TO})`)
      .option('--ts <timestamp>', 'ts of a built message, YYYY-MM-DDTHH:MM:SSZ (default: now)')
      .option('--text <text>', 'text of a built message'),
  ).action(async (_options: unknown, command: Command) => {
    await send(command.opts<SendOptions>(), env);
  });
}

function builtFields(options: SendOptions): boolean {
  return [options.id, options.from, options.to, options.ts, options.text].some((value) => value !== undefined);
}

/** Now, to the second: what a sender stamps a message with. */
function nowTimestamp(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

/** A WhatsApp text message of the fields: the envelope Meta would send for it. */
function whatsappTextEnvelope(message: { id: string; from: string; to: string; ts: string; text: string | undefined }): object {
  for (const [name, phone] of [
    ['--from', message.from],
    ['--to', message.to],
  ] as const) {
    if (!PHONE_PATTERN.test(phone)) throw new CliError(`${name}: expected + and 1 to 15 digits, got ${JSON.stringify(phone)}`);
  }
  const key = instantKey(message.ts);
  if (key === null || key.includes('.')) {
    throw new CliError(
      `--ts: WhatsApp timestamps are whole seconds: expected YYYY-MM-DDTHH:MM:SSZ, got ${JSON.stringify(message.ts)}`,
    );
  }
  const item = {
    from: message.from.slice(1),
    id: message.id,
    timestamp: String(Date.parse(`${key}Z`) / 1000),
    type: 'text',
    text: { body: message.text ?? '' },
  };
  return whatsappEnvelope({ messages: [item] }, message.to.slice(1));
}

async function readBody(options: SendOptions, scheme: Scheme): Promise<Buffer> {
  const ways = [options.file !== undefined, options.whatsappFixture !== undefined, builtFields(options)].filter(Boolean).length;
  if (ways > 1) {
    throw new CliError('give the body one way: --file, --whatsapp-fixture, or the message fields (--id --from --to --ts --text)');
  }
  if (options.whatsappFixture !== undefined) return whatsappExampleBody(options.whatsappFixture);
  if (options.file !== undefined && options.file !== '-') {
    try {
      return await readFile(options.file);
    } catch (error) {
      throw new CliError(`--file: cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  if (builtFields(options)) {
    const message = {
      id: options.id ?? `cli-${randomUUID()}`,
      from: options.from ?? DEFAULT_FROM,
      to: options.to ?? DEFAULT_TO,
      ts: options.ts ?? nowTimestamp(),
      text: options.text,
    };
    const body =
      scheme === 'whatsapp'
        ? whatsappTextEnvelope(message)
        : {
            message_id: message.id,
            from: message.from,
            to: message.to,
            ts: message.ts,
            ...(message.text !== undefined ? { text: message.text } : {}),
          };
    return Buffer.from(JSON.stringify(body));
  }
  if (options.file === undefined && process.stdin.isTTY === true) {
    throw new CliError(
      'no body: give --file, the message fields (--id --from --to --ts --text), --whatsapp-fixture, or a body on stdin',
    );
  }
  return Buffer.from(await readAll(process.stdin));
}

/** The signing headers for the scheme, with the secret from --secret or from the service's variable. */
function signingHeaders(options: SendOptions, scheme: Scheme, env: Env, body: Buffer): Record<string, string> {
  const variable = SECRET_VARIABLE[scheme];
  const missing = () => new CliError(`no secret for the ${scheme} scheme: give --secret or set ${variable}`);
  if (options.secret !== undefined) {
    if (options.secret === '') throw missing();
    if (scheme === 'spec') return specHeaders(options.secret, body);
    if (scheme === 'whatsapp') return whatsappHeaders(options.secret, body);
    const key = parseStandardWebhooksSecret(options.secret);
    if (key === null) throw new CliError('--secret: a Standard Webhooks secret is whsec_ followed by base64');
    return standardHeaders(key, body);
  }
  // The first of each list is the current secret; a rotation's previous one comes after it.
  const config = commandConfig(env);
  if (scheme === 'spec') {
    const [secret] = config.webhookSecrets;
    if (secret === undefined) throw missing();
    return specHeaders(secret, body);
  }
  if (scheme === 'whatsapp') {
    const [secret] = config.whatsappAppSecrets;
    if (secret === undefined) throw missing();
    return whatsappHeaders(secret, body);
  }
  const [key] = config.standardWebhooksKeys;
  if (key === undefined) throw missing();
  return standardHeaders(key, body);
}

async function send(options: SendOptions, env: Env): Promise<void> {
  if (options.whatsappFixture !== undefined && options.scheme !== undefined && options.scheme !== 'whatsapp') {
    throw new CliError(`--whatsapp-fixture posts a WhatsApp envelope, signed with the whatsapp scheme, not ${options.scheme}`);
  }
  const scheme: Scheme = options.scheme ?? (options.whatsappFixture !== undefined ? 'whatsapp' : 'spec');
  const body = await readBody(options, scheme);
  const headers = { 'content-type': 'application/json', ...signingHeaders(options, scheme, env, body) };
  const response = await callService(options, '/webhook', { method: 'POST', headers, body });
  if (!response.ok) throw new CliError(await describeAnswer(response));
  const answer = await response.text();
  process.stdout.write(answer.endsWith('\n') ? answer : `${answer}\n`);
}
