// Keeps the daily partitions of `points` ahead of time. Points for a day without a partition
// still land (in points_default), so this is about speed and retention, never about loss.
import type { Db } from '../infra/db.js';
import { sql } from './queries.js';
import { DAY } from '../infra/time.js';

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Creates the partitions from yesterday to `daysAhead` days ahead; returns how many were new. */
export async function ensurePartitions(db: Db, now = Date.now(), daysAhead = 7): Promise<number> {
  const row = await db.one<{ created: number }>(sql.pointsPartitionsEnsure, [
    utcDay(now - DAY),
    utcDay(now + daysAhead * DAY),
  ]);
  return row.created;
}
