// Runs the shell blocks of docs/*.md against real servers and checks what they print, and checks
// that README.md and docs/ stand alone: every link leads to a file (and heading) of the
// repository, and every command of the blocks that are not run names scripts, targets and files
// that exist.
//
// The rule (also at the top of doc-blocks.ts): a block fenced as ```sh is run, and must be claimed
// below (CLAIMED) by the heading it sits under, with a test that checks its output; a ```console
// block holds commands no test can run here (Docker, a real Meta app, minutes of benchmark,
// `npm ci`) and is only checked for the scripts, targets and files it names; any other block
// (json, text, …) is not a command.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { getJson, message, metricValue, postWebhook } from './client.js';
import {
  anchors,
  codeBlocks,
  documentationFiles,
  haveTools,
  promisedOutputs,
  prose,
  readDoc,
  runBlock,
  shBlockIds,
  shBlockUnder,
} from './doc-blocks.js';

const tools = haveTools('bash', 'curl', 'openssl', 'sed', 'base64', 'od');
const docs = documentationFiles().filter((file) => file.startsWith('docs/'));

/** Every sh block of docs/*.md, by file and heading: each has its test below. */
const CLAIMED = [
  'docs/api.md#Try it',
  'docs/api.md#Follow the feed',
  // Run by test/e2e/export.test.ts.
  'docs/api.md#Export and erase',
  'docs/configuration.md#A value that cannot be used',
  'docs/operations.md#The `path` label',
  // The blocks that use the command line: run by test/cli/docs.test.ts.
  'docs/operations.md#SQLite',
  'docs/operations.md#SQLite',
  'docs/operations.md#Moving from SQLite to PostgreSQL',
  'docs/operations.md#Moving from SQLite to PostgreSQL',
  'docs/operations.md#Removing what is old',
  "docs/operations.md#Erasing a person's messages",
  'docs/performance.md#Running the benchmark',
  'docs/providers.md#How each form is signed',
  'docs/providers.md#Try it',
];

interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
  next_cursor?: string | null;
}
interface Listed {
  message_id: string;
}
interface Issue {
  loc: (string | number)[];
  type: string;
}

const ids = (line: string | undefined): string[] => (JSON.parse(line ?? '') as Page<Listed>).data.map((m) => m.message_id);
const issues = (line: string | undefined): [string, string][] =>
  (JSON.parse(line ?? '') as { detail: Issue[] }).detail.map((issue) => [issue.loc.join('.'), issue.type]);

