// The pure parts of GET /messages/export: its query, the size of each read, the file name, which
// sent buffers are written again, the NDJSON and CSV writers (CSV checked against a separate RFC
// 4180 parser on arbitrary texts), and a chunk written into bytes.

import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChunkBuffers,
  EXPORT_CHUNK_BYTES,
  EXPORT_CHUNK_ROWS,
  exportFilename,
  nextChunkRows,
  parseExportQuery,
  SPARE_CHUNK_BUFFERS,
} from '../../src/http/export.js';
import {
  CHUNK_BUFFER_BYTES,
  CSV_COLUMNS,
  csvRecords,
  type DetailedMessage,
  type ExportFormat,
  formatChunk,
  ndjsonLines,
} from '../../src/store/export-format.js';

function stored(overrides: Partial<DetailedMessage> = {}): DetailedMessage {
  return {
    messageId: 'm1',
    from: '+919876543210',
    to: '+14155550100',
    ts: '2025-01-15T10:00:00Z',
    tsKey: '2025-01-15T10:00:00',
    text: 'Hello',
    details: {
      source: 'spec',
      receivedAt: '2025-01-15T10:00:00.512Z',
      raw: '{"message_id":"m1","extra":[1,2]}',
      contactName: null,
      replyTo: null,
      phoneNumberId: null,
    },
    ...overrides,
  };
}

describe('parseExportQuery', () => {
  it('defaults to NDJSON and no filter', () => {
    expect(parseExportQuery({})).toEqual({ ok: true, value: { format: 'ndjson', filter: {} } });
  });

  it('takes csv, and the filters of /messages', () => {
    expect(parseExportQuery({ format: 'csv', from: ' 919876543210', to: '+14155550100', q: 'hi', type: 'text' })).toEqual({
      ok: true,
      value: { format: 'csv', filter: { from: '+919876543210', to: '+14155550100', q: 'hi', type: 'text' } },
    });
    // An empty q filters nothing, as for /messages.
    expect(parseExportQuery({ q: '' })).toEqual({ ok: true, value: { format: 'ndjson', filter: {} } });
  });

  it('names every bad parameter, format first', () => {
    const parsed = parseExportQuery({ format: 'json', to: 'x', since: 'today', format2: 'ignored' });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues.map((issue) => [issue.loc.join('.'), issue.type])).toEqual([
      ['query.format', 'enum'],
      ['query.to', 'string_pattern_mismatch'],
      ['query.since', 'datetime_format'],
    ]);
    expect(parsed.issues[0]?.msg).toBe("Input should be 'ndjson' or 'csv'");
  });

  it('refuses a format given twice', () => {
    const parsed = parseExportQuery({ format: ['csv', 'ndjson'] });
    expect(parsed.ok ? [] : parsed.issues.map((issue) => issue.type)).toEqual(['query_repeated']);
  });
});

describe('nextChunkRows', () => {
  it('asks for the most when rows are small, and for fewer as they grow, never fewer than one', () => {
    expect(nextChunkRows(100, 30_000)).toBe(EXPORT_CHUNK_ROWS);
    expect(nextChunkRows(1000, 4 * EXPORT_CHUNK_BYTES)).toBe(250);
    expect(nextChunkRows(10, 40 * EXPORT_CHUNK_BYTES)).toBe(1);
    expect(nextChunkRows(0, 0)).toBe(EXPORT_CHUNK_ROWS);
  });

  it('keeps a chunk near the byte target whatever the row size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 8 * 1024 * 1024 }), (rows, rowBytes) => {
        const next = nextChunkRows(rows, rows * rowBytes);
        expect(next).toBeGreaterThanOrEqual(1);
        expect(next).toBeLessThanOrEqual(EXPORT_CHUNK_ROWS);
        if (next > 1) expect(next * rowBytes).toBeLessThanOrEqual(EXPORT_CHUNK_BYTES);
      }),
    );
  });
});

describe('ChunkBuffers', () => {
  /** A chunk in a buffer of its own, as formatChunk writes it. */
  const chunk = (size: number) => new Uint8Array(new ArrayBuffer(size * 2), 0, size);

  it('gives a buffer back only once every byte up to its end has left, and never a shared one', () => {
    let unsent = 0;
    const buffers = new ChunkBuffers(() => unsent);
    const header = buffers.give(Buffer.from('a,b\r\n'), false);
    const first = chunk(100);
    const second = chunk(50);
    expect(buffers.give(first, true)).toHaveLength(100);
    buffers.give(second, true);
    // 5 + 100 + 50 given: with 51 still held, one byte of the first chunk has not left.
    unsent = 51;
    expect(buffers.take()).toBeUndefined();
    unsent = 50;
    expect(buffers.take()).toBe(first.buffer);
    expect(buffers.take()).toBeUndefined();
    unsent = 0;
    expect(buffers.take()).toBe(second.buffer);
    expect(buffers.take()).toBeUndefined();
    expect(header.buffer).not.toBe(first.buffer);
  });

  it(`keeps at most ${SPARE_CHUNK_BUFFERS} sent buffers`, () => {
    const buffers = new ChunkBuffers(() => 0);
    const given = Array.from({ length: SPARE_CHUNK_BUFFERS + 2 }, () => chunk(10));
    for (const bytes of given) buffers.give(bytes, true);
    const taken: (ArrayBuffer | undefined)[] = [];
    for (let i = 0; i <= SPARE_CHUNK_BUFFERS; i++) taken.push(buffers.take());
    expect(taken.filter((b) => b !== undefined)).toHaveLength(SPARE_CHUNK_BUFFERS);
    expect(taken.at(-1)).toBeUndefined();
  });
});

