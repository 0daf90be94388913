// The import's in-place readers (ndjson-reader.ts, csv-reader.ts) against the general path they
// must agree with: every row parsed by JSON.parse or the RFC 4180 parser (rows.ts) and checked by
// validateBatch, as a request of one point. Thousands of generated rows, plain ones and every
// kind of oddity (escapes, control characters, spacing, key order, duplicate or unknown fields,
// numbers and times in every form, rows across lines), read in chunks split anywhere.
import { describe, expect, it } from 'vitest';
import { RowChecker, type RowSink } from '../../src/import/check.js';
import { CsvReader } from '../../src/import/csv-reader.js';
import { NdjsonReader } from '../../src/import/ndjson-reader.js';
import { csvRows, ndjsonRows, type FieldIssue, type Row } from '../../src/import/rows.js';
import { validateBatch } from '../../src/metrics/point.js';
import { cachedSeriesDef, type SeriesDef } from '../../src/metrics/series.js';

const NOW = Date.parse('2026-06-10T12:00:00Z');
const ACCEPT = 30 * 86_400_000;

type Outcome =
  | [line: number, fingerprint: string, ts: number, value: number]
  | [line: number, issues: FieldIssue[]];

/** The general path: the row as parsed, checked as a request of one point (import.ts's rules). */
function expected(row: Row): Outcome {
  let issues = row.errors;
  let point;
  if (row.point !== undefined) {
    const checked = validateBatch(
      { points: [row.point] },
      { now: NOW, maxPoints: 1, acceptMs: ACCEPT },
    );
    if (checked.ok) point = checked.points[0];
    else
      issues = [
        ...(issues ?? []),
        ...checked.errors.map((e) => ({ field: e.field, reason: e.reason })),
      ];
  }
  const raw = row.point as Record<string, unknown> | undefined;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && raw.timestamp === undefined)
    issues = [
      ...(issues ?? []),
      {
        field: 'timestamp',
        reason: 'is required in an import (a point without one would be stored again by every run)',
      },
    ];
  if (issues !== undefined || point === undefined) return [row.line, issues ?? []];
  return [row.line, cachedSeriesDef(point).fingerprint, point.ts, point.value];
}

async function* chunked(text: string, sizes: () => number): AsyncGenerator<string> {
  for (let i = 0; i < text.length;) {
    const n = sizes();
    yield await Promise.resolve(text.slice(i, i + n));
    i += n;
  }
}

async function general(rows: AsyncGenerator<Row[]>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for await (const chunk of rows) for (const row of chunk) out.push(expected(row));
  return out;
}

/** The reader under test over the text in chunks; a sink that is full every few rows. */
function inPlace(
  make: (c: RowChecker) => NdjsonReader | CsvReader,
  text: string,
  sizes: () => number,
): Outcome[] {
  const out: Outcome[] = [];
  let sinceSubmit = 0;
  const sink: RowSink & { full: boolean } = {
    full: false,
    add(def: SeriesDef, ts: number, value: number, line: number) {
      out.push([line, def.fingerprint, ts, value]);
      if (++sinceSubmit % 37 === 0) sink.full = true;
    },
    refuse(line: number, issues: FieldIssue[]) {
      out.push([line, issues]);
    },
  };
  const reader = make(new RowChecker(ACCEPT, NOW));
  const drain = () => {
    while (reader.read(sink)) sink.full = false;
  };
  // Bytes, cut anywhere (inside a character too).
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length;) {
    const n = sizes();
    reader.feed(bytes.subarray(i, i + n));
    drain();
    i += n;
  }
  reader.finish();
  drain();
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const pick = <T>(r: () => number, list: readonly T[]): T =>
  list[Math.floor(r() * list.length)] as T;

function isoOf(ms: number, r: () => number): string {
  const iso = new Date(ms).toISOString();
  return pick(r, [
    iso,
    iso,
    iso,
    `${iso.slice(0, 19)}Z`,
    `${iso.slice(0, 19)}+00:00`,
    iso.slice(0, 16) + 'Z',
  ]);
}

const TAGS = [
  { host: 'web-01.example', env: 'prod' },
  { host: 'web-02.example', env: 'prod' },
  { env: 'prod', host: 'web-01.example' },
  {},
  { region: 'zürich 🌍', host: 'db-1' },
];

