// GET /api/v1/series over 2,500 stored series: keyset pages in (metric_name, id) order, each
// filter against the same predicate in PostgreSQL, what is cached (and what never is), every
// bad parameter as a 400 naming it, and GET /api/v1/metrics against the series table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Running } from '../../src/main.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { seriesDef } from '../../src/metrics/series.js';
import { PointStore } from '../../src/metrics/store.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE } from '../../src/infra/time.js';

const SERIES = 2_500;
let ctx: TestContext;
let api: Running;

interface Row {
  id: number;
  metric_name: string;
  source_agent_id: string | null;
  instance_id: string | null;
  tags: Record<string, string>;
}
interface Page {
  served_from?: string;
  series: Row[];
  next_cursor: string | null;
  computed_at: string;
}

const get = (path: string) => fetch(`http://127.0.0.1:${api.port}${path}`);

async function page(path: string): Promise<Page> {
  const res = await get(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as Page;
}

/** Every page of `query`, following next_cursor to the end. */
async function walk(query: string, limit?: number): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams(query);
    if (limit !== undefined) q.set('limit', String(limit));
    if (cursor !== null) q.set('cursor', cursor);
    const p = await page(`/api/v1/series?${q.toString()}`);
    pages.push(p);
    cursor = p.next_cursor;
    if (pages.length > SERIES) throw new Error('the walk does not end');
  } while (cursor !== null);
  return pages;
}

/** The rows PostgreSQL finds for `where`, in the order the API promises. */
const expected = (where: string, params: unknown[] = []) =>
  ctx.db.manyOrNone<Row>(
    `SELECT id, metric_name, source_agent_id, instance_id, tags FROM series
     WHERE ${where} ORDER BY metric_name, id`,
    params,
  );

const cacheKeys = async () =>
  (await ctx.redis.keys(`${ctx.keys.cachePrefix}*`))
    .map((k) => k.slice(ctx.keys.cachePrefix.length))
    .sort();

beforeAll(async () => {
  ctx = await createTestContext('series');
  // 2,500 series over 5 metrics, 4 agents (and none), 7 instances (and none), 3 tag keys.
  // Series ids follow fingerprints, so (metric_name, id) order is not id order.
  const series = Array.from({ length: SERIES }, (_, i) => {
    const tags: Record<string, string> = { host: `h${i % 13}`, n: String(i) };
    if (i % 3 === 0) tags.region = i % 2 === 0 ? 'eu' : 'us';
    return seriesDef({
      metricName: ['cpu', 'mem', 'disk_io', 'net.rx', 'app:req'][i % 5] as string,
      sourceAgentId: i % 5 === 4 ? null : `agent-${i % 4}`,
      instanceId: i % 8 === 7 ? null : `inst-${i % 7}`,
      tags,
    });
  });
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const entry: DecodedEntry = {
    series,
    seriesIndex: Uint32Array.from(series.keys()),
    ts: new Float64Array(SERIES).fill(now - MINUTE),
    value: Float64Array.from(series.keys()),
  };
  await new PointStore(ctx.db).write([entry]);
  api = await start(ctx.config({ PULSE_ROLE: 'api', WARM_INTERVAL: '1h' }), ctx.log);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await ctx?.cleanup();
});

describe('pages', () => {
  it('walks 2,500 series at limit 1000 in exactly 3 pages, each once, in (metric_name, id) order', async () => {
    const pages = await walk('', 1_000);
    expect(pages.map((p) => p.series.length)).toEqual([1_000, 1_000, 500]);
    expect(pages.map((p) => p.next_cursor === null)).toEqual([false, false, true]);
    const seen = pages.flatMap((p) => p.series);
    expect(new Set(seen.map((s) => s.id)).size).toBe(SERIES);
    const all = await expected('true');
    expect(all).toHaveLength(SERIES);
    expect(seen).toEqual(all);
    // Each row has exactly the documented fields.
    expect(Object.keys(seen[0] as Row).sort()).toEqual(
      ['id', 'instance_id', 'metric_name', 'source_agent_id', 'tags'].sort(),
    );
    // Not in id order: the order is the API's, not the table's.
    expect(seen.map((s) => s.id)).not.toEqual([...seen.map((s) => s.id)].sort((a, b) => a - b));
  });

  it('defaults to 1000 a page; the last full page of an exact multiple says there is no more', async () => {
    const first = await page('/api/v1/series');
    expect(first.series).toHaveLength(1_000);
    expect(first.next_cursor).not.toBeNull();
    // 500 series of cpu at limit 250: two pages, the second without a cursor.
    const pages = await walk('metric_name=cpu', 250);
    expect(pages.map((p) => [p.series.length, p.next_cursor === null])).toEqual([
      [250, false],
      [250, true],
    ]);
    const big = await page('/api/v1/series?limit=10000');
    expect(big.series).toHaveLength(SERIES);
    expect(big.next_cursor).toBeNull();
  });
});