describe('docs/ and README.md stand alone', () => {
  it('every sh block of docs/ is run by a test here', () => {
    expect(shBlockIds(docs).sort()).toEqual([...CLAIMED].sort());
  });

  it.each(documentationFiles())('%s: every relative link leads to a file, and heading, of the repository', (file) => {
    const text = prose(file);
    const broken: string[] = [];
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] ?? '';
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [filePart = '', anchor] = target.split('#', 2);
      const resolved = filePart === '' ? path.join(PROJECT_ROOT, file) : path.resolve(PROJECT_ROOT, path.dirname(file), filePart);
      const relative = path.relative(PROJECT_ROOT, resolved);
      if (relative.startsWith('..') || path.isAbsolute(relative)) broken.push(`${target}: outside the repository`);
      else if (!existsSync(resolved)) broken.push(`${target}: no such file`);
      else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(relative).has(anchor)) {
        broken.push(`${target}: no such heading in ${relative}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each([
    ...documentationFiles(),
    '.env.example',
    'docker-compose.yml',
    'docker-compose.postgres.yml',
    'docker-compose.tls.yml',
    ...readdirSync(path.join(PROJECT_ROOT, 'deploy')).map((name) => `deploy/${name}`),
  ])('%s names no document outside the repository', (file) => {
    const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
    expect(text).not.toMatch(/shared\/|SPEC\.md|STYLE\.md|\.\.\/\.\.\//);
  });

  it('the commands that are not run name npm scripts, make targets and files that exist', () => {
    const scripts = Object.keys((JSON.parse(readDoc('package.json')) as { scripts: Record<string, string> }).scripts);
    const targets = [...readDoc('Makefile').matchAll(/^([\w-]+):/gm)].map((match) => match[1]);
    const missing: string[] = [];
    const blocks = documentationFiles()
      .flatMap((file) => codeBlocks(file))
      .filter((block) => block.lang === 'console');
    expect(blocks.length).toBeGreaterThan(5);
    for (const block of blocks) {
      const where = `${block.file}:${block.line}`;
      for (const [, script] of block.code.matchAll(/npm run ([\w:-]+)/g)) {
        if (!scripts.includes(script ?? '')) missing.push(`${where}: npm script ${script}`);
      }
      for (const [, target] of block.code.matchAll(/^make (\w+)/gm)) {
        if (!targets.includes(target)) missing.push(`${where}: make target ${target}`);
      }
      for (const [, file] of block.code.matchAll(
        /(?:-f |\s)((?:\.\/)?(?:deploy\/[\w.-]+|docker-compose[\w.-]*\.yml|\.env\.example))/g,
      )) {
        if (!existsSync(path.join(PROJECT_ROOT, file ?? ''))) missing.push(`${where}: file ${file}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every json block is JSON', () => {
    const blocks = documentationFiles()
      .flatMap((file) => codeBlocks(file))
      .filter((block) => block.lang === 'json');
    expect(blocks.length).toBeGreaterThan(3);
    for (const block of blocks) expect(() => JSON.parse(block.code), `${block.file}:${block.line}`).not.toThrow();
  });

  it('deploy/nginx-tls.conf forwards to the replicas exactly as deploy/nginx.conf does', () => {
    const plain = readDoc('deploy/nginx.conf');
    const tls = readDoc('deploy/nginx-tls.conf');
    const upstream = (conf: string) => /upstream webhook_inbox \{[^}]*\}/.exec(conf)?.[0];
    expect(upstream(tls)).toBeDefined();
    expect(upstream(tls)).toBe(upstream(plain));
    const directives = (conf: string) => [...conf.matchAll(/^\s*((?:proxy_|client_max_body_size)[^\n]*;)/gm)].map((m) => m[1]);
    expect(directives(tls)).toEqual(expect.arrayContaining(directives(plain)));
    expect(tls).toMatch(/listen 443 ssl;/);
    const override = readDoc('docker-compose.tls.yml');
    expect(override).toContain('./deploy/nginx-tls.conf:/etc/nginx/nginx.conf:ro');
    expect(override).toContain(':/etc/nginx/certs:ro');
    expect(tls).toContain('/etc/nginx/certs/fullchain.pem');
    expect(tls).toContain('/etc/nginx/certs/privkey.pem');
  });
});

describe.skipIf(!tools)('docs/api.md "Try it"', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: 'dev-secret', DATABASE_URL: `sqlite:///${tmp.dir}/api.db` } });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('runs as written: stores, refuses a bad body, walks pages by cursor, filters, names bad parameters', () => {
    expect(readDoc('docs/api.md')).toContain('With the server started as `WEBHOOK_SECRET=dev-secret npm start`');
    const out = runBlock(shBlockUnder('docs/api.md', 'Try it'), { baseUrl: server.baseUrl }).lines;

    expect(out.slice(0, 4)).toEqual(Array(4).fill('{"status":"ok"}'));
    expect(issues(out[4])).toEqual([
      ['body.from', 'string_pattern_mismatch'],
      ['body.ts', 'datetime_format'],
    ]);
    const first = JSON.parse(out[5] ?? '') as Page<Listed>;
    expect(ids(out[5])).toEqual(['order-1', 'order-2']);
    expect(first).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(typeof first.next_cursor).toBe('string');
    expect(ids(out[6])).toEqual(['order-3']);
    expect(JSON.parse(out[6] ?? '')).toMatchObject({ total: 3, next_cursor: null });
    // The redelivery of order-1 with other text changed nothing.
    expect((JSON.parse(out[5] ?? '') as Page<{ text: string }>).data[0]?.text).toBe('Order 1 shipped');
    expect(ids(out[7])).toEqual(['order-1', 'order-2']);
    expect(JSON.parse(out[7] ?? '')).not.toHaveProperty('next_cursor');
    expect(ids(out[8])).toEqual(['order-3']);
    expect(issues(out[9])).toEqual([
      ['query.limit', 'less_than_equal'],
      ['query.since', 'datetime_format'],
    ]);
    expect(JSON.parse(out[10] ?? '')).toMatchObject({ message_id: 'order-3', type: null, statuses: [] });
    expect(out[11]).toBe('{"detail":"message not found"}');
    expect(JSON.parse(out[12] ?? '')).toMatchObject({
      total_messages: 3,
      senders_count: 2,
      messages_per_sender: [
        { from: '+14155550123', count: 2 },
        { from: '+442071838750', count: 1 },
      ],
      first_message_ts: '2025-03-01T09:00:00Z',
      last_message_ts: '2025-03-02T12:30:00Z',
    });
    // The inbox walk-through.
    expect(ids(out[13])).toEqual(['order-3', 'order-2']);
    expect(typeof (JSON.parse(out[13] ?? '') as Page<Listed>).next_cursor).toBe('string');
    const conversations = JSON.parse(out[14] ?? '') as { data: { from: string; to: string; messages: number }[] };
    expect(conversations).toMatchObject({ total: 2, limit: 50, next_cursor: null });
    expect(conversations.data.map((c) => [c.from, c.to, c.messages])).toEqual([
      ['+442071838750', '+14155550100', 1],
      ['+14155550123', '+14155550100', 2],
    ]);
    expect(ids(out[15])).toEqual(['order-2', 'order-1']);
    expect(JSON.parse(out[16] ?? '')).toEqual({
      bucket: 'hour',
      data: [
        { start: '2025-03-01T08:00:00Z', count: 0 },
        { start: '2025-03-01T09:00:00Z', count: 2 },
        { start: '2025-03-01T10:00:00Z', count: 0 },
      ],
    });
    expect(ids(out[17])).toEqual(['order-1', 'order-2']);
    expect(ids(out[18])).toEqual(['order-3']);
    expect((JSON.parse(out[19] ?? '') as Page<Listed>).data).toEqual([
      {
        message_id: 'order-3',
        from: '+442071838750',
        to: '+14155550100',
        ts: '2025-03-02T12:30:00Z',
        text: 'Where is order 3?',
        source: 'spec',
        raw: {
          message_id: 'order-3',
          from: '+442071838750',
          to: '+14155550100',
          ts: '2025-03-02T12:30:00Z',
          text: 'Where is order 3?',
        },
      },
    ]);
    expect(issues(out[20])).toEqual([
      ['query.order', 'enum'],
      ['query.include', 'enum'],
    ]);
    expect(out).toHaveLength(21);
  });
});

