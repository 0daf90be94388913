// CPU accounting: who used the cores during a stage. The machine may be shared, and a ratio
// measured while something else ran is not worth much; "other" shows that.
import { readdirSync, readFileSync } from 'node:fs';

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

export type Cores = Record<CpuGroup, number>;

/** The pid of a local process's parent, from /proc; null if it is not local. */
export function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Cores used by processes outside the benchmark above which a stage is flagged as noisy. */
export const NOISE_CORES = 0.15;

/** The note a report carries when processes outside the benchmark used more than NOISE_CORES. */
export function noiseNote(during: string): string {
  return `Processes outside the benchmark used more than ${NOISE_CORES} cores during ${during}: the machine was not quiet, so the figures may be off; run again.`;
}