/** A time: mostly recent, some in the future or too old. */
function timeOf(r: () => number, i: number): number {
  const u = r();
  if (u < 0.03) return NOW + 2 * 3_600_000 + i;
  if (u < 0.06) return NOW - ACCEPT - 86_400_000 - i;
  return NOW - 86_400_000 + i * 997;
}

function ndjsonLine(r: () => number, i: number): string {
  const ts = timeOf(r, i);
  const fields: [string, string][] = [
    [
      'timestamp',
      pick(r, [JSON.stringify(isoOf(ts, r)), String(ts), JSON.stringify(isoOf(ts, r))]),
    ],
    ['metric_name', JSON.stringify(pick(r, ['cpu', 'mem_bytes', 'disk:io.read']))],
    [
      pick(r, ['metric_value', 'metric_value', 'value']),
      pick(r, [
        '1.5',
        '-0.25',
        '1e21',
        '123456789.123456789',
        '0',
        '4.518638836656774',
        '0.1',
        '9007199254740993',
        '5e-324',
        '1.7976931348623157e308',
        '2.5E+3',
        String(r() * 100),
      ]),
    ],
    ['tags', JSON.stringify(pick(r, TAGS))],
  ];
  if (r() < 0.2) fields.push(['source_agent_id', pick(r, ['7', '"7"', '"agent-1"', 'null'])]);
  if (r() < 0.2) fields.push(['instance_id', pick(r, ['"i-1"', '12', '"i-2"'])]);
  if (r() < 0.1) fields.reverse();
  const oddities: (() => void)[] = [
    () => fields.push(['value', '2']), // both value and metric_value (or value twice)
    () => fields.push(['host', '"x"']),
    () => fields.splice(0, 1),
    () => ((fields[0] as [string, string])[1] = 'null'),
    () =>
      ((fields[2] as [string, string])[1] = pick(r, [
        '"12"',
        'NaN',
        '1e400',
        '01',
        '-0',
        '1.',
        '.5',
        '-',
      ])),
    () =>
      ((fields[1] as [string, string])[1] = pick(r, [
        '"cpu\\u005fx"',
        '"c\\"pu"',
        '"bad name"',
        '"cp\tu"',
        '7',
      ])),
    () =>
      ((fields[3] as [string, string])[1] = pick(r, [
        '{"host":"a\\"b"}',
        '{"host":1}',
        '"x"',
        '{"__proto__":"x"}',
        '{ "host" : "a" }',
        '{"host":"a","host":"b"}',
      ])),
    () => fields.push(['metric_name', '"dup"']),
  ];
  if (r() < 0.2) pick(r, oddities)();
  const spaced = r() < 0.1;
  const sep = () => (spaced ? pick(r, ['', ' ', '\t', '  ']) : '');
  let line = `{${fields.map(([k, v]) => `${sep()}"${k}"${sep()}:${sep()}${v}`).join(',')}${sep()}}`;
  const u = r();
  if (u < 0.03)
    line = line.slice(0, -1); // broken JSON
  else if (u < 0.05) line += ',';
  else if (u < 0.07) line = ' ';
  else if (u < 0.1) line += '\r';
  return line;
}

