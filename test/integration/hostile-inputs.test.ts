// Hostile and broken inputs, one table across every surface a user or program can reach:
// ingest, reads, admin, import and scrape. Each row: the status (or outcome), the field and why,
// and that nothing was stored: no point, no series, an empty buffer, no dead letter.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Running } from '../../src/main.js';
import { scrapeTarget } from '../../src/samplers/prometheus.js';
import { runImport } from '../../src/import/run.js';
import { SeriesRegistry } from '../../src/metrics/series-registry.js';
import { createLogger } from '../../src/infra/logger.js';
import { countPoints, createTestContext, type TestContext } from '../helpers/context.js';
import { startScrapeFixture, type ScrapeFixture } from '../helpers/scrape-fixture.js';
import { DAY } from '../../src/infra/time.js';

const INGEST = 'hostile-ingest-token-0123';
const READ = 'hostile-read-token-012345';
const ADMIN = 'hostile-admin-token-01234';
let ctx: TestContext;
let app: Running;
let base: string;
let dir: string;
let fixture: ScrapeFixture;

interface Outcome {
  status: number | string;
  field?: string;
  reason?: string;
}

/** An HTTP request's outcome: the status and the first error's field and reason. */
async function http(
  method: string,
  urlPath: string,
  token: string | undefined,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body } : {}),
  });
  const json = (await res.json().catch(() => ({}))) as {
    detail?: string;
    errors?: { field: string; reason: string }[];
  };
  const first = json.errors?.[0];
  return { status: res.status, field: first?.field, reason: first?.reason ?? json.detail };
}

/** `null` sends no token. */
const ingest = (body: unknown, token: string | null = INGEST, headers = {}) =>
  http(
    'POST',
    '/api/v1/metrics',
    token ?? undefined,
    typeof body === 'string' ? body : JSON.stringify(body),
    headers,
  );
const read = (q: string, token: string | null = READ) =>
  http('GET', `/api/v1${q}`, token ?? undefined);
const refresh = (body: unknown, token = ADMIN, headers = {}) =>
  http('POST', '/api/v1/cache/refresh', token, JSON.stringify(body), headers);

/** An import of one line: exit code, and the first rejected row's field and reason. */
async function importLine(line: string): Promise<Outcome> {
  const file = path.join(dir, `row-${Math.random().toString(36).slice(2)}.ndjson`);
  await writeFile(file, `${line}\n`);
  const r = await runImport({
    series: new SeriesRegistry(ctx.redis, ctx.keys, ctx.config(LIMITS).series),
    file,
    db: ctx.db,
    log: createLogger('silent'),
    acceptMs: ctx.config().retention.acceptMs,
    stderr: { write: () => true, isTTY: false },
    progress: 'none',
  });
  const e = r.rejectedRows[0]?.errors[0];
  return { status: `exit ${r.exitCode}`, field: e?.field, reason: e?.reason };
}

/** A scrape's outcome: up or not, and why. Nothing but up and scrape_duration_seconds on failure. */
async function scrape(urlPath: string, sampleLimit = 50_000): Promise<Outcome> {
  const r = await scrapeTarget({
    url: `${fixture.base}${urlPath}`,
    timeoutMs: 2_000,
    sampleLimit,
    log: createLogger('silent'),
  });
  const names = r.samples.map((s) => s.name);
  return {
    status: r.up ? 'up=1' : `up=0, kept ${names.join(' ')}`,
    field: 'target',
    reason: r.error,
  };
}

const ok = { metric_name: 'good_metric', value: 1 };
/** Series limits low enough for one request to pass them. */
const LIMITS = { MAX_SERIES: '8', MAX_SERIES_PER_METRIC: '3' };
/** n points of n series of `metric`. */
const seriesOf = (metric: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ metric_name: metric, value: 1, tags: { id: `r${i}` } }));
const at = (ms: number) => new Date(Date.now() + ms).toISOString();
const m = 'req_metric';

