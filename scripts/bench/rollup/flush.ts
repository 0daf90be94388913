// Stage 1 of the rollup benchmark: the flush with rollup_1m against raw COPY of the same rows.
import type { Dataset } from '../data.js';
import { every, progress } from '../env.js';
import { type CopyStageFigures, stageCopy as runCopyStage } from '../copy-stage.js';
import { type FlushRun, stageFlush as runFlushStage } from '../flush-stage.js';
import { int } from '../report.js';
import { countRows, type Ctx, emptyTables, seconds, snapshot, timedStore } from './context.js';

export interface FlushFigures extends FlushRun {
  points: number;
  ratio: number;
  /** Inside write: the rollup_1m append and dirty-hour mark statements; the COMMIT. */
  rollupSqlMs: number;
  commitMs: number;
  rollupRows: number;
  /** Samples of the flush's active connections, and how many of them waited, by wait event. */
  busySamples: number;
  waits: Record<string, number>;
}

export function stageCopy(ctx: Ctx, data: Dataset): Promise<CopyStageFigures> {
  return runCopyStage(
    {
      db: ctx.db,
      dbUrl: ctx.dbUrl,
      ids: ctx.ids,
      label: 'flush baseline',
      snapshot: () => snapshot(ctx),
      count: () => countRows(ctx.db, 'points'),
      empty: () => emptyTables(ctx.db),
      res: ctx.res,
    },
    data,
  );
}

interface WaitSamples {
  waits: Map<string, number>;
  busySamples: number;
}

/**
 * What the flush's connections are doing: a busy one waiting on a lock (a rollup_1m row the
 * other flush holds, say) is time neither core spends on the data.
 */
function sampleWaits(ctx: Ctx, into: WaitSamples): () => Promise<void> {
  return every(
    50,
    async () => {
      const { rows } = await ctx.admin.query<{ wait: string | null }>(
        `SELECT CASE WHEN wait_event_type IN ('Lock', 'LWLock', 'IO', 'IPC') THEN wait_event_type || ':' || wait_event END AS wait
       FROM pg_stat_activity
       WHERE datname = $1 AND application_name = 'pulse-bench' AND state = 'active' AND pid <> pg_backend_pid()`,
        [ctx.database],
      );
      for (const r of rows) {
        into.busySamples += 1;
        if (r.wait !== null) into.waits.set(r.wait, (into.waits.get(r.wait) ?? 0) + 1);
      }
    },
    'progress',
  );
}

export async function stageFlush(
  ctx: Ctx,
  prefix: string,
  data: Dataset,
  baseline: CopyStageFigures,
): Promise<FlushFigures> {
  const { db } = ctx;
  const timed = timedStore(db);
  const samples: WaitSamples = { waits: new Map(), busySamples: 0 };
  const r = await runFlushStage(
    {
      db,
      redis: ctx.redis,
      prefix,
      store: timed.store,
      log: ctx.log,
      defaults: ctx.flushDefaults,
      warmup: true,
      snapshot: () => snapshot(ctx),
      count: () => countRows(db, 'points'),
      empty: () => emptyTables(db),
      afterWarmup: () => timed.reset(),
      sample: () => sampleWaits(ctx, samples),
    },
    data,
  );
  const rolled = await db.one<{ rows: number; points: number }>(
    'SELECT count(*)::bigint AS rows, coalesce(sum(count), 0)::bigint AS points FROM rollup_1m',
  );
  if (rolled.points !== data.n)
    throw new Error(`rollup_1m counts ${rolled.points} points after the flush, not ${data.n}`);
  await emptyTables(db);
  progress(
    `flush: ${int(data.n)} points in ${seconds(r.ms)} s, ${r.batches} batches, ${int(rolled.rows)} rollup_1m rows`,
  );
  return {
    ...r,
    points: data.n,
    ratio: r.pointsPerSec / baseline.rowsPerSec,
    rollupSqlMs: timed.times.rollupMs,
    commitMs: timed.times.commitMs,
    rollupRows: rolled.rows,
    busySamples: samples.busySamples,
    waits: Object.fromEntries([...samples.waits.entries()].sort((a, b) => b[1] - a[1])),
  };
}
