// Helpers for the scripts/bench-*.ts benchmarks: the synthetic data set, CPU accounting from /proc,
// number formatting, the results tables and the RESULTS.md section splice.
// Nothing here touches PostgreSQL or Redis.
import { readdirSync, readFileSync } from 'node:fs';
import { binaryCopyChunks } from '../src/metrics/copy-binary.js';
import type { Point } from '../src/metrics/point.js';
import { seriesDef, type SeriesDef, type Tags } from '../src/metrics/series.js';

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

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fixed = (n: number, digits: number): string => n.toFixed(digits);

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** A plain-text table with columns padded to their widest cell; `right` lists right-aligned columns. */
export function textTable(header: string[], rows: string[][], right: number[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => {
        const w = widths[c] as number;
        return right.includes(c) ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function markdownTable(header: string[], rows: string[][], right: number[] = []): string {
  const esc = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, c) => (right.includes(c) ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * Puts `section` (which starts with its own "## Title" line) into `doc`: in place of the
 * existing section with that title (up to the next "## " heading), or appended at the end.
 */
export function replaceSection(doc: string, title: string, section: string): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  const body = section.trimEnd().split('\n');
  if (start === -1) {
    const head = doc.trimEnd();
    return `${head}${head ? '\n\n' : ''}${body.join('\n')}\n`;
  }
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end === -1) end = lines.length;
  const after = lines.slice(end);
  const out = [...lines.slice(0, start), ...body, ...(after.length > 0 ? ['', ...after] : [])];
  return `${out.join('\n').trimEnd()}\n`;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: who used the cores during a stage. The machine may be shared, and a ratio
// measured while something else ran is not worth much; "other" shows that.

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ) on every common build. */
const TICKS_PER_SECOND = 100;

/**
 * bench: this process; all / api / worker: the pulse process running that role (one all-in-one
 * process, or an api process and a worker process); postgres, redis: the servers, when local.
 */
export const CPU_GROUPS = ['bench', 'all', 'api', 'worker', 'postgres', 'redis', 'other'] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];
export type CpuSnapshot = Map<number, { group: CpuGroup; ticks: number }>;

/** Pids that decide the groups: a process belongs to a group if it is the pid or its child. */
export type CpuRoles = Partial<Record<Exclude<CpuGroup, 'other'>, number>>;

/** CPU ticks used so far by every process, by group; empty where /proc is not available. */
export function cpuSnapshot(roles: CpuRoles): CpuSnapshot {
  return cpuSnapshotOf(CPU_GROUPS, roles);
}

/** Average cores used by each group between two snapshots `ms` apart. */
export function cpuCores(
  before: CpuSnapshot,
  after: CpuSnapshot,
  ms: number,
): Record<CpuGroup, number> {
  return cpuCoresOf(CPU_GROUPS, before, after, ms);
}

/** The same accounting for another set of groups (one of them 'other'). */
export type RolesOf<G extends string> = Partial<Record<Exclude<G, 'other'>, number>>;
export type SnapshotOf<G extends string> = Map<number, { group: G; ticks: number }>;

function groupOf<G extends string>(
  groups: readonly G[],
  pid: number,
  ppid: number,
  roles: RolesOf<G>,
): G {
  const roleGroups = groups.filter((g): g is Exclude<G, 'other'> => g !== 'other');
  // The pid itself first: the pulse processes under test are also children of the bench process.
  for (const group of roleGroups) if (roles[group] === pid) return group;
  for (const group of roleGroups) if (roles[group] === ppid) return group;
  return 'other' as G;
}

export function cpuSnapshotOf<G extends string>(
  groups: readonly G[],
  roles: RolesOf<G>,
): SnapshotOf<G> {
  const out: SnapshotOf<G> = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm) ": state ppid ... utime (12th) stime (13th).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(d);
    out.set(pid, {
      group: groupOf(groups, pid, Number(f[1]), roles),
      ticks: Number(f[11]) + Number(f[12]),
    });
  }
  return out;
}

export function cpuCoresOf<G extends string>(
  groups: readonly G[],
  before: SnapshotOf<G>,
  after: SnapshotOf<G>,
  ms: number,
): Record<G, number> {
  const used = Object.fromEntries(groups.map((g) => [g, 0])) as Record<G, number>;
  for (const [pid, a] of after) {
    const b = before.get(pid);
    used[a.group] += a.ticks - (b?.ticks ?? 0);
  }
  for (const g of groups) {
    used[g] = Math.round((used[g] / TICKS_PER_SECOND / (ms / 1_000)) * 100) / 100;
  }
  return used;
}

// ---------------------------------------------------------------------------------------------
// The raw COPY baseline the ingest and rollup benchmarks measure their writes against

export type Cores = Record<CpuGroup, number>;

export type BaselineKind = 'single' | 'parallel';
export const BASELINE_LABEL: Record<BaselineKind, string> = {
  single: 'Raw COPY, 1 stream',
  parallel: 'Raw COPY, 2 parallel streams',
};
export const BASELINE_TEXT: Record<BaselineKind, string> = {
  single: 'one COPY stream',
  parallel: '2 parallel COPY streams',
};

export interface CopyRun {
  streams: number;
  ms: number;
  cpu: Cores;
  rowsPerSec: number;
}

export interface BaselineFigures {
  single: CopyRun;
  parallel: CopyRun;
  /** The faster of the two: every ratio is taken against it. */
  used: BaselineKind;
  rowsPerSec: number;
  bytes: number;
}

/** The pid of a local process's parent, from /proc; null if it is not local. */
export function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Time spent inside some async methods of one object, summed per method (ms). */
export interface CallTimes<K extends string> {
  ms: Record<K, number>;
  reset(): void;
}

/**
 * Times the calls to `methods` of `target` (what a benchmark's stage spends in the buffer or
 * the store) without changing what they do: each method is wrapped on the instance, so the
 * object stays the domain class itself rather than a subclass of it.
 */
export function timeCalls<T extends object, K extends keyof T & string>(
  target: T,
  methods: readonly K[],
): CallTimes<K> {
  const ms = Object.fromEntries(methods.map((m) => [m, 0])) as Record<K, number>;
  for (const m of methods) {
    const original = target[m] as unknown as (...args: unknown[]) => Promise<unknown>;
    const timed = async (...args: unknown[]): Promise<unknown> => {
      const started = performance.now();
      try {
        return await original.apply(target, args);
      } finally {
        ms[m] += performance.now() - started;
      }
    };
    Object.defineProperty(target, m, { value: timed, configurable: true, writable: true });
  }
  return {
    ms,
    reset() {
      for (const m of methods) ms[m] = 0;
    },
  };
}
