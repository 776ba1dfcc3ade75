// The pure parts of GET /messages/export: its query, the size of each read, the file name, and the
// NDJSON and CSV writers (CSV checked against a separate RFC 4180 parser on arbitrary texts).

import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CSV_COLUMNS,
  csvRecords,
  EXPORT_CHUNK_BYTES,
  EXPORT_CHUNK_ROWS,
  exportFilename,
  ndjsonLines,
  nextChunkRows,
  parseExportQuery,
} from '../../src/http/export.js';
import type { DetailedMessage } from '../../src/http/messages.js';

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
