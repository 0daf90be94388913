// Everything one run of the API benchmark measured, for its goals, tables and results files.
import type { WarmResult } from '../../../src/jobs/warm.js';
import type { LiveFigures } from '../api-live.js';
import type { FillFigures } from '../fleet.js';
import type { LoadRuns, UnloadedRuns } from './load.js';
import type { MissFigures } from './misses.js';
import type { Options } from './options.js';
import type { PlanFigures } from './plan-sql.js';
import type { ScaleFigures } from './scale.js';
import type { WarmAnswers } from './warm.js';

export interface ApiFigures {
  opts: Options;
  versions: { postgres: string; redis: string; autocannon: string };
  filled: FillFigures;
  warmed: WarmResult;
  answers: WarmAnswers;
  load: LoadRuns;
  unloaded: UnloadedRuns;
  plan: PlanFigures;
  miss: MissFigures;
  apiExit: number | null;
  live: LiveFigures | null;
  scale: ScaleFigures | null;
}

/** The ratios the goals and tables are stated in. */
export interface Ratios {
  throughput: number;
  p99: number;
  /** The plan's SQL against the warm summary at 1 connection, and under load. */
  rawSql: number;
  rawSqlLoaded: number;
  planOverMiss: number;
}

export function ratiosOf(f: ApiFigures): Ratios {
  const { load, unloaded, plan } = f;
  return {
    throughput: load.summaryApi.reqPerSec / load.summaryBaseline.reqPerSec,
    p99: load.summaryApi.latency.p99 / load.summaryBaseline.latency.p99,
    rawSql: plan.medianMs / unloaded.summaryApi.latency.p50,
    rawSqlLoaded: plan.medianMs / load.summaryApi.latency.p50,
    planOverMiss: plan.medianMs / f.miss.summary24h.medianMs,
  };
}