// [surface, what, act, status, field, reason]
const ROWS: [
  string,
  string,
  () => Promise<Outcome>,
  number | string,
  string | undefined,
  RegExp,
][] = [
  ['ingest', 'invalid JSON', () => ingest('{"points": ['), 400, 'body', /invalid JSON/],
  ['ingest', 'body an array', () => ingest([1, 2]), 400, 'body', /JSON object/],
  ['ingest', 'points missing', () => ingest({}), 400, 'points', /is required/],
  ['ingest', 'points an object', () => ingest({ points: {} }), 400, 'points', /must be an array/],
  [
    'ingest',
    'metric_name missing',
    () => ingest({ points: [{ value: 1 }] }),
    400,
    'metric_name',
    /is required/,
  ],
  [
    'ingest',
    'metric_name with a space',
    () => ingest({ points: [{ ...ok, metric_name: 'a b' }] }),
    400,
    'metric_name',
    /must/,
  ],
  [
    'ingest',
    'metric_name of 101 characters',
    () => ingest({ points: [{ ...ok, metric_name: 'a'.repeat(101) }] }),
    400,
    'metric_name',
    /100/,
  ],
  [
    'ingest',
    'value a string',
    () => ingest({ points: [{ ...ok, value: '1' }] }),
    400,
    'value',
    /number/,
  ],
  [
    'ingest',
    'value null',
    () => ingest({ points: [{ ...ok, value: null }] }),
    400,
    'value',
    /number/,
  ],
  [
    'ingest',
    'value 1e309 (Infinity)',
    () => ingest('{"points":[{"metric_name":"a","value":1e309}]}'),
    400,
    'value',
    /finite/,
  ],
  [
    'ingest',
    'timestamp 2 h ahead',
    () => ingest({ points: [{ ...ok, timestamp: at(2 * 3_600_000) }] }),
    400,
    'timestamp',
    /1 h in the future/,
  ],
  [
    'ingest',
    'timestamp 40 days old',
    () => ingest({ points: [{ ...ok, timestamp: at(-40 * DAY) }] }),
    400,
    'timestamp',
    /older than the 29 d pulse accepts/,
  ],
  [
    'ingest',
    'timestamp in epoch seconds',
    () => ingest({ points: [{ ...ok, timestamp: Math.floor(Date.now() / 1000) }] }),
    400,
    'timestamp',
    /milliseconds/,
  ],
  [
    'ingest',
    'timestamp "yesterday"',
    () => ingest({ points: [{ ...ok, timestamp: 'yesterday' }] }),
    400,
    'timestamp',
    /ISO-8601/,
  ],
  [
    'ingest',
    'timestamp February 30th',
    () => ingest({ points: [{ ...ok, timestamp: '2026-02-30T00:00:00Z' }] }),
    400,
    'timestamp',
    /not a real date/,
  ],
  [
    'ingest',
    'tags a string',
    () => ingest({ points: [{ ...ok, tags: 'a=b' }] }),
    400,
    'tags',
    /object/,
  ],
  [
    'ingest',
    'tag value a number',
    () => ingest({ points: [{ ...ok, tags: { port: 80 } }] }),
    400,
    'tags.port',
    /must be a string/,
  ],
  [
    'ingest',
    'tag value of 201 characters',
    () => ingest({ points: [{ ...ok, tags: { x: 'v'.repeat(201) } }] }),
    400,
    'tags.x',
    /200/,
  ],
  [
    'ingest',
    'unknown field',
    () => ingest({ points: [{ ...ok, metricname: 'a' }] }),
    400,
    'metricname',
    /not a known field/,
  ],
  [
    'ingest',
    '10,001 points',
    () => ingest({ points: Array.from({ length: 10_001 }, () => ok) }),
    400,
    'points',
    /10000|10,000/,
  ],
  [
    'ingest',
    'text/plain body',
    () => ingest(JSON.stringify({ points: [ok] }), INGEST, { 'content-type': 'text/plain' }),
    415,
    undefined,
    /application\/json/,
  ],
  [
    'ingest',
    'body over INGEST_MAX_BODY',
    () => ingest({ points: [ok], pad: 'x'.repeat(2_200_000) }),
    413,
    undefined,
    /./,
  ],
  ['ingest', 'no token', () => ingest({ points: [ok] }, null), 401, undefined, /token is required/],
  [
    'ingest',
    'a wrong token',
    () => ingest({ points: [ok] }, 'wrong-ingest-token-01234'),
    401,
    undefined,
    /token is wrong/,
  ],
  [
    'read',
    'time_range without a unit',
    () => read('/metrics/summary?time_range=24'),
    400,
    'time_range',
    /m, h or d/,
  ],
  [
    'read',
    'time_range over 90 days',
    () => read('/metrics/summary?time_range=91d'),
    400,
    'time_range',
    /at most 90d/,
  ],
  [
    'read',
    'an unknown parameter',
    () => read('/metrics/summary?range=24h'),
    400,
    'range',
    /not a known parameter/,
  ],
  [
    'read',
    'a repeated parameter',
    () => read('/metrics/summary?time_range=1h&time_range=2h'),
    400,
    'time_range',
    /given once/,
  ],
  [
    'read',
    'metric_name missing',
    () => read('/time-series?time_range=1h'),
    400,
    'metric_name',
    /is required/,
  ],
  [
    'read',
    'resolution under a minute',
    () => read(`/time-series?metric_name=${m}&resolution=30s`),
    400,
    'resolution',
    /m, h or d/,
  ],
  [
    'read',
    'resolution over the range',
    () => read(`/time-series?metric_name=${m}&time_range=1h&resolution=2h`),
    400,
    'resolution',
    /longer than time_range/,
  ],
  [
    'read',
    'more than 5,000 points',
    () => read(`/time-series?metric_name=${m}&time_range=7d&resolution=1m`),
    400,
    'resolution',
    /5000/,
  ],
  [
    'read',
    'an empty tag name',
    () => read(`/time-series?metric_name=${m}&tag.=x`),
    400,
    'tag.',
    /must name a tag/,
  ],
  [
    'read',
    'an unknown metric',
    () => read('/time-series?metric_name=never_seen'),
    404,
    undefined,
    /no metric named never_seen/,
  ],
  [
    'read',
    'since not a date',
    () => read('/regressions?since=yesterday'),
    400,
    'since',
    /ISO-8601/,
  ],
  ['read', 'no token', () => read('/metrics/summary', null), 401, undefined, /token is required/],
  ['read', 'series: limit 0', () => read('/series?limit=0'), 400, 'limit', /1 to 10000/],
  ['read', 'series: limit 10001', () => read('/series?limit=10001'), 400, 'limit', /1 to 10000/],
  ['read', 'series: limit abc', () => read('/series?limit=abc'), 400, 'limit', /whole number/],
  [
    'read',
    'series: a cursor that is garbage',
    () => read('/series?cursor=%E2%9C%93%3Cscript%3E'),
    400,
    'cursor',
    /not a cursor this API gave out/,
  ],
  [
    'read',
    'series: a well-formed cursor with a forged check',
    () =>
      read(
        `/series?cursor=${Buffer.from(JSON.stringify(['cpu', 5, 'AAAAAAAAAAAAAAAA'])).toString('base64url')}`,
      ),
    400,
    'cursor',
    /was altered/,
  ],
  [
    'read',
    'series: a cursor of 10 kB',
    () => read(`/series?cursor=${'A'.repeat(10_000)}`),
    400,
    'cursor',
    /not a cursor/,
  ],
  ['read', 'series: offset', () => read('/series?offset=1000'), 400, 'offset', /not a known/],
  [
    'read',
    'series: a tag key of 101 characters',
    () => read(`/series?tag.${'k'.repeat(101)}=v`),
    400,
    `tag.${'k'.repeat(101)}`,
    /must name a tag/,
  ],
  [
    'read',
    'series: a tag value of 201 characters',
    () => read(`/series?tag.host=${'v'.repeat(201)}`),
    400,
    'tag.host',
    /at most 200 characters/,
  ],
  [
    'read',
    'series: a metric_name with a quote',
    () => read("/series?metric_name=a'%20OR%201=1"),
    400,
    'metric_name',
    /1 to 100 characters/,
  ],
  ['read', 'metrics: a parameter', () => read('/metrics?limit=1'), 400, 'limit', /not a known/],
  [
    'admin',
    'a pattern with a newline',
    () => refresh({ pattern: 'a\nb' }),
    400,
    'pattern',
    /printable ASCII/,
  ],
  [
    'admin',
    'a pattern of 201 characters',
    () => refresh({ pattern: 'p'.repeat(201) }),
    400,
    'pattern',
    /1 to 200/,
  ],
  [
    'admin',
    'a pattern that is a number',
    () => refresh({ pattern: 7 }),
    400,
    'pattern',
    /printable ASCII/,
  ],
  [
    'admin',
    'the read token',
    () => refresh({ pattern: '*' }, READ),
    401,
    undefined,
    /token is wrong/,
  ],
  [
    'admin',
    'a 17 kB body',
    () => refresh({ pattern: 'x', pad: 'p'.repeat(17_000) }),
    413,
    undefined,
    /./,
  ],
  [
    'admin',
    'Basic credentials from another site',
    () =>
      http('POST', '/api/v1/cache/refresh', undefined, '{"pattern":"*"}', {
        authorization: `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}`,
        origin: 'https://evil.example',
      }),
    403,
    undefined,
    /must come from this site/,
  ],
  [
    'admin',
    'Bull Board without a token',
    () => http('GET', '/admin/queues', undefined),
    401,
    undefined,
    /token is required/,
  ],
  [
    'ingest',
    '4 series of one metric past MAX_SERIES_PER_METRIC=3',
    () => ingest({ points: seriesOf('card_metric', 4) }),
    400,
    'metric_name',
    /new series of card_metric, which already has 3 active series \(MAX_SERIES_PER_METRIC\)/,
  ],
  [
    'ingest',
    '9 series of 3 metrics past MAX_SERIES=8',
    () =>
      ingest({
        points: [...seriesOf('card_a', 3), ...seriesOf('card_b', 3), ...seriesOf('card_c', 3)],
      }),
    400,
    'metric_name',
    /new series of card_a, and pulse already holds 8 active series \(MAX_SERIES\)/,
  ],
  [
    'import',
    'a row of a new series of a metric at MAX_SERIES_PER_METRIC=3',
    async () => {
      // Three series of card_import are active already (sent by another source).
      const full = Array.from({ length: 3 }, (_, i) => ({
        fingerprint: `card-import-${i}`,
        metricName: 'card_import',
      }));
      await new SeriesRegistry(ctx.redis, ctx.keys, ctx.config(LIMITS).series).admit(full);
      return importLine(
        JSON.stringify({ ...seriesOf('card_import', 1)[0], timestamp: at(-60_000) }),
      );
    },
    'exit 2',
    'metric_name',
    /new series of card_import, which already has 3 active series/,
  ],
  [
    'import',
    'a line that is not JSON',
    () => importLine('{"metric_name": '),
    'exit 2',
    'json',
    /not valid JSON/,
  ],
  [
    'import',
    'a row 40 days old',
    () => importLine(JSON.stringify({ ...ok, timestamp: at(-40 * DAY) })),
    'exit 2',
    'timestamp',
    /older than the 29 d pulse accepts/,
  ],
  [
    'import',
    'a row without a timestamp',
    () => importLine(JSON.stringify(ok)),
    'exit 2',
    'timestamp',
    /is required in an import/,
  ],
  [
    'import',
    'a row with a NaN value',
    () => importLine('{"metric_name":"a","value":"NaN","timestamp":"2026-11-30T00:00:00Z"}'),
    'exit 2',
    'value',
    /number/,
  ],
  [
    'scrape',
    'more samples than SCRAPE_SAMPLE_LIMIT',
    () => scrape('/node', 5),
    'up=0, kept up scrape_duration_seconds',
    'target',
    /SCRAPE_SAMPLE_LIMIT/,
  ],
  [
    'scrape',
    'a redirect to another origin',
    () => scrape('/redirect-other'),
    'up=0, kept up scrape_duration_seconds',
    'target',
    /another origin/,
  ],
  [
    'scrape',
    'an HTML page',
    () => scrape('/garbage'),
    'up=0, kept up scrape_duration_seconds',
    'target',
    /./,
  ],
  [
    'scrape',
    'HTTP 500',
    () => scrape('/error'),
    'up=0, kept up scrape_duration_seconds',
    'target',
    /HTTP 500/,
  ],
];

