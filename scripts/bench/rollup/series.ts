// Synthetic series and data: 10 metrics × N hosts, each metric with its own value distribution
// (long-tailed latencies, clamped percentages, zero-heavy GC pauses, near-constant sizes), so the
// sketches see the shapes real metrics have.
import {
  decodeEntry,
  encodeEntry,
  ENTRY_POINTS,
  type DecodedEntry,
} from '../../../src/metrics/buffer.js';
import { seriesDef, type SeriesDef } from '../../../src/metrics/series.js';
import { type Dataset, pointsOf, prng } from '../data.js';

export type Draw = (rand: () => number, level: number) => number;

export function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const METRICS: { name: string; draw: Draw }[] = [
  {
    name: 'cpu_usage_percentage',
    draw: (r, l) => Math.min(100, Math.max(0, 35 * l + 15 * normal(r))),
  },
  { name: 'memory_usage_bytes', draw: (r, l) => 4e9 * l * (1 + 0.01 * normal(r)) },
  { name: 'heap_used_bytes', draw: (r, l) => 5e8 * l * Math.exp(0.2 * normal(r)) },
  { name: 'heap_total_bytes', draw: (r, l) => 1e9 * l * (1 + 0.002 * normal(r)) },
  { name: 'event_loop_lag_ms', draw: (r, l) => 2 * l * Math.exp(0.8 * normal(r)) },
  { name: 'gc_pause_ms', draw: (r, l) => (r() < 0.4 ? 0 : 4 * l * Math.exp(normal(r))) },
  { name: 'http_request_duration_ms', draw: (r, l) => 80 * l * Math.exp(0.7 * normal(r)) },
  { name: 'http_requests_per_second', draw: (r, l) => Math.max(0, 500 * l + 80 * normal(r)) },
  {
    name: 'active_handles_count',
    draw: (r, l) => Math.max(0, Math.round(150 * l + 20 * normal(r))),
  },
  { name: 'disk_io_bytes_per_second', draw: (r, l) => 1e6 * l * Math.exp(1.5 * normal(r)) },
];

export interface SeriesSpec {
  def: SeriesDef;
  draw: Draw;
  /** Per-series scale of the values, 0.5–1.5. */
  level: number;
  /** Offset inside each interval at which this series reports, in [0, 1) of the interval. */
  phase: number;
  host: string;
}

export function makeSeries(count: number, seed: number): SeriesSpec[] {
  const rand = prng(seed);
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(rand() * 16).toString(16)).join('');
  const hosts = Math.ceil(count / METRICS.length);
  const out: SeriesSpec[] = [];
  for (let h = 0; h < hosts; h++) {
    const host = `app-${String(h + 1).padStart(4, '0')}.pulse.internal`;
    const tags = {
      hostname: host,
      environment: h % 4 === 3 ? 'staging' : 'production',
      instance_id: `i-0${hex(16)}`,
    };
    for (const m of METRICS) {
      if (out.length === count) break;
      out.push({
        def: seriesDef({ metricName: m.name, sourceAgentId: null, instanceId: null, tags }),
        draw: m.draw,
        level: 0.5 + rand(),
        phase: rand(),
        host,
      });
    }
  }
  return out;
}

/**
 * `steps` × series points in arrival order: step k carries one point of every series, at
 * start + k·interval + the series' phase (so timestamps are unique within a series).
 */
export function timeline(
  specs: SeriesSpec[],
  seed: number,
  startMs: number,
  intervalMs: number,
  steps: number,
): Dataset {
  const rand = prng(seed);
  const s = specs.length;
  const n = steps * s;
  const data: Dataset = {
    n,
    series: specs.map((x) => x.def),
    seriesIndex: new Uint16Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  const phase = specs.map((x) => Math.floor(x.phase * intervalMs));
  let i = 0;
  for (let k = 0; k < steps; k++) {
    const base = startMs + k * intervalMs;
    for (let j = 0; j < s; j++) {
      const spec = specs[j] as SeriesSpec;
      data.seriesIndex[i] = j;
      data.ts[i] = base + (phase[j] as number);
      data.value[i] = spec.draw(rand, spec.level);
      i++;
    }
  }
  return data;
}

/** Points [from, to) as the flush sees them: buffer entries of ENTRY_POINTS, encoded and decoded. */
export function decodedEntries(data: Dataset, from = 0, to = data.n): DecodedEntry[] {
  const out: DecodedEntry[] = [];
  for (let i = from; i < to; i += ENTRY_POINTS) {
    const e = encodeEntry(pointsOf(data, i, Math.min(to, i + ENTRY_POINTS)));
    out.push(decodeEntry(e));
  }
  return out;
}

export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
