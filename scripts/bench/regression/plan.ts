// The baseline of the regression benchmark: the plan's regression SQL over the raw points.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { progress, type Resources } from '../env.js';
import { timed, type Timed } from './timed.js';

// The plan's regression query, on the raw rows (its table shape is the performance_metrics_ts
// view) instead of its continuous aggregate, with the run's end as $1 instead of NOW().
const PLAN_REGRESSION_SQL = `WITH baseline_metrics AS (
  SELECT metric_name,
         AVG(metric_value) AS baseline_avg,
         PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY metric_value) AS baseline_p95
  FROM performance_metrics_ts
  WHERE "timestamp" BETWEEN $1::timestamptz - INTERVAL '7 days' AND $1::timestamptz - INTERVAL '1 day'
  GROUP BY metric_name
), recent_metrics AS (
  SELECT metric_name,
         AVG(metric_value) AS recent_avg,
         PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY metric_value) AS recent_p95
  FROM performance_metrics_ts
  WHERE "timestamp" >= $1::timestamptz - INTERVAL '1 day'
  GROUP BY metric_name
)
SELECT rm.metric_name, bm.baseline_avg, rm.recent_avg,
       ((rm.recent_avg - bm.baseline_avg) / NULLIF(bm.baseline_avg, 0) * 100) AS avg_change_percent,
       ((rm.recent_p95 - bm.baseline_p95) / NULLIF(bm.baseline_p95, 0) * 100) AS p95_change_percent
FROM recent_metrics rm
JOIN baseline_metrics bm ON rm.metric_name = bm.metric_name
ORDER BY avg_change_percent DESC`;

/** The plan's SQL `runs` times (after one untimed if asked), and the points of its windows. */
export async function planRuns(
  dbUrl: string,
  res: Resources,
  endMs: number,
  runs: number,
  untimed: boolean,
  label: string,
): Promise<Timed & { rows: number }> {
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'pulse-bench-plan' });
  res.clients.push(client);
  await client.connect();
  try {
    progress(`${label}: the plan's SQL, ${untimed ? 'one untimed then ' : ''}${runs} timed`);
    const end = new Date(endMs);
    if (untimed) await client.query(PLAN_REGRESSION_SQL, [end]);
    const runsMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await client.query(PLAN_REGRESSION_SQL, [end]);
      runsMs.push(performance.now() - t);
    }
    const scanned = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM points WHERE ts >= $1::timestamptz - interval '7 days'`,
      [end],
    );
    return { ...timed(runsMs), rows: scanned.rows[0]?.n ?? 0 };
  } finally {
    await client.end();
    res.clients = res.clients.filter((c) => c !== client);
  }
}
