// The import's readers on their own: the CSV parser (quotes, line breaks in fields, the line a
// record starts on, malformed records), CSV rows against their header, and NDJSON lines.
import { describe, expect, it } from 'vitest';
import { CsvParser, type CsvRecord } from '../../src/import/csv.js';
import { ImportError } from '../../src/import/input.js';
import { csvRows, ndjsonRows, type Row } from '../../src/import/rows.js';

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield await Promise.resolve(p);
}

async function all(rows: AsyncGenerator<Row[]>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const chunk of rows) out.push(...chunk);
  return out;
}

function parse(text: string, split = text.length, max?: number): CsvRecord[] {
  const parser = new CsvParser(max);
  const out: CsvRecord[] = [];
  parser.push(text.slice(0, split), out);
  parser.push(text.slice(split), out);
  parser.end(out);
  return out;
}

describe('CsvParser', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, at any chunk split', () => {
    const text = 'a,b\r\n"x, y","say ""hi"""\n"two\nlines",z\n\nlast,row';
    const expected = [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 3, fields: ['two\nlines', 'z'] },
      { line: 6, fields: ['last', 'row'] },
    ];
    for (let split = 0; split <= text.length; split++) expect(parse(text, split)).toEqual(expected);
  });

  it('reports a malformed record on the line it starts, and goes on', () => {
    expect(parse('"a"b,c\n"open\nstill open')).toEqual([
      {
        line: 1,
        fields: ['ab', 'c'],
        error: 'unexpected character after the closing quote of field 1',
      },
      {
        line: 2,
        fields: ['open\nstill open'],
        error: 'unterminated quoted field (the quote opens on line 2)',
      },
    ]);
  });

  it('rejects a record longer than the limit without holding it', () => {
    const [long, next] = parse(`${'x'.repeat(50)},y\nok\n`, 7, 20);
    expect(long).toEqual({ line: 1, fields: ['', ''], error: 'is longer than 20 characters' });
    expect(next).toEqual({ line: 2, fields: ['ok'] });
  });
});

describe('csvRows', () => {
  it('maps cells to point fields: numbers, epoch milliseconds, JSON tags, empty cells absent', async () => {
    const rows = await all(
      csvRows(
        chunks(
          'timestamp,metric_name,value,tags\n',
          '1700000000000,cpu,-1.5e2,"{""host"":""a""}"\n',
          '2026-01-01T00:00:00Z,cpu,inf,\n',
          '1,cpu,2,{bad\n1,cpu\n',
        ),
        'f.csv',
      ),
    );
    expect(rows[0]).toEqual({
      line: 2,
      point: { timestamp: 1_700_000_000_000, metric_name: 'cpu', value: -150, tags: { host: 'a' } },
    });
    expect(rows[1]).toEqual({
      line: 3,
      point: { timestamp: '2026-01-01T00:00:00Z', metric_name: 'cpu', value: Infinity },
    });
    expect(rows[2]?.line).toBe(4);
    expect(rows[2]?.errors?.[0]?.field).toBe('tags');
    expect(rows[2]?.errors?.[0]?.reason).toMatch(/^is not valid JSON \(/);
    expect(rows[3]).toEqual({
      line: 5,
      errors: [{ field: 'csv', reason: 'has 2 fields; the header has 4' }],
    });
  });

  it('refuses a header without the required columns, naming them', async () => {
    await expect(all(csvRows(chunks('time,metric_name,val\n'), 'h.csv'))).rejects.toThrow(
      new ImportError(
        'bad CSV header on line 1: missing required column(s) timestamp, metric_value (or value); ' +
          'unknown column(s) "time", "val". The first row must name the columns: timestamp, ' +
          'metric_name, metric_value, value, tags, source_agent_id, instance_id ' +
          '(timestamp, metric_name and metric_value or value required)',
      ),
    );
    await expect(all(csvRows(chunks(''), 'e.csv'))).rejects.toThrow(
      'e.csv is empty: a CSV file starts with a header row naming its columns',
    );
  });
});

describe('ndjsonRows', () => {
  it('gives each line its number, skips blank lines, and reports bad JSON', async () => {
    const rows = await all(ndjsonRows(chunks('{"a":1}\r\n\n{"b', '":2}\nnot json\n{"c":3}')));
    expect(rows.map((r) => r.line)).toEqual([1, 3, 4, 5]);
    expect(rows[0]).toEqual({ line: 1, point: { a: 1 } });
    expect(rows[1]).toEqual({ line: 3, point: { b: 2 } });
    expect(rows[2]?.errors?.[0]?.field).toBe('json');
    expect(rows[3]).toEqual({ line: 5, point: { c: 3 } });
  });
});
