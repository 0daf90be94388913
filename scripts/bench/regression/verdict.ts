// What a regression run found, against what the fleet planted: each planted series CRITICAL,
// nothing else WARNING or CRITICAL.
import type { RegressionRun } from '../../../src/jobs/regression.js';
import { fixed } from '../report.js';
import type { Planted } from './fleet.js';

export interface Verdict {
  plantedFound: number;
  planted: number;
  /** WARNING or CRITICAL entries that are not a planted series (nor the metric holding one). */
  falseAlarms: string[];
  analysed: number;
  listed: number;
  critical: number;
  warning: number;
}

export function verdict(run: RegressionRun, planted: Planted[]): Verdict {
  const flagged = run.entries.filter((e) => e.regression_severity !== 'NORMAL');
  const isPlanted = (hostname: string | undefined, metric: string) =>
    planted.some((p) => p.metric === metric && p.hostname === hostname);
  const plantedFound = planted.filter((p) =>
    flagged.some(
      (e) =>
        e.regression_severity === 'CRITICAL' &&
        e.metric_name === p.metric &&
        e.series?.tags.hostname === p.hostname,
    ),
  ).length;
  const falseAlarms = flagged
    .filter((e) =>
      e.series === null
        ? !planted.some((p) => p.metric === e.metric_name)
        : !isPlanted(e.series.tags.hostname, e.metric_name),
    )
    .map(
      (e) =>
        `${e.regression_severity} ${e.metric_name} ${e.series?.tags.hostname ?? '(all)'} ${fixed(e.shift_percent ?? 0, 1)} %`,
    );
  return {
    plantedFound,
    planted: planted.length,
    falseAlarms,
    analysed: run.analysed,
    listed: run.listed,
    critical: run.counts.CRITICAL,
    warning: run.counts.WARNING,
  };
}