function csvCell(v: string, r: () => number): string {
  return /[",\n]/.test(v) || r() < 0.05 ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvFile(r: () => number, n: number): string {
  const header = pick(r, [
    ['timestamp', 'metric_name', 'metric_value', 'tags'],
    ['metric_name', 'value', 'timestamp', 'tags', 'source_agent_id', 'instance_id'],
    ['timestamp', 'metric_name', 'metric_value', 'value', 'tags'],
    ['tags', 'timestamp', 'value', 'metric_name'],
  ]);
  const lines = [header.join(',')];
  for (let i = 0; i < n; i++) {
    const ts = timeOf(r, i);
    const odd = r() < 0.25;
    const cells: Record<string, string> = {
      timestamp: odd
        ? pick(r, [`+${ts}`, `${ts}.5`, ` ${ts}`, '', `0${ts}`, isoOf(ts, r)])
        : pick(r, [new Date(ts).toISOString(), String(ts)]),
      metric_name: odd ? pick(r, ['cpu', 'bad name', 'x\ny', '']) : pick(r, ['cpu', 'mem_bytes']),
      metric_value: odd
        ? pick(r, ['1e3', '+1', '.5', '1.', 'NaN', '-inf', 'abc', '', ' 3 ', '1e', '1.5e+2'])
        : pick(r, ['1.5', '-2', String(r() * 1000), '0']),
      value: odd ? pick(r, ['', '4']) : '',
      tags: odd
        ? pick(r, ['', '{bad', '[1]', JSON.stringify(pick(r, TAGS))])
        : JSON.stringify(TAGS[i % 2]),
      source_agent_id: odd ? pick(r, ['', '7', 'agent-1']) : '',
      instance_id: odd ? pick(r, ['', 'i-1']) : '',
    };
    let line = header.map((c) => csvCell(cells[c] as string, r)).join(',');
    const u = odd ? r() : 1;
    if (u < 0.02) line += ',';
    else if (u < 0.04) line = line.slice(0, line.lastIndexOf(','));
    else if (u < 0.05) line = '';
    else if (u < 0.07) line += '\r';
    else if (u < 0.08) line = `"unterminated,${line}`;
    lines.push(line);
  }
  return lines.join(pick(r, ['\n', '\n', '\r\n']));
}

const splits = (r: () => number) => () => pick(r, [1, 7, 64, 500, 4_096, 65_536]);

describe('the in-place readers agree with JSON.parse, the CSV parser and validateBatch', () => {
  it('NDJSON, row by row, in chunks of any size', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const lines = Array.from({ length: 1_500 }, (_, i) => ndjsonLine(r, i));
      const text = lines.join('\n') + (seed % 2 === 0 ? '\n' : '');
      const want = await general(ndjsonRows(chunked(text, () => 4_096)));
      const got = inPlace((c) => new NdjsonReader(c), text, splits(rng(seed + 100)));
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });

  it('repeats of a few series in a steady order take the quick way and still agree', async () => {
    const r = rng(99);
    const lines: string[] = [];
    for (let i = 0; i < 6_000; i++) {
      const tags = TAGS[i % 3] as object;
      const ts = NOW - 3_600_000 + i * 1_000;
      // Epoch ms in the second half.
      let line = JSON.stringify({
        timestamp: i < 3_000 ? new Date(ts).toISOString() : ts,
        metric_name: 'cpu',
        metric_value: i % 5 === 0 ? i : i + 0.5,
        tags,
      });
      if (r() < 0.02) line = line.replace('"cpu"', '"c\\u0070u"'); // the same series, escaped
      if (r() < 0.02) line = line.replace(/T(\d\d):/, 'T2$1:'); // an hour that does not exist
      if (r() < 0.02) line = line.replace(/:\d+(\.\d+)?,"tags"/, ':01,"tags"'); // a leading zero
      if (r() < 0.02) line = line.replace(/"timestamp":(\d)/, '"timestamp":0$1'); // here too
      if (r() < 0.02)
        line = line.replace(
          /"timestamp":"[^"]*"/,
          `"timestamp":"${new Date(ts).toISOString().slice(0, 22)}"`,
        );
      if (r() < 0.02) line = line.replace('}}', '} }');
      lines.push(line);
    }
    const text = lines.join('\n');
    const want = await general(ndjsonRows(chunked(text, () => 4_096)));
    expect(inPlace((c) => new NdjsonReader(c), text, splits(rng(7)))).toEqual(want);
  });

  it('CSV, record by record (records across lines too), in chunks of any size', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const text = csvFile(rng(seed), 1_200);
      const want = await general(
        csvRows(
          chunked(text, () => 4_096),
          'f.csv',
        ),
      );
      const got = inPlace((c) => new CsvReader(c, 'f.csv'), text, splits(rng(seed + 200)));
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });

  it('a byte order mark at the start of the input is not part of the first line', async () => {
    const ndjson = Array.from({ length: 50 }, (_, i) => ndjsonLine(rng(5), i)).join('\n');
    const csv = csvFile(rng(6), 50);
    const split = () => () => 3;
    expect(inPlace((c) => new NdjsonReader(c), `\ufeff${ndjson}`, split())).toEqual(
      inPlace((c) => new NdjsonReader(c), ndjson, split()),
    );
    expect(inPlace((c) => new CsvReader(c, 'f.csv'), `\ufeff${csv}`, split())).toEqual(
      await general(
        csvRows(
          chunked(csv, () => 4_096),
          'f.csv',
        ),
      ),
    );
  });
});
