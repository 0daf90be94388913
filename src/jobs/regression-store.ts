// Storing a regression run: the run row, open regressions carried across runs (opened, kept,
// closed), and the report's entries, in one transaction; then the dashboard's cached report.
import { cancellableTx } from '../infra/abort.js';
import { pgp } from '../infra/db.js';
import { makeEntry } from '../cache/dashboard-cache.js';
import { cacheName } from '../cache/names.js';
import { regressionView } from '../metrics/dashboard.js';
import { sql } from '../metrics/queries.js';
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import type { DashboardCache } from '../cache/dashboard-cache.js';
import type { Analysis } from '../metrics/regression.js';
import type { Window } from './regression-slots.js';

/** One entry of a report: a unit's analysis, where it is, and the regression it belongs to. */
export interface ReportEntry extends Omit<Analysis, 'listed'> {
  metric_name: string;
  series_id: number | null;
  series: {
    source_agent_id: string | null;
    instance_id: string | null;
    tags: Record<string, string>;
  } | null;
  p95_change_percent: number | null;
  regression_id: number | null;
  first_seen: string | null;
  last_seen: string | null;
  computed_at: string;
}

const reportColumns = new pgp.helpers.ColumnSet(
  [
    { name: 'run_id', cast: 'uuid' },
    { name: 'computed_at', cast: 'timestamptz' },
    'metric_name',
    { name: 'series_id', cast: 'bigint' },
    {
      name: 'series',
      cast: 'jsonb',
      init: (c: { value: unknown }) => (c.value === null ? null : JSON.stringify(c.value)),
    },
    'baseline_avg',
    'recent_avg',
    'avg_change_percent',
    'p95_change_percent',
    'shift_percent',
    'change_absolute',
    'shift_absolute',
    { name: 'change_point', cast: 'timestamptz' },
    'p_value',
    'direction',
    'regression_severity',
    'baseline_zero',
    'seasonality',
    // Infinity (a move off a noiseless baseline) is stored as a float8 infinity.
    { name: 'score', cast: 'float8', init: (c: { value: unknown }) => String(c.value) },
    { name: 'regression_id', cast: 'bigint' },
  ],
  { table: 'regression_reports' },
);

/** Stores the run and its entries, filling each entry's regression id and first/last seen. */
export async function storeRun(
  db: Db,
  signal: AbortSignal | undefined,
  run: { id: string; computedAt: string; window: Window; analysed: number },
  entries: ReportEntry[],
): Promise<void> {
  const w = run.window;
  await cancellableTx(db, signal, 'regression run', async (t) => {
    await t.one(sql.regressionLock);
    await t.none(sql.regressionRunInsert, [
      run.id,
      run.computedAt,
      new Date(w.from),
      new Date(w.split),
      new Date(w.split),
      new Date(w.to),
      run.analysed,
      entries.length,
    ]);
    const open: number[] = [];
    for (const e of entries) {
      if (e.regression_severity === 'NORMAL') continue;
      const g = await t.one<{ id: number; first_seen: Date; last_seen: Date }>(sql.regressionOpen, [
        e.metric_name,
        e.series_id,
        e.regression_severity,
        e.direction,
        run.computedAt,
      ]);
      e.regression_id = g.id;
      e.first_seen = g.first_seen.toISOString();
      e.last_seen = g.last_seen.toISOString();
      open.push(g.id);
    }
    await t.none(sql.regressionClose, [open, run.computedAt]);
    if (entries.length > 0)
      await t.none(
        pgp.helpers.insert(
          entries.map((e) => ({ ...e, run_id: run.id })),
          reportColumns,
        ),
      );
  });
}

/** Replaces the dashboard's cached report (every API process drops its L1 copy). */
export async function refreshCachedReport(
  db: Db,
  log: Logger,
  { cache, ttlMs }: { cache: DashboardCache; ttlMs: number },
): Promise<void> {
  try {
    const view = await regressionView(db);
    await cache.put(cacheName.regressions(), makeEntry(view, ttlMs), { announce: true });
  } catch (err) {
    // The report is stored; the next warm pass shows it.
    log.warn({ err: (err as Error).message }, 'could not refresh the cached report');
  }
}
