// The import (src/import/, scripts/import.ts) against real PostgreSQL: NDJSON and CSV with good and bad rows (exact rows
// stored, reported lines, exit code 2), a second run that stores nothing, rollups that count
// every stored point, clear fatal errors, backpressure, the CLI as ops run it, and the peak
// memory of a ~200 MB import in a child process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WriteResult } from '../../src/metrics/store.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { WRITES_IN_FLIGHT } from '../../src/metrics/bulk-writer.js';
import { ImportError } from '../../src/import/input.js';
import type { Output } from '../../src/import/progress.js';
import { MAX_REPORTED } from '../../src/import/rejections.js';
import { runImport, type ImportOptions, type ImportResult } from '../../src/import/run.js';
import { countPoints, createTestContext, waitFor, type TestContext } from '../helpers/context.js';
import { ROOT } from '../helpers/processes.js';
import { SeriesRegistry } from '../../src/metrics/series-registry.js';
import { storedSeries } from '../../src/metrics/store.js';
import { HOUR, DAY } from '../../src/infra/time.js';

let ctx: TestContext;
let dir: string;
/** Start of the hour three hours ago: every fixture point lies in closed hours. */
let t0: number;

beforeAll(async () => {
  ctx = await createTestContext('import');
  dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-import-'));
  t0 = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
});
afterAll(async () => {
  await ctx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await ctx.db.none('TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours');
});

function sink(isTTY = false): Output & { text: string } {
  const out = {
    text: '',
    isTTY,
    columns: 200,
    write(s: string) {
      out.text += s;
      return true;
    },
  };
  return out;
}

async function run(file: string, extra: Partial<ImportOptions> = {}) {
  const stderr = sink();
  const result = await runImport({
    file,
    db: ctx.db,
    log: ctx.log,
    acceptMs: 90 * DAY,
    stderr,
    progress: 'none',
    ...extra,
  });
  return { result, stderr: stderr.text };
}

interface Stored {
  ts: number;
  metric_name: string;
  metric_value: number;
  tags: Record<string, string>;
  source_agent_id: string | null;
  instance_id: string | null;
}

async function stored(): Promise<Stored[]> {
  return ctx.db.manyOrNone<Stored>(
    `SELECT (extract(epoch FROM "timestamp") * 1000)::float8 AS ts, metric_name, metric_value,
            tags, source_agent_id, instance_id
     FROM performance_metrics_ts ORDER BY metric_name, "timestamp"`,
  );
}

function lines(r: ImportResult): [number, string[]][] {
  return r.rejectedRows.map((row) => [row.line, row.errors.map((e) => e.field)]);
}

/** rollup_1m counts every stored point once, and rollup_1h every point of a closed hour. */
async function expectRollupsComplete(): Promise<void> {
  const c = await ctx.db.one<{ points: number; m: number; closed: number; h: number }>(
    `SELECT (SELECT count(*)::int FROM points) AS points,
            (SELECT coalesce(sum(count), 0)::int FROM rollup_1m) AS m,
            (SELECT count(*)::int FROM points WHERE ts < date_trunc('hour', now())) AS closed,
            (SELECT coalesce(sum(count), 0)::int FROM rollup_1h
              WHERE bucket < date_trunc('hour', now())) AS h`,
  );
  expect(c.points).toBeGreaterThan(0);
  expect(c.m).toBe(c.points);
  expect(c.h).toBe(c.closed);
}

// ---------------------------------------------------------------------------------------------
// Fixtures