describe.skipIf(!tools)('docs/api.md "Follow the feed"', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_SECRET: 'dev-secret', DATABASE_URL: `sqlite:///${tmp.dir}/feed.db` } });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  interface FeedItem {
    position: number;
    type: string;
    data: { message_id: string };
  }
  const page = (line: string | undefined) => JSON.parse(line ?? '') as { data: FeedItem[]; next_after: number };
  /** Events exactly as they are framed on the wire: id, event, data, and a blank line. */
  const wire = (items: readonly FeedItem[]) =>
    items.map((item) => `id: ${item.position}\nevent: ${item.type}\ndata: ${JSON.stringify(item)}\n\n`).join('');

  it('runs as written: pages by next_after, filters, streams from the start, live and resumed, refuses before streaming', async () => {
    expect(readDoc('docs/api.md')).toContain(
      'With the server started as `WEBHOOK_SECRET=dev-secret npm start` on an empty database',
    );
    const run = runBlock(shBlockUnder('docs/api.md', 'Follow the feed'), { baseUrl: server.baseUrl });
    const out = run.lines;

    // Every event the block stored, as GET /feed gives it now: feed-4 was posted while a stream was open.
    const all = (await getJson(`${server.baseUrl}/feed`)).json as { data: FeedItem[]; next_after: number };
    expect(all.data.map((item) => [item.position, item.type, item.data.message_id])).toEqual([
      [1, 'message.created', 'feed-1'],
      [2, 'message.created', 'feed-2'],
      [3, 'message.created', 'feed-3'],
      [4, 'message.created', 'feed-4'],
    ]);
    const [e1, e2, e3, e4] = all.data as [FeedItem, FeedItem, FeedItem, FeedItem];

    expect(out.slice(0, 3)).toEqual(Array(3).fill('{"status":"ok"}'));
    expect(page(out[3])).toEqual({ data: [e1, e2], next_after: 2 });
    expect(page(out[4])).toEqual({ data: [e3], next_after: 3 });
    expect(out[5]).toBe('{"data":[],"next_after":3}');
    expect(page(out[6])).toEqual({ data: [e3], next_after: 3 });
    // The three streams, byte for byte (each followed by the newline the test adds after a curl):
    // from the start, live from the end, resumed after Last-Event-ID 2. No heartbeat within 3 s.
    expect(run.stdout).toContain(`${out[6]}\n${wire([e1, e2, e3])}\n${wire([e4])}\n${wire([e3, e4])}\n`);
    expect(out.slice(7, 25).filter((line) => line.startsWith('id: '))).toEqual([
      'id: 1',
      'id: 2',
      'id: 3',
      'id: 4',
      'id: 3',
      'id: 4',
    ]);
    expect(issues(out[25])).toEqual([
      ['query.types', 'enum'],
      ['header.last-event-id', 'int_parsing'],
    ]);
    expect(JSON.parse(out[26] ?? '')).toEqual({
      statusCode: 406,
      error: 'Not Acceptable',
      message: "This endpoint only produces 'text/event-stream'.",
    });
    expect(out).toHaveLength(27);
    // The streams end with their clients.
    await waitFor('every stream to be let go of', async () => (await metricValue(server.baseUrl, 'sse_clients')) === 0);
  });
});

