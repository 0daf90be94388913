// Host metrics: load, memory, CPU and disk of every host, as its worker samples them.
import { HOUR, DAY, WEEK } from '../infra/time.js';
import { clamp, gauss, sec, smooth, strHash, u01 } from './noise.js';
import { activity, spike } from './shapes.js';
import { workerTags, type Host } from './hosts.js';
import type { PlanContext, Spec } from './spec.js';

/** Busy share of all cores, 0–1, before noise (and without the regression). */
function utilisation(host: Host, k: number, t: number): number {
  return clamp(
    0.04 +
      0.42 * host.weight * activity(t) * (1 + 0.03 * smooth(k, t, 6 * HOUR)) +
      0.15 * spike(host.key, t),
    0.01,
    1,
  );
}

function memoryUsed(host: Host, k: number, t: number): number {
  return Math.round(
    host.memTotal *
      clamp(
        0.3 +
          0.22 * host.weight * activity(t) +
          0.05 * smooth(k ^ 1, t, 12 * HOUR) +
          0.05 * spike(host.key, t) +
          0.004 * gauss(k ^ 2, sec(t)),
        0.05,
        0.99,
      ),
  );
}

/** Fills up through the week, log rotation at 03:00 frees a little, cleanup on Sunday. */
function diskFree(host: Host, k: number, t: number): number {
  const week = ((((t - 3 * DAY - 3 * HOUR) % WEEK) + WEEK) % WEEK) / WEEK;
  const day = ((((t - 3 * HOUR) % DAY) + DAY) % DAY) / DAY;
  const frac = 0.48 + 0.2 * u01(k, 3) - 0.08 * week - 0.015 * day;
  return Math.floor((host.diskTotal * frac) / 4_096) * 4_096;
}

const round2 = (v: number) => Math.round(Math.max(0, v) * 100) / 100;

/** The host metrics of one host; the regression is on its CPU usage. */
export function hostSpecs(ctx: PlanContext, host: Host): Spec[] {
  const base = workerTags(host);
  const k = strHash(`${ctx.seed}|host-metrics|${host.name}`);
  const hostReg = ctx.reg(host);
  const util = (t: number) => utilisation(host, k, t);
  const loadAvg = (t: number) => host.cores * util(t) * 1.15;
  const memUsed = (t: number) => memoryUsed(host, k, t);
  const free = (t: number) => diskFree(host, k, t);
  const specs: Spec[] = [];
  const add = (metric: string, value: Spec['value']) =>
    specs.push({ metric, variants: [base], value });
  add('host_load_average_1m', (t) => round2(loadAvg(t) * (1 + 0.12 * gauss(k ^ 3, sec(t)))));
  add('host_load_average_5m', (t) => round2(loadAvg(t) * (1 + 0.04 * gauss(k ^ 4, sec(t)))));
  add('host_load_average_15m', (t) =>
    round2(host.cores * 1.15 * (0.04 + 0.42 * host.weight * activity(t))),
  );
  add('memory_usage_bytes', memUsed);
  add('memory_usage_percentage', (t) => (100 * memUsed(t)) / host.memTotal);
  add('cpu_usage_percentage', (t) =>
    clamp(100 * util(t) * (1 + 0.06 * gauss(k ^ 5, sec(t))) * hostReg(t), 0, 100),
  );
  add('host_disk_free_bytes', free);
  add('host_disk_free_percentage', (t) => (100 * free(t)) / host.diskTotal);
  return specs;
}