describe('filters: exactly the rows PostgreSQL finds for the same predicate', () => {
  it.each<[string, string, string, unknown[]]>([
    ['metric_name', 'metric_name=net.rx', 'metric_name = $1', ['net.rx']],
    ['metric_name with a colon', 'metric_name=app:req', 'metric_name = $1', ['app:req']],
    ['source_agent_id', 'source_agent_id=agent-2', 'source_agent_id = $1', ['agent-2']],
    ['instance_id', 'instance_id=inst-3', 'instance_id = $1', ['inst-3']],
    ['one tag', 'tag.host=h5', `tags @> '{"host":"h5"}'`, []],
    ['two tags', 'tag.host=h4&tag.region=eu', `tags @> '{"host":"h4","region":"eu"}'`, []],
    [
      'metric, agent, instance and a tag',
      'metric_name=mem&source_agent_id=agent-1&instance_id=inst-2&tag.region=us',
      `metric_name = 'mem' AND source_agent_id = 'agent-1' AND instance_id = 'inst-2' AND tags @> '{"region":"us"}'`,
      [],
    ],
    ['a metric nobody stores', 'metric_name=never_seen', 'false', []],
    ['a tag value nobody has', 'tag.host=h99', 'false', []],
  ])('%s', async (_what, query, where, params) => {
    const want = await expected(where, params);
    // A small limit, so every filter is walked over several pages where it has the rows.
    const pages = await walk(query, 97);
    const got = pages.flatMap((p) => p.series);
    expect(got).toEqual(want);
    expect(pages).toHaveLength(Math.max(1, Math.ceil(want.length / 97)));
    if (where !== 'false') expect(want.length).toBeGreaterThan(0);
  });
});

describe('the cache', () => {
  it('caches the unfiltered first page and one metric’s first page, nothing else', async () => {
    const before = (await cacheKeys()).filter((k) => k.startsWith('series'));
    const first = await get('/api/v1/series');
    const firstBody = (await first.json()) as Page;
    expect(firstBody.served_from).toMatch(/^(computed|l1|l2)$/);
    expect(first.headers.get('etag')).toMatch(/^"[\w-]+"$/);
    const again = await page('/api/v1/series?limit=1000');
    expect(again.served_from).toBe('l1');
    expect(again.series).toEqual(firstBody.series);
    const cpu = await page('/api/v1/series?metric_name=cpu');
    expect(cpu.series.every((s) => s.metric_name === 'cpu')).toBe(true);
    expect((await page('/api/v1/series?metric_name=cpu')).served_from).toBe('l1');
    // Pages after the first, other limits, other filters and unknown metrics: not cached.
    for (const path of [
      `/api/v1/series?cursor=${firstBody.next_cursor}`,
      '/api/v1/series?limit=10',
      '/api/v1/series?tag.host=h1',
      '/api/v1/series?source_agent_id=agent-1',
      '/api/v1/series?metric_name=cpu&tag.host=h1',
      '/api/v1/series?metric_name=never_seen_either',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('cache-control'), path).toBe('no-store');
      expect(((await res.json()) as Page).served_from, path).toBeUndefined();
    }
    await new Promise((r) => setTimeout(r, 100));
    const after = (await cacheKeys()).filter((k) => k.startsWith('series'));
    expect(after.filter((k) => !before.includes(k)).sort()).toEqual(
      ['series:first', 'series:first:cpu'].filter((k) => !before.includes(k)),
    );
  });
});

describe('GET /api/v1/metrics', () => {
  it('lists every metric with its number of series, as the series table counts them', async () => {
    const res = await get('/api/v1/metrics');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metrics: { metric_name: string; series: number }[] };
    const want = await ctx.db.many<{ metric_name: string; series: number }>(
      'SELECT metric_name, count(*)::int AS series FROM series GROUP BY 1 ORDER BY 1',
    );
    expect(body.metrics).toEqual(want);
    expect(body.metrics.reduce((n, m) => n + m.series, 0)).toBe(SERIES);
  });

  it('takes no parameters', async () => {
    const res = await get('/api/v1/metrics?limit=5');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      errors: [{ field: 'limit', reason: 'is not a known parameter' }],
    });
  });
});