describe.skipIf(!tools)('docs/providers.md', () => {
  it('"How each form is signed": each worked example prints the value the doc and the OpenAPI document give', () => {
    const block = shBlockUnder('docs/providers.md', 'How each form is signed');
    const promised = promisedOutputs(block);
    expect(promised).toHaveLength(3);
    expect(runBlock(block).lines).toEqual(promised);
    const schemes = (
      JSON.parse(readDoc('openapi.json')) as { components: { securitySchemes: Record<string, { description?: string }> } }
    ).components.securitySchemes;
    expect(schemes.xSignature?.description).toContain(promised[0]);
    expect(schemes.metaSignature?.description).toContain(promised[1]);
    expect(schemes.standardWebhooks?.description).toContain(promised[2]);
  });

  describe('"Try it"', () => {
    const tmp = tempDir();
    let server: RunningServer;

    beforeAll(async () => {
      server = await startServer({
        env: {
          WHATSAPP_APP_SECRET: 'meta-app-secret',
          WHATSAPP_VERIFY_TOKEN: 'verify-me',
          STANDARD_WEBHOOKS_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
          API_TOKEN: 'read-token',
          DATABASE_URL: `sqlite:///${tmp.dir}/providers.db`,
        },
      });
    });
    afterAll(async () => {
      await server.cleanup();
      tmp.cleanup();
    });

    it('runs as written: handshake, a WhatsApp envelope with a dead letter, a Standard Webhooks message, token-guarded reads', () => {
      // The start command the section gives sets exactly the variables this server runs with.
      expect(readDoc('docs/providers.md')).toContain(
        'WHATSAPP_APP_SECRET=meta-app-secret WHATSAPP_VERIFY_TOKEN=verify-me STANDARD_WEBHOOKS_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw API_TOKEN=read-token npm start',
      );
      const output = runBlock(shBlockUnder('docs/providers.md', 'Try it'), { baseUrl: server.baseUrl }).lines;

      expect(output[0]).toBe('1158201444');
      expect(output[1]).toBe('{"status":"ok"}');
      expect(output[2]).toBe('{"status":"ok"}');
      expect(output[3]).toBe('401');
      expect(JSON.parse(output[4] ?? '')).toEqual({
        message_id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZCMTM',
        from: '+16505551234',
        to: '+15550783881',
        ts: '2025-06-08T20:59:43Z',
        text: 'Hi there',
        type: 'text',
        source: 'whatsapp',
        received_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        contact_name: null,
        reply_to: null,
        phone_number_id: '106540352242922',
        raw: {
          from: '16505551234',
          id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZCMTM',
          timestamp: '1749416383',
          type: 'text',
          text: { body: 'Hi there' },
        },
        statuses: [],
      });
      const deadLetters = JSON.parse(output[5] ?? '') as { total: number; data: { item_id: string | null; kind: string }[] };
      expect(deadLetters.total).toBe(1);
      expect(deadLetters.data[0]).toMatchObject({ kind: 'message', item_id: 'wamid.broken' });
      expect(JSON.parse(output[6] ?? '')).toMatchObject({ total_messages: 2, senders_count: 2 });
    });
  });
});

describe.skipIf(!tools)('docs/configuration.md "A value that cannot be used"', () => {
  it('stops the start with exit code 1 and a line naming the variable, as the doc shows', () => {
    const run = runBlock(shBlockUnder('docs/configuration.md', 'A value that cannot be used'));
    const doc = readDoc('docs/configuration.md');
    const [logLine, exit] = run.lines;
    expect(JSON.parse(logLine ?? '')).toMatchObject({
      level: 'CRITICAL',
      variable: 'PORT',
      msg: 'invalid configuration: PORT: expected an integer from 0 to 65535, got "http"',
    });
    expect(exit).toBe('exit code 1');
    const reason = 'webhook-inbox: invalid configuration: PORT: expected an integer from 0 to 65535, got "http"';
    expect(run.stderr.split('\n')).toContain(reason);
    expect(doc).toContain(`\`${reason}\``);
  });
});