function ndjsonFixture(): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const row = (o: Record<string, unknown>) => JSON.stringify(o);
  return [
    /* 1 */ row({ timestamp: t0, metric_name: 'cpu', metric_value: 41.5, tags: { host: 'web-1' }, source_agent_id: 7, instance_id: 'i-1' }),
    /* 2 */ row({ timestamp: iso(t0 + 1_000), metric_name: 'mem', value: 1e9 }),
    /* 3 */ '{"timestamp": 1, "metric_name": ',
    /* 4 */ '',
    /* 5 */ `{"timestamp": ${t0 + 2_000}, "metric_name": "cpu", "metric_value": NaN}`,
    /* 6 */ row({ timestamp: t0, metric_name: 'cpu usage', value: 1 }),
    /* 7 */ row({ timestamp: iso(Date.now() + 2 * HOUR), metric_name: 'cpu', value: 1 }),
    /* 8 */ row({ timestamp: t0, metric_name: 'cpu', value: 1, tags: 'web-1' }),
    /* 9 */ row({ timestamp: Date.now() - 100 * DAY, metric_name: 'cpu', value: 1 }),
    /* 10 */ row({ metric_name: 'cpu', value: 1 }),
    /* 11 */ row({ timestamp: t0, metric_name: 'cpu', value: 1, host: 'web-1' }),
    /* 12 */ row({ timestamp: t0 + 3_000, metric_name: 'geo', value: -2.25, tags: { city: 'zürich 🌍' } }) + '\r',
    /* 13 */ row({ timestamp: t0, metric_name: 'cpu', metric_value: 41.5, tags: { host: 'web-1' }, source_agent_id: 7, instance_id: 'i-1' }),
    /* 14 */ row({ timestamp: t0, metric_name: 'cpu', metric_value: 99, tags: { host: 'web-1' }, source_agent_id: 7, instance_id: 'i-1' }),
    /* 15 */ row({ timestamp: t0 + HOUR + 5, metric_name: 'cpu', metric_value: 43, tags: { host: 'web-1' }, source_agent_id: '7', instance_id: 'i-1' }),
    /* 16 */ row({ timestamp: t0 + 2 * HOUR, metric_name: 'mem', value: 0 }),
  ].join('\n'); // prettier-ignore
}

const NDJSON_REJECTED: [number, string[]][] = [
  [3, ['json']],
  [5, ['json']],
  [6, ['metric_name']],
  [7, ['timestamp']],
  [8, ['tags']],
  [9, ['timestamp']],
  [10, ['timestamp']],
  [11, ['host']],
  [14, ['timestamp']],
];

function csvFixture(): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  return [
    /* 1 */ 'timestamp,metric_name,metric_value,tags,source_agent_id,instance_id',
    /* 2 */ `${t0},http_requests,12.5,"{""route"":""/a,b"",`,
    /* 3 */ `""note"":""say \\""hi\\""""}",agent-9,i-2`,
    /* 4 */ `${iso(t0 + 1_000)},http_requests,13,"{""city"":""zürich 🌍""}",,`,
    /* 5 */ `${t0 + 2_000},http_requests,NaN,,,`,
    /* 6 */ `${t0},bad name,1,,,`,
    /* 7 */ `${Date.now() + 2 * HOUR},x,1,,,`,
    /* 8 */ `${t0},x,1,"[1,2]",,`,
    /* 9 */ `${t0},x,1,{not json},,`,
    /* 10 */ `${t0},x,1,,`,
    /* 11 */ `${t0 + 5_000},x,"4,5",,,`,
    /* 12 */ `"${t0 + 6_000}","quoted_metric","7",,,\r`,
    /* 13 */ `${t0 + 7_000},"multi`,
    /* 14 */ `name",1,,,`,
    /* 15 */ `${t0 + HOUR + 8_000},last_metric,-0.5,"{""a"":""b""}",1,2`,
  ].join('\n');
}

const CSV_REJECTED: [number, string[]][] = [
  [5, ['metric_value']],
  [6, ['metric_name']],
  [7, ['timestamp']],
  [8, ['tags']],
  [9, ['tags']],
  [10, ['csv']],
  [11, ['metric_value']],
  [13, ['metric_name']],
];

function csvExpected(): Stored[] {
  return [
    { ts: t0, metric_name: 'http_requests', metric_value: 12.5, tags: { route: '/a,b', note: 'say "hi"' }, source_agent_id: 'agent-9', instance_id: 'i-2' },
    { ts: t0 + 1_000, metric_name: 'http_requests', metric_value: 13, tags: { city: 'zürich 🌍' }, source_agent_id: null, instance_id: null },
    { ts: t0 + HOUR + 8_000, metric_name: 'last_metric', metric_value: -0.5, tags: { a: 'b' }, source_agent_id: '1', instance_id: '2' },
    { ts: t0 + 6_000, metric_name: 'quoted_metric', metric_value: 7, tags: {}, source_agent_id: null, instance_id: null },
  ]; // prettier-ignore
}

