// The plan's summary SQL over the raw points: what the API's summary would cost if it were
// computed on each request.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { progress, type Resources } from '../env.js';
import { int } from '../report.js';
import { type Cores, cpuCores, type CpuRoles, cpuSnapshot } from './cpu.js';
import { ms, type Timed, timed } from './stats.js';

// The plan's summary, computed on request from the raw rows (its table shape is the
// performance_metrics_ts view: points joined to series).
export const PLAN_SUMMARY_SQL = `SELECT metric_name,
       AVG(metric_value) AS avg_value,
       MAX(metric_value) AS max_value,
       MIN(metric_value) AS min_value,
       PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY metric_value) AS p95_value
FROM performance_metrics_ts
WHERE "timestamp" >= NOW() - INTERVAL '24 hours'
GROUP BY metric_name
ORDER BY metric_name`;

export type PlanFigures = Timed & { metrics: number; rowsScanned: number; cpu: Cores };

/** The plan's SQL on one connection: one untimed run, then `runs` timed. */
export async function planSql(
  dbUrl: string,
  res: Resources,
  runs: number,
  roles: CpuRoles,
): Promise<PlanFigures> {
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'pulse-bench-plan' });
  res.clients.push(client);
  await client.connect();
  try {
    const scanned = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM points WHERE ts >= now() - interval '24 hours'`,
    );
    progress(`plan's SQL: one untimed run, then ${runs} timed`);
    await client.query(PLAN_SUMMARY_SQL);
    const runsMs: number[] = [];
    let metrics = 0;
    const cpu0 = cpuSnapshot(roles);
    const started = performance.now();
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const r = await client.query(PLAN_SUMMARY_SQL);
      runsMs.push(performance.now() - t);
      metrics = r.rowCount ?? 0;
    }
    const cpu = cpuCores(cpu0, cpuSnapshot(roles), performance.now() - started);
    const out = { ...timed(runsMs), metrics, rowsScanned: scanned.rows[0]?.n ?? 0, cpu };
    progress(`plan's SQL: median ${ms(out.medianMs)} ms over ${int(out.rowsScanned)} raw rows`);
    return out;
  } finally {
    await client.end();
    res.clients = res.clients.filter((c) => c !== client);
  }
}