describe.skipIf(!tools)('docs/performance.md "Running the benchmark"', () => {
  it('prints the options of npm run bench and npm run seed, among them every option the doc uses', () => {
    const run = runBlock(shBlockUnder('docs/performance.md', 'Running the benchmark'));
    expect(run.stdout).toContain('usage: npm run bench');
    expect(run.stdout).toContain('usage: npm run seed');
    const used = codeBlocks('docs/performance.md')
      .filter((block) => block.lang === 'console')
      .flatMap((block) => [...block.code.matchAll(/\s(--[a-z][a-z-]*)/g)].map((match) => match[1] ?? ''));
    expect(used.length).toBeGreaterThan(3);
    const offered = new Set([...run.stdout.matchAll(/(--[a-z][a-z-]*)/g)].map((match) => match[1]));
    expect(used.filter((option) => !offered.has(option))).toEqual([]);
  });
});

describe.skipIf(!tools)('docs/operations.md', () => {
  // The server runs the way the page assumes: in its own folder, with the default DATABASE_URL,
  // so the blocks' data/app.db is its database.
  const tmp = tempDir();
  let server: RunningServer;
  const start = () => startServer({ runner: 'node', cwd: tmp.dir, env: { WEBHOOK_SECRET: 'dev-secret' } });

  beforeAll(async () => {
    server = await start();
    for (const id of ['ops-1', 'ops-2', 'ops-3']) {
      expect((await postWebhook(server.baseUrl, 'dev-secret', message(id))).status).toBe(200);
    }
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  /** The `path` values the page lists, from the first column of its table (the rows after the header). */
  function documentedPaths(): string[] {
    const doc = readDoc('docs/operations.md');
    const section = doc.slice(doc.indexOf('### The `path` label'), doc.indexOf('## Logs'));
    const rows = section.slice(section.indexOf('| --- |')).split('\n').slice(1);
    return rows
      .map((row) => /^\| ([^|]+) \|/.exec(row)?.[1] ?? '')
      .flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ''));
  }

  it('"The `path` label": the probes answer, and /metrics shows exactly the path values the page lists', async () => {
    // One request to every route (and to a URL that matches none), so that every label exists.
    const urls = [
      '/webhook',
      '/messages',
      '/messages/ops-1',
      '/messages/export?format=csv',
      '/dead-letters',
      '/conversations',
      '/stats',
      '/stats/timeseries?bucket=hour',
      '/feed',
      // A 422 before the stream starts: a stream would stay open.
      '/events?after=x',
      '/metrics',
      '/openapi.json',
      '/docs',
      '/docs/',
      '/docs/static/index.html',
      '/docs/static/swagger-initializer.js',
      '/docs/static/swagger-ui.css',
      '/docs/json',
      '/docs/yaml',
      '/',
      // The dashboard's script, as its page names it (dist/web, bundled by the global setup).
      `/${/src="(assets\/[^"]+\.js)"/.exec(readFileSync(path.join(PROJECT_ROOT, 'dist', 'web', 'index.html'), 'utf8'))?.[1]}`,
      '/no-such-page',
    ];
    for (const url of urls) await (await fetch(`${server.baseUrl}${url}`, { redirect: 'manual' })).arrayBuffer();

    const out = runBlock(shBlockUnder('docs/operations.md', 'The `path` label'), { baseUrl: server.baseUrl }).lines;
    expect(out[0]).toBe('{"status":"ok"}');
    expect(JSON.parse(out[1] ?? '')).toEqual({ status: 'ready', checks: { database: 'ok', webhook_secret: 'ok' } });
    expect(out).toContain('webhook_requests_total{result="created"} 3');
    expect(out).toContain('http_requests_total{path="/webhook",status="200"} 3');

    const seen = new Set(out.flatMap((line) => [...(/^http_requests_total\{path="([^"]+)"/.exec(line)?.slice(1) ?? [])]));
    const documented = documentedPaths();
    expect([...seen].sort()).toEqual([...new Set(documented)].sort());
    // A route added later shows up in the OpenAPI document: it must be listed too.
    const routes = Object.keys((JSON.parse(readDoc('openapi.json')) as { paths: Record<string, unknown> }).paths);
    expect(routes.map((route) => route.replace(/\{([^}]+)\}/g, ':$1')).filter((route) => !documented.includes(route))).toEqual(
      [],
    );
  });
});