// ---------------------------------------------------------------------------------------------

describe('import under the series limits', () => {
  it('rejects the rows of series past MAX_SERIES_PER_METRIC by line, keeps stored series flowing', async () => {
    const prefix = `${ctx.prefix}:imp`;
    const keys = {
      ...ctx.keys,
      seriesActive: `${prefix}:active`,
      seriesMetrics: `${prefix}:metrics`,
      seriesOf: (m: string) => `${prefix}:m:${m}`,
    };
    const series = new SeriesRegistry(
      ctx.redis,
      keys,
      { maxSeries: 1_000, maxPerMetric: 3, idleMs: DAY },
      storedSeries(ctx.db),
    );
    // old_host is stored before the limit applies (as an earlier import or ingest would).
    const before = path.join(dir, 'limits-before.ndjson');
    await writeFile(
      before,
      JSON.stringify({ metric_name: 'imp', value: 1, timestamp: t0, tags: { host: 'old_host' } }) +
        '\n',
    );
    expect((await run(before)).result.imported).toBe(1);

    // 5 new series of imp (h0..h4), 4 rows each, interleaved; 2 rows of another metric.
    const lines: string[] = [];
    for (let i = 0; i < 20; i++)
      lines.push(
        JSON.stringify({
          metric_name: 'imp',
          value: i,
          timestamp: t0 + 60_000 + i * 1_000,
          tags: { host: `h${i % 5}` },
        }),
      );
    lines.push(JSON.stringify({ metric_name: 'imp_other', value: 1, timestamp: t0, tags: {} }));
    lines.push(
      JSON.stringify({
        metric_name: 'imp',
        value: 7,
        timestamp: t0 + 1_000,
        tags: { host: 'old_host' },
      }),
    );
    const file = path.join(dir, 'limits.ndjson');
    await writeFile(file, lines.join('\n') + '\n');

    const { result, stderr } = await run(file, { series, batchSize: 7 });
    // h0..h2 fit; h3 and h4 (lines 4, 5, 9, 10, 14, 15, 19, 20) would pass the limit.
    const refusedLines = [4, 5, 9, 10, 14, 15, 19, 20];
    expect(result).toMatchObject({ rowsRead: 22, imported: 14, rejected: 8, exitCode: 2 });
    expect(result.rejectedRows.map((r) => r.line).sort((a, b) => a - b)).toEqual(refusedLines);
    expect(result.rejectedRows[0]?.errors).toEqual([
      {
        field: 'metric_name',
        reason:
          'would create a new series of imp, which already has 3 active series (MAX_SERIES_PER_METRIC); points of its existing series are accepted',
      },
    ]);
    for (const line of refusedLines)
      expect(stderr).toContain(
        `limits.ndjson:${line}: metric_name: would create a new series of imp`,
      );
    const stored = await ctx.db.many<{ host: string; n: number }>(
      `SELECT tags->>'host' AS host, count(*)::int AS n FROM performance_metrics_ts
       WHERE metric_name = 'imp' GROUP BY 1 ORDER BY 1`,
    );
    expect(stored).toEqual([
      { host: 'h0', n: 4 },
      { host: 'h1', n: 4 },
      { host: 'h2', n: 4 },
      { host: 'old_host', n: 2 },
    ]);
    expect(await series.activeOf('imp')).toBe(4);

    // Again: the same rows are refused, the rest is already stored.
    const again = await run(file, { series, batchSize: 7 });
    expect(again.result).toMatchObject({ imported: 0, duplicates: 14, rejected: 8, exitCode: 2 });
  });
});

