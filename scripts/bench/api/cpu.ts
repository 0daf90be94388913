// CPU accounting: who used the cores during a run (as scripts/bench/cpu.ts's, with this
// benchmark's roles: the pulse API and the bare Express baseline).
import { cpuCoresOf, cpuSnapshotOf, type RolesOf, type SnapshotOf } from '../cpu.js';

export const CPU_GROUPS = ['bench', 'api', 'baseline', 'postgres', 'redis', 'other'] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];
export type Cores = Record<CpuGroup, number>;
export type CpuRoles = RolesOf<CpuGroup>;
type CpuSnapshot = SnapshotOf<CpuGroup>;
export const cpuSnapshot = (roles: CpuRoles): CpuSnapshot => cpuSnapshotOf(CPU_GROUPS, roles);
export const cpuCores = (before: CpuSnapshot, after: CpuSnapshot, elapsedMs: number): Cores =>
  cpuCoresOf(CPU_GROUPS, before, after, elapsedMs);
