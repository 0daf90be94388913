// The aggregate job: rebuilds rollup_1h for closed hours that flushes marked dirty (new or
// late points), never rescanning hours nothing touched. Readers take a dirty or still-open
// hour from rollup_1m, so a rollup_1h row is only ever read once it is complete.
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { sql } from '../metrics/queries.js';

export interface AggregatePayload {
  reason: 'schedule' | 'manual';
}

export interface AggregateDeps {
  db: Db;
  log: Logger;
  /** Hours per transaction. */
  batchHours?: number;
  now?: () => number;
}

export interface AggregateResult {
  hours: number;
  rows: number;
}

export async function aggregate(
  deps: AggregateDeps,
  _payload: AggregatePayload,
): Promise<AggregateResult> {
  const result: AggregateResult = { hours: 0, rows: 0 };
  const now = deps.now ?? Date.now;
  for (;;) {
    const done = await deps.db.tx('aggregate', async (t) => {
      const taken = await t.manyOrNone<{ bucket: Date }>(sql.rollupDirtyTake, [
        new Date(now()),
        deps.batchHours ?? 24,
      ]);
      if (taken.length === 0) return 0;
      const built = await t.result(sql.rollup1hBuild, [taken.map((r) => r.bucket)]);
      result.hours += taken.length;
      result.rows += built.rowCount;
      return taken.length;
    });
    if (done === 0) break;
  }
  if (result.hours > 0) deps.log.debug(result, 'rollup_1h rebuilt');
  return result;
}
