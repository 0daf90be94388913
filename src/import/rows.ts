// The rows of an import: NDJSON lines or CSV records as raw points to validate, with the
// problems found while reading them and the line each starts on.
import { CsvParser, MAX_RECORD_CHARS, type CsvRecord } from './csv.js';
import { ImportError } from './input.js';

const CSV_COLUMNS = [
  'timestamp',
  'metric_name',
  'metric_value',
  'value',
  'tags',
  'source_agent_id',
  'instance_id',
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

export interface FieldIssue {
  field: string;
  reason: string;
}

/** A row as read: the raw point to validate, and problems found while reading it. */
export interface Row {
  line: number;
  point?: unknown;
  errors?: FieldIssue[];
}

const tooLong: FieldIssue = {
  field: 'line',
  reason: `is longer than ${MAX_RECORD_CHARS} characters`,
};

/** One NDJSON line as a row to check; null for a blank line. */
export function ndjsonRow(text: string, line: number): Row | null {
  const s = text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
  if (s.trim() === '') return null;
  try {
    return { line, point: JSON.parse(s) as unknown };
  } catch (err) {
    return {
      line,
      errors: [{ field: 'json', reason: `is not valid JSON (${(err as Error).message})` }],
    };
  }
}

/** NDJSON: one JSON object per line; blank lines are skipped. Rows come per chunk read. */
export async function* ndjsonRows(text: AsyncIterable<string>): AsyncGenerator<Row[]> {
  let carry = '';
  let overflow = false;
  let line = 0;
  for await (const chunk of text) {
    const rows: Row[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) {
        if (!overflow) {
          carry += chunk.slice(start);
          if (carry.length > MAX_RECORD_CHARS) {
            overflow = true;
            carry = '';
          }
        }
        break;
      }
      line += 1;
      if (overflow || carry.length + nl - start > MAX_RECORD_CHARS) {
        rows.push({ line, errors: [tooLong] });
      } else {
        const row = ndjsonRow(
          carry.length > 0 ? carry + chunk.slice(start, nl) : chunk.slice(start, nl),
          line,
        );
        if (row) rows.push(row);
      }
      carry = '';
      overflow = false;
      start = nl + 1;
    }
    if (rows.length > 0) yield rows;
  }
  if (overflow) yield [{ line: line + 1, errors: [tooLong] }];
  else if (carry.length > 0) {
    const row = ndjsonRow(carry, line + 1);
    if (row) yield [row];
  }
}

/** The columns of a CSV header row, or an ImportError naming what is wrong with it. */
export function csvHeader(record: CsvRecord | undefined, name: string): CsvColumn[] {
  if (record === undefined)
    throw new ImportError(
      `${name} is empty: a CSV file starts with a header row naming its columns`,
    );
  if (record.error !== undefined)
    throw new ImportError(`bad CSV header on line ${record.line}: ${record.error}`);
  const names = record.fields.map((f) => f.trim());
  const problems: string[] = [];
  const missing: string[] = [];
  if (!names.includes('timestamp')) missing.push('timestamp');
  if (!names.includes('metric_name')) missing.push('metric_name');
  if (!names.includes('metric_value') && !names.includes('value'))
    missing.push('metric_value (or value)');
  if (missing.length > 0) problems.push(`missing required column(s) ${missing.join(', ')}`);
  const unknown = names.filter((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
  if (unknown.length > 0)
    problems.push(`unknown column(s) ${unknown.map((n) => JSON.stringify(n)).join(', ')}`);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0) problems.push(`column(s) named twice: ${[...new Set(twice)].join(', ')}`);
  if (problems.length > 0)
    throw new ImportError(
      `bad CSV header on line ${record.line}: ${problems.join('; ')}. ` +
        `The first row must name the columns: ${CSV_COLUMNS.join(', ')} ` +
        `(timestamp, metric_name and metric_value or value required)`,
    );
  return names as CsvColumn[];
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^([+-]?)(nan|inf|infinity)$/i;
const EPOCH_MS = /^[+-]?\d+(\.\d+)?$/;

/** A CSV value cell as JSON would carry it: a number when it reads as one, else the text. */
function csvNumber(text: string): number | string {
  if (DECIMAL.test(text)) return Number(text);
  const m = NON_FINITE.exec(text);
  if (m) return m[2]?.toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  return text;
}

/** One CSV record as a row to check, against the header's columns. */
export function csvRow(columns: CsvColumn[], record: CsvRecord): Row {
  const { line, fields } = record;
  if (record.error !== undefined) return { line, errors: [{ field: 'csv', reason: record.error }] };
  if (fields.length !== columns.length)
    return {
      line,
      errors: [
        { field: 'csv', reason: `has ${fields.length} fields; the header has ${columns.length}` },
      ],
    };
  const point: Record<string, unknown> = {};
  const errors: FieldIssue[] = [];
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as CsvColumn;
    const cell = (fields[i] as string).trim();
    if (cell === '') continue; // an empty cell is an absent field
    if (column === 'timestamp') point.timestamp = EPOCH_MS.test(cell) ? Number(cell) : cell;
    else if (column === 'metric_value' || column === 'value') point[column] = csvNumber(cell);
    else if (column === 'tags') {
      try {
        point.tags = JSON.parse(cell) as unknown;
      } catch (err) {
        errors.push({ field: 'tags', reason: `is not valid JSON (${(err as Error).message})` });
      }
    } else point[column] = cell;
  }
  return errors.length > 0 ? { line, point, errors } : { line, point };
}

/** CSV: a header row, then one point per record. Rows come per chunk read. */
export async function* csvRows(text: AsyncIterable<string>, name: string): AsyncGenerator<Row[]> {
  const parser = new CsvParser();
  let columns: CsvColumn[] | undefined;
  let records: CsvRecord[] = [];
  const rowsOf = (list: CsvRecord[]): Row[] => {
    let k = 0;
    if (columns === undefined && list.length > 0) {
      columns = csvHeader(list[0], name);
      k = 1;
    }
    const rows: Row[] = [];
    for (; k < list.length; k++) rows.push(csvRow(columns as CsvColumn[], list[k] as CsvRecord));
    return rows;
  };
  for await (const chunk of text) {
    parser.push(chunk, records);
    if (records.length > 0) {
      const rows = rowsOf(records);
      records = [];
      if (rows.length > 0) yield rows;
    }
  }
  parser.end(records);
  const rows = rowsOf(records);
  if (columns === undefined) csvHeader(undefined, name);
  if (rows.length > 0) yield rows;
}