describe('import', () => {
  it('imports the good rows of an NDJSON file, reports the bad ones by line, and a second run stores nothing', async () => {
    const file = path.join(dir, 'mixed.ndjson');
    await writeFile(file, ndjsonFixture());
    const { result, stderr } = await run(file);
    expect(result).toMatchObject({
      format: 'ndjson',
      rowsRead: 15,
      imported: 5,
      duplicates: 1, // line 13 repeats line 1 exactly
      rejected: 9,
      exitCode: 2,
      interrupted: false,
    });
    expect(lines(result)).toEqual(NDJSON_REJECTED);
    const reason = (line: number) =>
      result.rejectedRows.find((r) => r.line === line)?.errors[0]?.reason;
    expect(reason(3)).toMatch(/^is not valid JSON/);
    expect(reason(6)).toMatch(/must match/);
    expect(reason(7)).toBe('is more than 1 h in the future');
    expect(reason(8)).toMatch(/must be an object of string values, got string/);
    expect(reason(9)).toMatch(/older than the 90 d pulse accepts/);
    expect(reason(10)).toMatch(/is required in an import/);
    expect(reason(11)).toMatch(/is not a known field/);
    expect(reason(14)).toMatch(/repeats line 1 with another value/);
    // stderr: file:line: field: reason, one line per rejected row
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(9);
    expect(stderr).toContain(`${file}:6: metric_name: must match`);
    expect(stderr).toContain(`${file}:10: timestamp: is required in an import`);

    expect(await stored()).toEqual([
      { ts: t0, metric_name: 'cpu', metric_value: 41.5, tags: { host: 'web-1' }, source_agent_id: '7', instance_id: 'i-1' },
      { ts: t0 + HOUR + 5, metric_name: 'cpu', metric_value: 43, tags: { host: 'web-1' }, source_agent_id: '7', instance_id: 'i-1' },
      { ts: t0 + 3_000, metric_name: 'geo', metric_value: -2.25, tags: { city: 'zürich 🌍' }, source_agent_id: null, instance_id: null },
      { ts: t0 + 1_000, metric_name: 'mem', metric_value: 1e9, tags: {}, source_agent_id: null, instance_id: null },
      { ts: t0 + 2 * HOUR, metric_name: 'mem', metric_value: 0, tags: {}, source_agent_id: null, instance_id: null },
    ]); // prettier-ignore
    // Integer and string ids of the same value are one series, as with ingest.
    expect(
      (await ctx.db.one<{ n: number }>(`SELECT count(*)::int AS n FROM series WHERE metric_name = 'cpu'`)).n,
    ).toBe(1); // prettier-ignore
    expect(result.rollupHours).toBeGreaterThan(0);
    await expectRollupsComplete();

    const again = await run(file);
    expect(again.result).toMatchObject({
      rowsRead: 15,
      imported: 0,
      duplicates: 6,
      rejected: 9,
      exitCode: 2,
    });
    expect(lines(again.result)).toEqual(NDJSON_REJECTED);
    expect(await countPoints(ctx.db)).toBe(5);
    await expectRollupsComplete();
  });

  it('imports CSV with RFC 4180 quoting (commas, doubled quotes, line breaks in quotes) and reports the line a record starts on', async () => {
    const file = path.join(dir, 'mixed.csv');
    await writeFile(file, csvFixture());
    const { result, stderr } = await run(file, { batchSize: 2 });
    expect(result).toMatchObject({
      format: 'csv',
      rowsRead: 12,
      imported: 4,
      duplicates: 0,
      rejected: 8,
      exitCode: 2,
    });
    expect(lines(result)).toEqual(CSV_REJECTED);
    const reason = (line: number) =>
      result.rejectedRows.find((r) => r.line === line)?.errors[0]?.reason;
    expect(reason(5)).toBe('must be a finite number (no NaN or Infinity)');
    expect(reason(8)).toMatch(/got array/);
    expect(reason(9)).toMatch(/^is not valid JSON/);
    expect(reason(10)).toBe('has 5 fields; the header has 6');
    expect(reason(11)).toBe('must be a number, got string');
    expect(stderr).toContain(`${file}:13: metric_name: must match`);
    expect(await stored()).toEqual(csvExpected());
    await expectRollupsComplete();

    const again = await run(file);
    expect(again.result).toMatchObject({ imported: 0, duplicates: 4, rejected: 8, exitCode: 2 });
    expect(await countPoints(ctx.db)).toBe(4);
  });

  it('reads stdin (`-`) and gives the same answer when every chunk is a single byte', async () => {
    const bytes = Buffer.from(csvFixture());
    const oneByOne = Readable.from(
      (function* () {
        for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
      })(),
    );
    const { result } = await run('-', { format: 'csv', stdin: oneByOne });
    expect(result).toMatchObject({ name: '<stdin>', rowsRead: 12, imported: 4, rejected: 8 });
    expect(lines(result)).toEqual(CSV_REJECTED);
    expect(result.bytesRead).toBe(bytes.length);
    expect(await stored()).toEqual(csvExpected());
  });

  it('reads gzip input, from a file by any name and from stdin, with the same answer', async () => {
    const file = path.join(dir, 'mixed.ndjson.gz');
    await writeFile(file, gzipSync(ndjsonFixture()));
    const { result } = await run(file);
    expect(result).toMatchObject({ format: 'ndjson', rowsRead: 15, imported: 5, rejected: 9 });
    expect(lines(result)).toEqual(NDJSON_REJECTED);
    expect(result.bytesRead).toBe((await stat(file)).size);
    await expectRollupsComplete();

    await ctx.db.none('TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours');
    const bytes = gzipSync(csvFixture());
    const oneByOne = Readable.from(
      (function* () {
        for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
      })(),
    );
    const fromStdin = await run('-', { format: 'csv', stdin: oneByOne });
    expect(fromStdin.result).toMatchObject({ rowsRead: 12, imported: 4, rejected: 8 });
    expect(lines(fromStdin.result)).toEqual(CSV_REJECTED);
    expect(await stored()).toEqual(csvExpected());

    const cut = path.join(dir, 'cut.csv');
    await writeFile(cut, bytes.subarray(0, bytes.length - 10));
    await expect(run(cut)).rejects.toThrow(
      /^reading .*cut\.csv failed after \d+ bytes: unexpected end of file$/,
    );
  });

  it('prints the first 100 rejected rows and counts the rest', async () => {
    const file = path.join(dir, 'many-bad.jsonl');
    const good = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ timestamp: t0 + i, metric_name: 'ok', value: i }),
    );
    const bad = Array.from({ length: 150 }, () => '{oops');
    await writeFile(file, [...good, ...bad].join('\n') + '\n');
    const { result, stderr } = await run(file);
    expect(result).toMatchObject({ rowsRead: 200, imported: 50, rejected: 150, exitCode: 2 });
    expect(result.rejectedRows).toHaveLength(MAX_REPORTED);
    expect(result.rejectedRows[0]?.line).toBe(51);
    const out = stderr.split('\n').filter(Boolean);
    expect(out).toHaveLength(MAX_REPORTED + 1);
    expect(out.at(-1)).toContain('50 more rejected rows not shown');
  });

  it('fails clearly: missing file, directory, unknown format or extension, bad or missing CSV header', async () => {
    const fails = (file: string, extra: Partial<ImportOptions> = {}) =>
      run(file, extra).then(
        () => {
          throw new Error('expected the import to fail');
        },
        (err: unknown) => {
          expect(err).toBeInstanceOf(ImportError);
          return (err as Error).message;
        },
      );
    expect(await fails(path.join(dir, 'nope.ndjson'))).toBe(
      `file not found: ${path.join(dir, 'nope.ndjson')}`,
    );
    expect(await fails(dir, { format: 'csv' })).toMatch(/is a directory/);
    await writeFile(path.join(dir, 'points.txt'), '');
    expect(await fails(path.join(dir, 'points.txt'))).toMatch(
      /cannot tell the format of .*points\.txt.*--format ndjson or --format csv/,
    );
    expect(await fails(path.join(dir, 'points.txt'), { format: 'xml' })).toBe(
      'unknown --format "xml": expected ndjson or csv',
    );
    expect(await fails('-', { stdin: Readable.from([]) })).toMatch(/stdin needs --format/);

    const header = path.join(dir, 'header.csv');
    await writeFile(header, `time,metric_name,val\n${t0},a,1\n`);
    const message = await fails(header);
    expect(message).toMatch(/bad CSV header on line 1/);
    expect(message).toMatch(/missing required column\(s\) timestamp, metric_value \(or value\)/);
    expect(message).toMatch(/unknown column\(s\) "time", "val"/);
    await writeFile(header, '');
    expect(await fails(header)).toMatch(/is empty: a CSV file starts with a header row/);
    expect(await countPoints(ctx.db)).toBe(0);
  });

  // Root reads any file, so this runs only as another user.
  it.skipIf(process.getuid?.() === 0)('reports an unreadable file', async () => {
    const file = path.join(dir, 'secret.ndjson');
    await writeFile(file, '');
    await chmod(file, 0o000);
    await expect(run(file)).rejects.toThrow(`cannot read ${file}: permission denied`);
  });

  it('reads at most one batch ahead of the writes in flight, and keeps WRITES_IN_FLIGHT of them going', async () => {
    const batchSize = 100;
    let pulled = 0;
    const input = Readable.from(
      (function* () {
        for (let i = 0; i < 1_000; i++) {
          pulled += 1;
          yield `${JSON.stringify({ timestamp: t0 + i, metric_name: 'bp', value: i })}\n`;
        }
      })(),
    );
    const pulledAtWrite: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const store = {
      async write(entries: DecodedEntry[]): Promise<WriteResult> {
        pulledAtWrite.push(pulled);
        // The first batch is written alone (it creates the series); the others wait here.
        if (pulledAtWrite.length > 1) await gate;
        const n = entries.reduce((s, e) => s + e.ts.length, 0);
        return { points: n, inserted: n, slowPath: false };
      },
    };
    const running = run('-', { format: 'ndjson', stdin: input, batchSize, store });
    // After the first, WRITES_IN_FLIGHT batches are being written; the next one gets read, and
    // then reading waits.
    const ahead = (1 + WRITES_IN_FLIGHT + 1) * batchSize;
    await waitFor(() => Promise.resolve(pulled >= ahead), 10_000, 'the batches in flight read');
    await new Promise((r) => setTimeout(r, 200));
    expect(pulledAtWrite).toHaveLength(1 + WRITES_IN_FLIGHT);
    expect(pulled).toBeGreaterThanOrEqual(ahead);
    expect(pulled).toBeLessThanOrEqual(ahead + 20); // + the stream's small buffer
    release();
    const { result } = await running;
    expect(result).toMatchObject({ rowsRead: 1_000, imported: 1_000, exitCode: 0 });
    expect(pulledAtWrite).toHaveLength(10);
  });

  it('shows progress: a bar on a TTY, a line every few seconds otherwise', async () => {
    const file = path.join(dir, 'progress.ndjson');
    const rows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ timestamp: t0 + i, metric_name: 'p', value: i }),
    );
    await writeFile(file, rows.join('\n'));
    const slow = {
      async write(entries: DecodedEntry[]): Promise<WriteResult> {
        await new Promise((r) => setTimeout(r, 120));
        const n = entries.reduce((s, e) => s + e.ts.length, 0);
        return { points: n, inserted: n, slowPath: false };
      },
    };
    for (const isTTY of [true, false]) {
      const stderr = sink(isTTY);
      await runImport({
        file,
        db: ctx.db,
        log: ctx.log,
        acceptMs: 90 * DAY,
        stderr,
        batchSize: 5,
        store: slow,
        progressEveryMs: 100,
      });
      if (isTTY) {
        expect(stderr.text).toMatch(
          /\r\[#*-*\] +\d+\.\d% .* MB .* rows\/s {2}ETA .* imported .* rejected/,
        );
        expect(stderr.text.endsWith('\r\x1b[K')).toBe(true); // the bar is taken off at the end
      } else {
        expect(stderr.text).toMatch(
          /^import: \d+\.\d% \(.* MB\), \d+ rows read, \d+ imported, .*rows\/s, ETA/m,
        );
        expect(stderr.text).not.toContain('\r');
      }
    }
  });

  it('runs as a command: exit 2 on partial imports, 0 when all rows are stored, 1 on fatal errors', async () => {
    const ndjson = path.join(dir, 'cli.ndjson');
    await writeFile(ndjson, ndjsonFixture());
    const partial = await cli([ndjson]);
    expect(partial.code).toBe(2);
    expect(partial.stdout.trim()).toMatch(
      /^import .*cli\.ndjson: 15 rows read, 5 imported, 1 already stored \(duplicates\), 9 rejected, in \d+\.\d s .*; 9 rows were rejected \(see stderr\): exit code 2$/,
    );
    expect(partial.stderr).toContain(`${ndjson}:3: json: is not valid JSON`);
    expect(partial.stderr).toContain(`${ndjson}:14: timestamp: repeats line 1 with another value`);
    expect(await countPoints(ctx.db)).toBe(5);

    const csv = path.join(dir, 'good.data');
    await writeFile(csv, `metric_name,value,timestamp\nok,1,${t0}\nok,2,${t0 + 1}\n`);
    const good = await cli([csv, '--format', 'csv', '--batch', '1']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(
      /2 rows read, 2 imported, 0 already stored \(duplicates\), 0 rejected/,
    );

    const missing = await cli([path.join(dir, 'missing.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`import: file not found: ${path.join(dir, 'missing.csv')}`);
    const format = await cli([csv, '--format', 'parquet']);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('unknown --format "parquet": expected ndjson or csv');
  });

  it('imports a ~200 MB NDJSON file in a child process with peak RSS under 200 MB', async () => {
    const file = path.join(dir, 'big.ndjson');
    const rows = await generate(file, 200 * 1024 * 1024);
    try {
      const started = Date.now();
      const big = await cli([file, '--report-rss']);
      const seconds = (Date.now() - started) / 1000;
      expect(big.code, big.stderr).toBe(0);
      expect(big.stdout).toContain(
        `${rows.toLocaleString('en-US')} rows read, ${rows.toLocaleString('en-US')} imported, 0 already stored`,
      );
      const kb = Number(/VmHWM (\d+) kB/.exec(big.stderr)?.[1]);
      const mb = (await stat(file)).size / 1_048_576;
      console.log(
        `import of ${mb.toFixed(0)} MB, ${rows} rows: ${seconds.toFixed(1)} s (${(mb / seconds).toFixed(1)} MB/s, ` +
          `${Math.round(rows / seconds)} rows/s), peak RSS ${(kb / 1024).toFixed(0)} MB`,
      );
      expect(kb).toBeGreaterThan(0);
      expect(kb).toBeLessThan(200 * 1024);
      expect(await countPoints(ctx.db)).toBe(rows);
      await expectRollupsComplete();
    } finally {
      await rm(file, { force: true });
    }
  }, 120_000);
});

/** Writes NDJSON of `bytes` bytes or a little more, streamed; returns the number of rows. */
async function generate(file: string, bytes: number): Promise<number> {
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const series = 500;
  const start = Date.now() - 2 * DAY;
  let written = 0;
  let rows = 0;
  while (written < bytes) {
    let chunk = '';
    for (let k = 0; k < 2_000; k++, rows++) {
      const s = rows % series;
      chunk += `${JSON.stringify({
        timestamp: start + Math.floor(rows / series) * 1_000,
        metric_name: `import_metric_${s % 10}`,
        metric_value: ((rows * 7_919) % 100_003) / 7,
        tags: { hostname: `web-${Math.floor(s / 10)}.example.internal`, environment: 'production', region: 'eu-west-1' },
        source_agent_id: 'agent-1',
        instance_id: `i-${Math.floor(s / 10)}`,
      })}\n`; // prettier-ignore
    }
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
  return rows;
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/import.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...ctx.env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
