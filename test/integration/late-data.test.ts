// Late data never wipes history. rollup_1h (and the regression slots) of an hour are rebuilt
// from its rollup_1m rows, which are kept ROLLUP_1M_RETENTION (30 d); a point older than that
// used to be accepted up to RAW_RETENTION (90 d), and the rebuild of its hour replaced a whole
// hour of history by that one point. Such points are now refused, at ingest and at import,
// with the reason, and the stored hour keeps its history.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../src/jobs/aggregate.js';
import { start, type Running } from '../../src/main.js';
import type { DecodedEntry } from '../../src/metrics/buffer.js';
import { sql } from '../../src/metrics/queries.js';
import { seriesDef } from '../../src/metrics/series.js';
import { PointStore } from '../../src/metrics/store.js';
import { runImport } from '../../src/import/run.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { MINUTE, HOUR, DAY } from '../../src/infra/time.js';

const TOKEN = 'late-data-token-0123456789';
let ctx: TestContext;
let app: Running;
let dir: string;
/** An hour 40 days back, stored with 60 points of 10 before the limit came in. */
let hour: number;

async function hourRollup(): Promise<{ count: number; sum: number }> {
  return ctx.db.one(
    `SELECT h.count::int AS count, h.sum
     FROM rollup_1h h JOIN series s ON s.id = h.series_id
     WHERE s.metric_name = 'late_metric' AND h.bucket = $1`,
    [new Date(hour)],
  );
}

beforeAll(async () => {
  ctx = await createTestContext('late-data');
  dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-late-'));
  hour = Math.floor((Date.now() - 40 * DAY) / HOUR) * HOUR;
  // The history, written under the store (as an installation with a longer retention had it).
  const def = seriesDef({
    metricName: 'late_metric',
    sourceAgentId: null,
    instanceId: null,
    tags: { host: 'h1' },
  });
  const entry: DecodedEntry = {
    series: [def],
    seriesIndex: new Uint32Array(60),
    ts: Float64Array.from({ length: 60 }, (_, i) => hour + i * MINUTE),
    value: new Float64Array(60).fill(10),
  };
  const day = new Date(hour).toISOString().slice(0, 10);
  await ctx.db.one(sql.pointsPartitionsEnsure, [day, day]);
  await new PointStore(ctx.db).write([entry]);
  for (;;)
    if ((await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' })).hours === 0) break;
  app = await start(ctx.config({ INGEST_TOKEN: TOKEN, FLUSH_INTERVAL: '200ms' }), ctx.log);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await ctx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('points older than the rollups they would join', () => {
  it('the stored hour holds its 60 points', async () => {
    expect(await hourRollup()).toEqual({ count: 60, sum: 600 });
  });

  it('ingest refuses a point 40 days old with the field and the limit, and stores nothing', async () => {
    const res = await fetch(`http://127.0.0.1:${app.port}/api/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        points: [
          { metric_name: 'late_metric', value: 10, timestamp: hour + 30_000, tags: { host: 'h1' } },
        ],
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      errors: { index: number; field: string; reason: string }[];
    };
    expect(body.errors).toEqual([
      {
        index: 0,
        field: 'timestamp',
        pointer: '/points/0/timestamp',
        reason: expect.stringMatching(
          /^is older than the 29 d pulse accepts \(RAW_RETENTION, and ROLLUP_1M_RETENTION less a margin/,
        ) as string,
      },
    ]);
    await aggregate({ db: ctx.db, log: ctx.log }, { reason: 'manual' });
    expect(await hourRollup()).toEqual({ count: 60, sum: 600 });
    const raw = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM performance_metrics_ts WHERE metric_name = 'late_metric'`,
    );
    expect(raw.n).toBe(60);
  });

  it('import refuses rows 35 to 60 days old, says which and why, and keeps the history', async () => {
    const file = path.join(dir, 'late.ndjson');
    const ages = [35, 40, 45, 60, 2];
    await writeFile(
      file,
      ages
        .map((d) =>
          JSON.stringify({
            metric_name: 'late_metric',
            value: 99,
            timestamp: new Date(d === 40 ? hour + 90_000 : Date.now() - d * DAY).toISOString(),
            tags: { host: 'h1' },
          }),
        )
        .join('\n') + '\n',
    );
    const lines: string[] = [];
    const result = await runImport({
      file,
      db: ctx.db,
      log: ctx.log,
      acceptMs: ctx.config().retention.acceptMs,
      stderr: { write: (s: string) => lines.push(s), isTTY: false },
      progress: 'none',
    });
    expect(result).toMatchObject({ rowsRead: 5, imported: 1, rejected: 4, exitCode: 2 });
    expect(result.rejectedRows.map((r) => r.line)).toEqual([1, 2, 3, 4]);
    for (const r of result.rejectedRows)
      expect(r.errors).toEqual([
        {
          field: 'timestamp',
          reason: expect.stringMatching(/^is older than the 29 d pulse accepts/) as string,
        },
      ]);
    expect(await hourRollup()).toEqual({ count: 60, sum: 600 });
  });
});
