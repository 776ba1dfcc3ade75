// `webhook-inbox send` against the real service: each of the three signed forms is accepted and
// stored as that form, with the secret from --secret or from the service's own variable; a wrong
// secret, a body the service refuses and a mistake on the command line are one line and exit 1.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WHATSAPP_EXAMPLE_NAMES, WHATSAPP_EXAMPLES } from '../../src/cli/whatsapp-examples.js';
import { getJson } from '../e2e/client.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { whsecSecret } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { errorLine, linesOf, runCli } from './cli.js';

const SECRETS = {
  WEBHOOK_SECRET: 'cli-send-secret',
  WHATSAPP_APP_SECRET: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  STANDARD_WEBHOOKS_SECRET: whsecSecret('cli send: standard webhooks key'),
};

interface Detail {
  message_id: string;
  from: string;
  to: string;
  ts: string;
  text: string | null;
  type: string | null;
  source: string;
}

describe('webhook-inbox send', () => {
  const tmp = tempDir();
  let server: RunningServer;
  let url: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ env: { ...SECRETS, DATABASE_URL: `sqlite:///${tmp.dir}/send.db` } });
    url = { WEBHOOK_INBOX_URL: server.baseUrl };
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  async function stored(id: string): Promise<Detail | null> {
    const { status, json } = await getJson(`${server.baseUrl}/messages/${encodeURIComponent(id)}`);
    return status === 200 ? (json as Detail) : null;
  }

  it('spec: a message built from the fields, signed with --secret, is stored as sent', async () => {
    const args = ['--id', 'cli-spec-1', '--from', '+447700900123', '--ts', '2025-03-01T09:00:00Z', '--text', 'Grüße 👋'];
    const run = await runCli(['send', '--secret', SECRETS.WEBHOOK_SECRET, ...args], { env: url });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('{"status":"ok"}\n');
    expect(run.stderr).toBe('');
    expect(await stored('cli-spec-1')).toMatchObject({
      from: '+447700900123',
      to: '+14155550100',
      ts: '2025-03-01T09:00:00Z',
      text: 'Grüße 👋',
      type: null,
      source: 'spec',
    });
  });

  it('spec: with the secret from WEBHOOK_SECRET, a random id and now by default', async () => {
    const before = Date.now();
    const run = await runCli(['send', '--text', 'defaults'], { env: { ...url, WEBHOOK_SECRET: SECRETS.WEBHOOK_SECRET } });
    expect(run.code, run.stderr).toBe(0);
    const { json } = await getJson(`${server.baseUrl}/messages?q=defaults`);
    const [item] = (json as { data: Detail[] }).data;
    expect(item?.message_id).toMatch(/^cli-[0-9a-f-]{36}$/);
    expect(item?.from).toBe('+919876543210');
    expect(Date.parse(item?.ts ?? '')).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });

  it('spec: --file posts the file byte for byte, and so does standard input', async () => {
    const body =
      '{"message_id": "cli-file-1", "from": "+14155550123", "to": "+14155550100", "ts": "2025-03-01T09:00:00Z", "extra": [1, 2]}';
    const file = path.join(tmp.dir, 'body.json');
    writeFileSync(file, body);
    const env = { ...url, WEBHOOK_SECRET: SECRETS.WEBHOOK_SECRET };
    expect((await runCli(['send', '--file', file], { env })).code).toBe(0);
    const fromStdin = await runCli(['send'], { env, input: body.replace('cli-file-1', 'cli-stdin-1') });
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const detail = (await getJson(`${server.baseUrl}/messages/cli-file-1`)).json as { raw: unknown };
    expect(detail.raw).toEqual(JSON.parse(body));
    expect(await stored('cli-stdin-1')).toMatchObject({ source: 'spec', text: null });
  });

  it('whatsapp: a text message built from the fields goes as a WhatsApp envelope', async () => {
    const run = await runCli(
      [
        'send',
        '--scheme',
        'whatsapp',
        '--id',
        'wamid.cli-1',
        '--ts',
        '2025-03-01T09:30:00Z',
        '--text',
        'olá',
        '--to',
        '+15550783881',
      ],
      { env: { ...url, WHATSAPP_APP_SECRET: SECRETS.WHATSAPP_APP_SECRET } },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('{"status":"ok"}\n');
    expect(await stored('wamid.cli-1')).toMatchObject({
      from: '+919876543210',
      to: '+15550783881',
      ts: '2025-03-01T09:30:00Z',
      text: 'olá',
      type: 'text',
      source: 'whatsapp',
    });
  });

  it.each(WHATSAPP_EXAMPLE_NAMES)('whatsapp: --whatsapp-fixture %s is stored with its type', async (name) => {
    const run = await runCli(['send', '--whatsapp-fixture', name, '--secret', SECRETS.WHATSAPP_APP_SECRET], { env: url });
    expect(run.code, run.stderr).toBe(0);
    const item = WHATSAPP_EXAMPLES[name].entry[0].changes[0].value.messages[0];
    expect(await stored(item.id)).toMatchObject({ type: item.type, source: 'whatsapp' });
  });

  it('standard: signed with --secret, and with STANDARD_WEBHOOKS_SECRET', async () => {
    const withOption = await runCli(
      ['send', '--scheme', 'standard', '--secret', SECRETS.STANDARD_WEBHOOKS_SECRET, '--id', 'std-1'],
      {
        env: url,
      },
    );
    expect(withOption.code, withOption.stderr).toBe(0);
    const fromEnv = await runCli(['send', '--scheme', 'standard', '--id', 'std-2', '--text', 'hi'], {
      env: { ...url, STANDARD_WEBHOOKS_SECRET: SECRETS.STANDARD_WEBHOOKS_SECRET },
    });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(await stored('std-1')).toMatchObject({ source: 'standard', text: null });
    expect(await stored('std-2')).toMatchObject({ source: 'standard', text: 'hi' });
  });

  it.each([
    ['spec', 'not-the-secret'],
    ['whatsapp', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
    ['standard', whsecSecret('not the key')],
  ])('%s: a wrong secret is refused (401): one line, exit 1, nothing stored', async (scheme, secret) => {
    const id = `wrong-${scheme}`;
    const run = await runCli(['send', '--scheme', scheme, '--secret', secret, '--id', id, '--text', 'x'], { env: url });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(errorLine(run, 'send')).toBe('webhook-inbox send: the service answered 401: {"detail":"invalid signature"}');
    expect(await stored(id)).toBeNull();
  });

  it('a body the service refuses (422) is one line with the answer, exit 1', async () => {
    const run = await runCli(['send', '--secret', SECRETS.WEBHOOK_SECRET, '--from', '12345', '--ts', '2025-02-30T00:00:00Z'], {
      env: url,
    });
    expect(run.code).toBe(1);
    expect(errorLine(run, 'send')).toMatch(
      /^webhook-inbox send: the service answered 422: \{"detail":\[.*"body","from".*"body","ts"/,
    );
  });

  it('without a secret, or with the body given two ways: one line, exit 1, nothing sent', async () => {
    const noSecret = await runCli(['send', '--text', 'x'], { env: url });
    expect(noSecret.code).toBe(1);
    expect(errorLine(noSecret, 'send')).toBe(
      'webhook-inbox send: no secret for the spec scheme: give --secret or set WEBHOOK_SECRET',
    );
    const noAppSecret = await runCli(['send', '--whatsapp-fixture', 'text'], { env: url });
    expect(errorLine(noAppSecret, 'send')).toBe(
      'webhook-inbox send: no secret for the whatsapp scheme: give --secret or set WHATSAPP_APP_SECRET',
    );
    const twoWays = await runCli(['send', '--secret', 's', '--file', 'x.json', '--text', 'x'], { env: url });
    expect(errorLine(twoWays, 'send')).toMatch(/give the body one way/);
    const mismatch = await runCli(['send', '--secret', 's', '--whatsapp-fixture', 'text', '--scheme', 'spec'], { env: url });
    expect(errorLine(mismatch, 'send')).toMatch(/--whatsapp-fixture posts a WhatsApp envelope/);
    const badWhatsAppTime = await runCli(['send', '--scheme', 'whatsapp', '--secret', 's', '--ts', '2025-03-01T09:30:00.5Z'], {
      env: url,
    });
    expect(errorLine(badWhatsAppTime, 'send')).toMatch(/--ts: WhatsApp timestamps are whole seconds/);
    for (const run of [noAppSecret, twoWays, mismatch, badWhatsAppTime]) expect(run.code).toBe(1);
    expect(linesOf(noSecret.stdout)).toEqual([]);
  });
});
