// GET /messages/export against the real process over TCP: a large export streamed to a client that
// reads slowly arrives whole and in order; a client that stops reading holds the server's reads
// back to what the sockets hold; a client that leaves stops them. And the docs/api.md walk-through "Export and erase" runs
// as written.

import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkInsertSqlite } from '../helpers/bulk.js';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { message, metricValue, postWebhook } from './client.js';
import { haveTools, readDoc, runBlock, shBlockUnder } from './doc-blocks.js';

const SECRET = 'e2e-export-secret';
const ROWS = 100_000;
const EXPORTED = 'exported_messages_total{format="ndjson"}';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, resolve);
    req.once('error', reject);
    req.end();
  });
}

/** The service in a process of its own (node, as in production) on the SQLite `file`. */
function serverOn(dir: string, file: string): Promise<RunningServer> {
  return startServer({ runner: 'node', cwd: dir, env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${file}` } });
}

describe('a large export over TCP', () => {
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'export.db');
  let server: RunningServer;

  beforeAll(async () => {
    server = await serverOn(tmp.dir, file);
    // The schema exists once the server has started; the rows go straight into the file.
    bulkInsertSqlite(file, ROWS);
    expect((await postWebhook(server.baseUrl, SECRET, message('webhook-1'))).status).toBe(200);
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('arrives whole and in order at a client that reads slowly', async () => {
    const response = await get(`${server.baseUrl}/messages/export`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    expect(response.headers['transfer-encoding']).toBe('chunked');
    let lines = 0;
    let rest = '';
    let previous = '';
    let ordered = true;
    let pieces = 0;
    for await (const piece of response) {
      const text = rest + String(piece);
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        const id = (JSON.parse(line) as { message_id: string }).message_id;
        // bulk-0000001 … by ts, then the webhook's message (its ts is later than every bulk one).
        if (previous !== '' && !(id > previous)) ordered = false;
        previous = id;
        lines++;
      }
      // A slow reader: a pause every few pieces.
      if (++pieces % 16 === 0) await sleep(5);
    }
    expect(rest).toBe('');
    expect(lines).toBe(ROWS + 1);
    expect(ordered).toBe(true);
    const line = await waitFor('the export line', () =>
      jsonLines(server.stdout).find((l) => l.msg === 'export finished' && l.messages === ROWS + 1),
    );
    expect(line).toMatchObject({ level: 'INFO', format: 'ndjson' });
    // Chunks of up to 1,000 messages: a first one of 100, then 100 of 1,000, then the last, empty read.
    expect(Number(line.reads)).toBeGreaterThanOrEqual(Math.ceil(ROWS / 1000));
  });
});

/**
 * The most bytes the kernel can hold for one loopback connection, sent but not yet read: the largest
 * receive buffer the reading side may grow to and the largest send buffer of the writing side
 * (tcp_rmem and tcp_wmem's maxima, whose defaults are 6 MiB and 4 MiB; machines raise them).
 */
function socketBufferBytes(): number {
  const max = (name: string): number => {
    try {
      return Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
    } catch {
      return 32 * 1024 * 1024;
    }
  };
  return max('tcp_rmem') + max('tcp_wmem');
}

describe('an export to a client that stops reading', () => {
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'export-wide.db');
  // Rows of about 8 KiB, so that the export is several times what the socket buffers can hold.
  const PADDING = 8000;
  const buffered = socketBufferBytes();
  const rows = Math.max(20_000, Math.ceil((4 * buffered) / PADDING));
  let server: RunningServer;

  beforeAll(async () => {
    server = await serverOn(tmp.dir, file);
    bulkInsertSqlite(file, rows, { padding: PADDING });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('reads only a few chunks beyond what the sockets hold, and stops reading when the client leaves', async () => {
    const before = await metricValue(server.baseUrl, EXPORTED);
    const response = await get(`${server.baseUrl}/messages/export`);
    // The first line, whole: its length is every line's, to a few digits.
    let head = Buffer.alloc(0);
    while (!head.includes('\n'))
      head = Buffer.concat([head, await new Promise<Buffer>((resolve) => response.once('data', resolve))]);
    response.pause();
    const lineBytes = head.indexOf('\n') + 1;
    expect(lineBytes).toBeGreaterThan(PADDING);
    // Let the socket buffers fill up, then see that the server has stopped reading.
    let exported = -1;
    for (let same = 0; same < 5; ) {
      await sleep(100);
      const now = (await metricValue(server.baseUrl, EXPORTED)) - before;
      same = now === exported ? same + 1 : 0;
      exported = now;
    }
    // Read: what the sockets hold, the chunk being written and the one read ahead (about 1 MiB
    // each), and what the client's stream took before it paused. Never the whole export.
    expect(exported).toBeGreaterThan(0);
    expect(exported * lineBytes).toBeLessThan(buffered + 4 * 1024 * 1024);
    expect(exported).toBeLessThan(rows / 2);

    response.destroy();
    const line = await waitFor('the export to stop', () =>
      jsonLines(server.stdout).find((l) => l.msg === 'export stopped: the client left before the end'),
    );
    expect(Number(line.messages)).toBeLessThan(rows / 2);
    // Nothing is read after that.
    const stopped = await metricValue(server.baseUrl, EXPORTED);
    await sleep(500);
    expect(await metricValue(server.baseUrl, EXPORTED)).toBe(stopped);
    expect(stopped - before).toBe(Number(line.messages));
    // Logged and counted once, as the 200 it began as.
    expect(jsonLines(server.stdout).filter((l) => l.msg === 'request completed' && l.path === '/messages/export')).toHaveLength(
      1,
    );
  });
});

describe.skipIf(!haveTools('bash', 'curl', 'openssl', 'sed', 'grep'))('docs/api.md "Export and erase"', () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({
      env: { WEBHOOK_SECRET: 'dev-secret', ADMIN_TOKEN: 'dev-admin', DATABASE_URL: `sqlite:///${tmp.dir}/export-doc.db` },
    });
  });
  afterAll(async () => {
    await server.cleanup();
    tmp.cleanup();
  });

  it('runs as written: exports as NDJSON and CSV, refuses a bad parameter, erases with the admin token only', () => {
    expect(readDoc('docs/api.md')).toContain(
      'With the server started as `WEBHOOK_SECRET=dev-secret ADMIN_TOKEN=dev-admin npm start`',
    );
    const out = runBlock(shBlockUnder('docs/api.md', 'Export and erase'), { baseUrl: server.baseUrl }).lines;
    expect(out.slice(0, 3)).toEqual(Array(3).fill('{"status":"ok"}'));
    const exported = out.slice(3, 6).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(exported.map((m) => m.message_id)).toEqual(['ex-3', 'ex-1', 'ex-2']);
    expect(exported[1]).toMatchObject({ text: 'Order 1, "fragile"', source: 'spec', raw: { message_id: 'ex-1' } });
    expect(Object.keys(exported[0] ?? {})).not.toContain('statuses');

    expect(out[6]).toBe('message_id,from,to,ts,text,type,source,received_at\r');
    expect(out[7]).toMatch(/^ex-1,\+14155550123,\+14155550100,2025-03-01T09:00:00Z,"Order 1, ""fragile""",,spec,\S+Z\r$/);
    expect(out[8]).toBe('ex-2,+14155550123,+14155550100,2025-03-01T09:05:00Z,"Two lines:');
    expect(out[9]).toMatch(/^see below",,spec,\S+Z\r$/);

    expect(out[10]).toBe('content-type: text/csv; charset=utf-8\r');
    expect(out[11]).toMatch(/^content-disposition: attachment; filename="messages-\d{8}T\d{6}Z\.csv"\r$/);
    expect(
      (JSON.parse(out[12] ?? '') as { detail: { loc: string[]; type: string }[] }).detail.map((d) => [d.loc.join('.'), d.type]),
    ).toEqual([
      ['query.format', 'enum'],
      ['query.to', 'string_pattern_mismatch'],
    ]);

    expect(out[13]).toBe('{"detail":"missing bearer token"}');
    expect(out[14]).toBe('204');
    expect(out[15]).toBe('{"detail":"message not found"}');
    expect(out[16]).toBe('{"deleted":1}');
    expect(JSON.parse(out[17] ?? '')).toEqual({
      total_messages: 1,
      senders_count: 1,
      messages_per_sender: [{ from: '+14155550123', count: 1 }],
      first_message_ts: '2025-03-01T09:05:00Z',
      last_message_ts: '2025-03-01T09:05:00Z',
    });
    expect(JSON.parse(out[18] ?? '')).toMatchObject({
      data: [{ from: '+14155550123', to: '+14155550100', messages: 1, last_message: { message_id: 'ex-2' } }],
      total: 1,
      next_cursor: null,
    });
    expect(out).toHaveLength(19);
  });
});
