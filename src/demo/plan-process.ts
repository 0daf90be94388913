// Process metrics: every pulse process samples itself (role api and worker on every host).
import { MINUTE, HOUR } from '../infra/time.js';
import { clamp, gauss, sec, smooth, strHash, u01 } from './noise.js';
import { activity, spike } from './shapes.js';
import { processTags, type Host, type Role } from './hosts.js';
import type { PlanContext, Spec } from './spec.js';

/** V8's heap_size_limit of a 64-bit Node 20 on a machine with 16 GB or more. */
const HEAP_LIMIT = 4_345_298_944;

/** The shapes a process's metrics are made of. */
interface ProcessSignals {
  k: number;
  busy: number;
  load: (t: number) => number;
  incident: (t: number) => number;
  heap: (t: number) => number;
  gcCount: (t: number) => number;
  lagP50: (t: number) => number;
}

function processSignals(ctx: PlanContext, host: Host, role: Role): ProcessSignals {
  const stepMin = ctx.stepMs / MINUTE;
  const hw = host.weight;
  const k = strHash(`${ctx.seed}|process|${host[role].instanceId}`);
  const busy = role === 'worker' ? 1 : 0.55;
  // Work of this process, about 0.1–1.2, and the host's incidents on top (0 or up to ~1.6).
  const load = (t: number) => hw * activity(t) * (1 + 0.02 * smooth(k, t, 6 * HOUR));
  const incident = (t: number) => spike(host.key, t);
  const heapPeriod = (5 + 4 * u01(k, 9)) * MINUTE;
  const heap = (t: number) => {
    const saw = (t / heapPeriod + u01(k, 10)) % 1;
    const l = load(t) * (1 + 0.5 * incident(t));
    const mib =
      role === 'worker' ? 55 + 70 * l * (0.6 + 0.4 * saw) : 38 + 40 * l * (0.6 + 0.4 * saw);
    return Math.round(mib * 1_048_576 * (1 + 0.03 * gauss(k ^ 1, sec(t))));
  };
  const gcRate = (t: number) =>
    (role === 'worker' ? 6 + 60 * load(t) : 3 + 30 * load(t)) * (1 + 0.5 * incident(t));
  const gcCount = (t: number) =>
    Math.max(0, Math.round(gcRate(t) * stepMin * (1 + 0.2 * gauss(k ^ 2, sec(t)))));
  // As the sampler reports it: how late a 10 ms timer fires, without the 10 ms.
  const lagP50 = (t: number) =>
    Math.max(0, 0.00004 + 0.0006 * busy * load(t) * (1 + 0.2 * gauss(k ^ 3, sec(t)) + incident(t)));
  return { k, busy, load, incident, heap, gcCount, lagP50 };
}

/** The metrics one process samples of itself; the regression is on the worker's p99 lag. */
export function processSpecs(ctx: PlanContext, host: Host, role: Role): Spec[] {
  const { k, busy, load, incident, heap, gcCount, lagP50 } = processSignals(ctx, host, role);
  const processReg = role === 'worker' ? ctx.reg(host) : () => 1;
  const base = processTags(host, role);
  const specs: Spec[] = [];
  const add = (metric: string, value: Spec['value']) =>
    specs.push({ metric, variants: [base], value });
  add('process_rss_bytes', (t) =>
    Math.round(heap(t) * 1.55 + (62 + 6 * smooth(k ^ 4, t, 12 * HOUR)) * 1_048_576),
  );
  add('process_heap_used_bytes', heap);
  add('process_heap_used_percentage', (t) => (100 * heap(t)) / HEAP_LIMIT);
  add('process_cpu_usage_percentage', (t) =>
    clamp(
      (2 + 70 * busy * load(t) * (1 + 0.6 * incident(t))) * (1 + 0.1 * gauss(k ^ 5, sec(t))),
      0.1,
      100 * Math.min(2, host.cores),
    ),
  );
  add('process_gc_count', gcCount);
  add('gc_frequency_per_minute', (t) => (gcCount(t) * MINUTE) / ctx.stepMs);
  add(
    'process_gc_pause_seconds',
    (t) => gcCount(t) * (0.0008 + 0.0015 * load(t)) * (1 + 0.2 * u01(k ^ 6, sec(t))),
  );
  add('process_event_loop_lag_p50_seconds', lagP50);
  add('process_event_loop_lag_p99_seconds', (t) => {
    const p99 =
      0.0008 +
      0.012 * busy * load(t) ** 1.5 * (1 + 0.15 * Math.abs(gauss(k ^ 7, sec(t)))) +
      0.006 * busy * incident(t);
    return Math.max(p99, lagP50(t) + 0.0002) * processReg(t);
  });
  return specs;
}
