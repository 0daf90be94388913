// The benchmarks' synthetic data set: series, points, request bodies and COPY chunks, the same
// on every machine for a seed.
import { binaryCopyChunks } from '../../src/metrics/copy-binary.js';
import type { Point } from '../../src/metrics/point.js';
import { seriesDef, type SeriesDef, type Tags } from '../../src/metrics/series.js';

/** Deterministic PRNG (mulberry32): the same seed gives the same data set on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const METRICS: { name: string; scale: number }[] = [
  { name: 'cpu_usage_percentage', scale: 100 },
  { name: 'memory_usage_bytes', scale: 8e9 },
  { name: 'heap_used_bytes', scale: 2e9 },
  { name: 'heap_total_bytes', scale: 4e9 },
  { name: 'event_loop_lag_ms', scale: 50 },
  { name: 'gc_pause_ms', scale: 20 },
  { name: 'http_request_duration_ms', scale: 500 },
  { name: 'http_requests_per_second', scale: 2_000 },
  { name: 'active_handles_count', scale: 300 },
  { name: 'disk_io_bytes_per_second', scale: 5e7 },
];
const HOSTS = 20;

/** N points over `seriesCount` series, held column-wise so a million of them stay small. */
export interface Dataset {
  n: number;
  series: SeriesDef[];
  /** Index into `series` of each point. */
  seriesIndex: Uint16Array;
  /** Epoch milliseconds; unique within a series. */
  ts: Float64Array;
  value: Float64Array;
}

/**
 * ~200 series (10 metrics × 20 hosts; tags hostname, environment, instance_id) and N points
 * spread over the `spanMs` before `now`, in arrival order: each timestamp step carries one point
 * of every series. Values are full-precision random doubles (the longest COPY text they can give).
 */
export function generateDataset(n: number, seed: number, now: number, spanMs: number): Dataset {
  const rand = prng(seed);
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(rand() * 16).toString(16)).join('');
  const keys: { metricName: string; tags: Tags; scale: number }[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const tags: Tags = {
      hostname: `web-${String(h + 1).padStart(2, '0')}.pulse.internal`,
      environment: h % 4 === 3 ? 'staging' : 'production',
      instance_id: `i-0${hex(16)}`,
    };
    for (const m of METRICS) keys.push({ metricName: m.name, tags, scale: m.scale });
  }
  const seriesCount = Math.min(keys.length, n);
  const series = keys
    .slice(0, seriesCount)
    .map((k) =>
      seriesDef({ metricName: k.metricName, sourceAgentId: null, instanceId: null, tags: k.tags }),
    );
  const perSeries = Math.ceil(n / seriesCount);
  const step = Math.floor(spanMs / perSeries);
  if (step < 1) throw new Error(`${n} points do not fit ${spanMs} ms at 1 ms per series step`);
  // Each series reports at its own phase inside the step, as independent agents would.
  const phase = Array.from({ length: seriesCount }, () => Math.floor(rand() * step));
  const start = now - perSeries * step;
  const data: Dataset = {
    n,
    series,
    seriesIndex: new Uint16Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const s = i % seriesCount;
    const k = Math.floor(i / seriesCount);
    data.seriesIndex[i] = s;
    data.ts[i] = start + k * step + (phase[s] as number);
    // Two draws make a double with all 53 bits random.
    const unit = (Math.floor(rand() * 2 ** 21) * 2 ** 32 + Math.floor(rand() * 2 ** 32)) / 2 ** 53;
    data.value[i] = unit * (keys[s] as { scale: number }).scale;
  }
  return data;
}

/** Points [from, to) as the Point objects PointBuffer.append takes. */
export function pointsOf(data: Dataset, from: number, to: number): Point[] {
  const out: Point[] = new Array<Point>(to - from);
  for (let i = from; i < to; i++) {
    const s = data.series[data.seriesIndex[i] as number] as SeriesDef;
    out[i - from] = {
      metricName: s.metricName,
      value: data.value[i] as number,
      ts: data.ts[i] as number,
      tags: s.tags,
      sourceAgentId: null,
      instanceId: null,
    };
  }
  return out;
}

/** Points [from, to) as the body of POST /api/v1/metrics (epoch-millisecond timestamps). */
export function requestBody(data: Dataset, from: number, to: number): string {
  const points: unknown[] = new Array<unknown>(to - from);
  for (let i = from; i < to; i++) {
    const s = data.series[data.seriesIndex[i] as number] as SeriesDef;
    points[i - from] = {
      metric_name: s.metricName,
      value: data.value[i],
      timestamp: data.ts[i],
      tags: s.tags,
    };
  }
  return JSON.stringify({ points });
}

/**
 * One binary COPY stream of (series_id, ts, value) for points [from, to), encoded as PointStore
 * encodes them: header in the first chunk, trailer in the last.
 */
export function copyChunks(
  data: Dataset,
  ids: number[],
  rowsPerChunk: number,
  from = 0,
  to = data.n,
): Buffer[] {
  const seriesId = new Float64Array(to - from);
  for (let i = from; i < to; i++) seriesId[i - from] = ids[data.seriesIndex[i] as number] as number;
  const rows = { seriesId, ts: data.ts.subarray(from, to), value: data.value.subarray(from, to) };
  return [...binaryCopyChunks(rows, rowsPerChunk)];
}