describe('formatChunk', () => {
  const text = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r\n', 'é', '👋🏽', '\u2028', '\\') });
  const messages = fc.array(
    fc.record({ id: fc.string({ minLength: 1, maxLength: 8 }), text: fc.option(text, { nil: null }), raw: fc.json() }),
    { maxLength: 250 },
  );
  const decode = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

  it('writes what ndjsonLines and csvRecords write, into a new buffer or into one given back, small or not', () => {
    fc.assert(
      fc.property(
        messages,
        fc.constantFrom<ExportFormat>('ndjson', 'csv'),
        fc.constantFrom(0, 16, 4096),
        (rows, format, reuse) => {
          const list = rows.map(({ id, text, raw }, i) => {
            const m = stored({ messageId: id, text, tsKey: `2025-01-15T10:00:${String(i).padStart(5, '0')}` });
            return { ...m, details: { ...m.details, raw } };
          });
          const chunk = formatChunk(list, format, reuse === 0 ? undefined : new ArrayBuffer(reuse));
          expect(decode(chunk.bytes)).toBe(format === 'ndjson' ? ndjsonLines(list) : csvRecords(list));
          expect(chunk.rows).toBe(list.length);
          const last = list.at(-1);
          expect(chunk.last).toEqual(last === undefined ? null : { tsKey: last.tsKey, messageId: last.messageId });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('grows past the room it starts with, for a message larger than a chunk', () => {
    const large = stored({ text: 'é'.repeat(CHUNK_BUFFER_BYTES) });
    const chunk = formatChunk([stored(), large, stored({ messageId: 'm3' })], 'ndjson');
    expect(chunk.bytes.byteLength).toBeGreaterThan(2 * CHUNK_BUFFER_BYTES);
    expect(decode(chunk.bytes)).toBe(ndjsonLines([stored(), large, stored({ messageId: 'm3' })]));
  });
});

describe('exportFilename', () => {
  it('names the file after the moment the export began, in UTC, safe in any file system', () => {
    expect(exportFilename('csv', new Date('2025-01-15T10:00:00.999Z'))).toBe('messages-20250115T100000Z.csv');
    expect(exportFilename('ndjson', new Date('2031-12-31T23:59:59Z'))).toBe('messages-20311231T235959Z.ndjson');
  });
});

describe('ndjsonLines', () => {
  it('writes one JSON object a line, each ending with LF, raw as JSON', () => {
    const text = ndjsonLines([stored(), stored({ messageId: 'm2', text: 'a\nb', type: 'text' })]);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      message_id: 'm1',
      from: '+919876543210',
      to: '+14155550100',
      ts: '2025-01-15T10:00:00Z',
      text: 'Hello',
      type: null,
      source: 'spec',
      received_at: '2025-01-15T10:00:00.512Z',
      contact_name: null,
      reply_to: null,
      phone_number_id: null,
      raw: { message_id: 'm1', extra: [1, 2] },
    });
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({ message_id: 'm2', text: 'a\nb', type: 'text' });
    expect(ndjsonLines([])).toBe('');
  });
});

describe('csvRecords', () => {
  const tricky = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\r', '\n', '\r\n', ';', "'", 'é', '👋🏽', '=') });

  it('parses back, with an RFC 4180 parser, to the same fields for any text and id', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: tricky, text: fc.option(tricky, { nil: null }) }), { maxLength: 8 }), (rows) => {
        const messages = rows.map(({ id, text }) => stored({ messageId: id, text }));
        const body = `${CSV_COLUMNS.join(',')}\r\n${csvRecords(messages)}`;
        const [header, ...records] = parse(body) as string[][];
        expect(header).toEqual([...CSV_COLUMNS]);
        expect(records).toEqual(
          messages.map((m) => [m.messageId, m.from, m.to, m.ts, m.text ?? '', '', 'spec', '2025-01-15T10:00:00.512Z']),
        );
        // Every record ends with CRLF.
        expect(body.endsWith('\r\n')).toBe(true);
      }),
    );
  });

  it('quotes what must be quoted and nothing else, doubling quotes; null is empty, "" is quoted', () => {
    const records = csvRecords([
      stored({ text: 'plain' }),
      stored({ text: 'a, b' }),
      stored({ text: 'say "hi"' }),
      stored({ text: 'one\ntwo' }),
      stored({ text: 'cr\ronly' }),
      stored({ text: null }),
      stored({ text: '' }),
    ]);
    expect(records.split('\r\n')).toEqual([
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,plain,,spec,2025-01-15T10:00:00.512Z',
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,"a, b",,spec,2025-01-15T10:00:00.512Z',
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,"say ""hi""",,spec,2025-01-15T10:00:00.512Z',
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,"one\ntwo",,spec,2025-01-15T10:00:00.512Z',
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,"cr\ronly",,spec,2025-01-15T10:00:00.512Z',
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,,,spec,2025-01-15T10:00:00.512Z',
      'm1,+919876543210,+14155550100,2025-01-15T10:00:00Z,"",,spec,2025-01-15T10:00:00.512Z',
      '',
    ]);
    expect(csvRecords([])).toBe('');
  });
});
