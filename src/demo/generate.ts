// Generation of a batch of demo points from the plan, and the ingest rules every point goes
// through.
import type { Config } from '../config.js';
import { validateBatch, type Point } from '../metrics/point.js';
import type { Tags } from '../metrics/series.js';
import type { Spec } from './spec.js';

interface RawPoint {
  metric_name: string;
  value: number;
  timestamp: number;
  tags: Tags;
}

/**
 * The batch's points, one array per spec. Generated in time order (counters walk forward), kept
 * per spec so each array holds one metric at distinct times: validateBatch's repeat check (same
 * series and millisecond) then stays on its fast path instead of comparing full series keys.
 */
export function generate(specs: Spec[], from: number, to: number, stepMs: number): RawPoint[][] {
  const out: RawPoint[][] = specs.map(() => []);
  for (let t = from; t < to; t += stepMs) {
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i] as Spec;
      const value = s.value(t);
      if (value === undefined) continue;
      const tags = (s.pick ? s.variants[s.pick(t)] : s.variants[0]) as Tags;
      (out[i] as RawPoint[]).push({ metric_name: s.metric, value, timestamp: t, tags });
    }
  }
  return out;
}

/** Every point through the ingest rules, as a request of at most INGEST_MAX_POINTS would be. */
export function validate(groups: RawPoint[][], now: number, config: Config): Point[] {
  const points: Point[] = [];
  const max = config.ingest.maxPoints;
  for (const raw of groups) {
    for (let i = 0; i < raw.length; i += max) {
      const checked = validateBatch(
        { points: raw.slice(i, i + max) },
        { now, maxPoints: max, acceptMs: config.retention.acceptMs },
      );
      if (!checked.ok) {
        const e = checked.errors[0];
        const p = raw[i + (e?.index ?? 0)];
        throw new Error(
          `demo data broke the ingest rules (${p?.metric_name} at ${p ? new Date(p.timestamp).toISOString() : '?'}): ${e?.field} ${e?.reason}`,
        );
      }
      for (const p of checked.points) points.push(p);
    }
  }
  return points;
}