describe('bad parameters: 400 problem+json naming the field and why, nothing changed', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  /** A real cursor (the unfiltered first page's) with one character changed. */
  async function tampered(): Promise<string> {
    const real = (await page('/api/v1/series?limit=5')).next_cursor as string;
    const [name, id, sum] = JSON.parse(Buffer.from(real, 'base64url').toString()) as [
      string,
      number,
      string,
    ];
    return b64([name, id + 1, sum]);
  }
  const realCursor = async () => (await page('/api/v1/series?limit=5')).next_cursor as string;

  it.each<[string, string | (() => Promise<string> | string), string, RegExp]>([
    ['limit 0', 'limit=0', 'limit', /whole number from 1 to 10000/],
    ['limit 10001', 'limit=10001', 'limit', /whole number from 1 to 10000/],
    ['limit abc', 'limit=abc', 'limit', /whole number from 1 to 10000/],
    ['limit 1.5', 'limit=1.5', 'limit', /whole number/],
    ['limit -1', 'limit=-1', 'limit', /whole number/],
    ['limit 1e3', 'limit=1e3', 'limit', /whole number/],
    ['limit empty', 'limit=', 'limit', /whole number/],
    ['limit twice', 'limit=1&limit=2', 'limit', /given once/],
    ['cursor garbage', 'cursor=%21%21not-base64%21%21', 'cursor', /not a cursor this API gave out/],
    [
      'cursor of JSON that is no position',
      () => `cursor=${b64({ id: 5 })}`,
      'cursor',
      /not a cursor/,
    ],
    [
      'cursor not JSON',
      () => `cursor=${Buffer.from('hello').toString('base64url')}`,
      'cursor',
      /not a cursor/,
    ],
    [
      'cursor with a bad metric name',
      () => `cursor=${b64(['a b', 1, 'x'])}`,
      'cursor',
      /not a cursor/,
    ],
    ['cursor with id 0', () => `cursor=${b64(['cpu', 0, 'x'])}`, 'cursor', /not a cursor/],
    ['cursor of 600 characters', `cursor=${'A'.repeat(600)}`, 'cursor', /not a cursor/],
    ['cursor empty', 'cursor=', 'cursor', /not a cursor/],
    ['cursor tampered', async () => `cursor=${await tampered()}`, 'cursor', /was altered/],
    [
      'cursor used with other filters',
      async () => `metric_name=cpu&cursor=${await realCursor()}`,
      'cursor',
      /given out for other filters/,
    ],
    ['an unknown parameter', 'offset=10', 'offset', /not a known parameter/],
    ['page is not a parameter', 'page=2', 'page', /not a known parameter/],
    ['metric_name with a space', 'metric_name=a%20b', 'metric_name', /1 to 100 characters/],
    ['metric_name of 101 characters', `metric_name=${'m'.repeat(101)}`, 'metric_name', /1 to 100/],
    ['metric_name empty', 'metric_name=', 'metric_name', /1 to 100/],
    ['source_agent_id empty', 'source_agent_id=', 'source_agent_id', /1 to 100 characters/],
    ['instance_id of 101 characters', `instance_id=${'i'.repeat(101)}`, 'instance_id', /1 to 100/],
    ['tag. without a key', 'tag.=x', 'tag.', /must name a tag/],
    [
      'tag key of 101 characters',
      `tag.${'k'.repeat(101)}=x`,
      `tag.${'k'.repeat(101)}`,
      /must name a tag/,
    ],
    ['tag key with a space', 'tag.a%20b=x', 'tag.a b', /must name a tag/],
    [
      'tag value of 201 characters',
      `tag.host=${'v'.repeat(201)}`,
      'tag.host',
      /at most 200 characters/,
    ],
    ['a tag given twice', 'tag.host=a&tag.host=b', 'tag.host', /given once/],
    [
      '33 tag filters',
      Array.from({ length: 33 }, (_, i) => `tag.k${i}=v`).join('&'),
      'tag',
      /at most 32 tag filters/,
    ],
  ])('%s', async (_what, query, field, reason) => {
    const q = typeof query === 'string' ? query : await query();
    const seriesBefore = await ctx.db.one<{ n: number; max: number }>(
      'SELECT count(*)::int AS n, max(id)::int AS max FROM series',
    );
    const keysBefore = await cacheKeys();
    const res = await get(`/api/v1/series?${q}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = (await res.json()) as {
      title: string;
      status: number;
      detail: string;
      errors: { field: string; reason: string; pointer: string }[];
    };
    expect(body).toMatchObject({ title: 'Bad Request', status: 400 });
    expect(body.errors[0]).toMatchObject({ field, pointer: `?${field}` });
    expect(body.errors[0]?.reason).toMatch(reason);
    expect(body.detail).toBe(`query parameter ${field} ${body.errors[0]?.reason}`);
    expect(
      await ctx.db.one<{ n: number; max: number }>(
        'SELECT count(*)::int AS n, max(id)::int AS max FROM series',
      ),
    ).toEqual(seriesBefore);
    expect(await cacheKeys()).toEqual(keysBefore);
  });
});
