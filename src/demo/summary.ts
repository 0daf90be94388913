// What the demo prints when its data is written.
import { formatDuration } from '../infra/duration.js';
import { HOUR } from '../infra/time.js';
import type { SeriesRef } from './plan.js';
import type { DemoResult } from './run.js';

function describeSeries(s: SeriesRef): string {
  const tags = Object.entries(s.tags)
    .filter(([k]) => k === 'hostname' || k === 'role')
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${s.metric}{${tags}}`;
}

export function summary(r: DemoResult): string {
  const int = (n: number) => n.toLocaleString('en-US');
  const ago = (r.to - r.regression.at) / HOUR;
  return [
    `demo data: ${new Date(r.from).toISOString()} → ${new Date(r.to).toISOString()} every ${formatDuration(r.stepMs)}, hosts ${r.hosts.join(', ')}`,
    `  series      ${int(r.series)}`,
    `  points      ${int(r.points)} (${int(r.inserted)} new, ${int(r.duplicates)} duplicates already stored)`,
    `  rollup_1h   ${int(r.rollup1h.rows)} rows over ${int(r.rollup1h.hours)} closed hours`,
    `  elapsed     ${(r.elapsedMs / 1_000).toFixed(1)} s`,
    `  regression  on ${r.regression.hostname} from ${new Date(r.regression.at).toISOString()} (${ago.toFixed(1)} h before the last point): ×${r.regression.factor}`,
    ...r.regression.series.map((s) => `              ${describeSeries(s)}`),
  ].join('\n');
}