beforeAll(async () => {
  ctx = await createTestContext('hostile');
  dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-hostile-'));
  fixture = await startScrapeFixture();
  app = await start(
    ctx.config({
      PULSE_ROLE: 'api',
      INGEST_TOKEN: INGEST,
      READ_TOKEN: READ,
      ADMIN_TOKEN: ADMIN,
      INGEST_MAX_BODY: '2mb',
      ...LIMITS,
    }),
    ctx.log,
  );
  base = `http://127.0.0.1:${app.port}`;
});

afterAll(async () => {
  await app?.stop();
  await fixture?.close();
  await ctx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hostile inputs: the status, the field and why, and nothing stored', () => {
  it('has at least 40 rows across ingest, reads, admin, import and scrape', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(ROWS.map((r) => r[0]))).toEqual(
      new Set(['ingest', 'read', 'admin', 'import', 'scrape']),
    );
  });

  it.each(ROWS)('%s: %s', async (_surface, _what, act, status, field, reason) => {
    const out = await act();
    expect(out.status).toBe(status);
    if (field !== undefined) expect(out.field).toBe(field);
    expect(out.reason ?? '').toMatch(reason);
    expect(await countPoints(ctx.db)).toBe(0);
    const series = await ctx.db.one<{ n: number }>('SELECT count(*)::int AS n FROM series');
    expect(series.n).toBe(0);
    expect(Number((await ctx.redis.get(ctx.keys.bufferDepth)) ?? 0)).toBe(0);
    expect(await ctx.redis.exists(ctx.keys.bufferDead)).toBe(0);
  });
});
