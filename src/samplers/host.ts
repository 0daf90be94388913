// Host sampler: load, memory, CPU and free disk of the machine the sampling worker runs on.
// CPU % comes from two /proc/stat-equivalent readings (os.cpus) a short window apart.
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sample } from './types.js';

/** Aggregate CPU jiffies: /proc/stat on Linux (counts iowait as idle), os.cpus() elsewhere. */
async function cpuTimes(): Promise<{ idle: number; total: number }> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice; guest time is
    // already inside user/nice, so it is left out of the total.
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length === 8 && f.every(Number.isFinite)) {
      const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      return {
        idle: idle + iowait,
        total: user + nice + system + idle + iowait + irq + softirq + steal,
      };
    }
  } catch {
    // Not Linux.
  }
  let idle = 0;
  let total = 0;
  for (const { times: t } of os.cpus()) {
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** CPU busy % across all cores over `windowMs`. */
export async function cpuPercent(windowMs = 500): Promise<number> {
  const a = await cpuTimes();
  await sleep(windowMs);
  const b = await cpuTimes();
  const total = b.total - a.total;
  return total > 0 ? (100 * (total - (b.idle - a.idle))) / total : 0;
}

/** Memory in use as Linux counts it: total minus available (page cache is not "used"). */
async function memoryUsed(): Promise<{ used: number; total: number }> {
  const total = os.totalmem();
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
    if (match) return { used: total - Number(match[1]) * 1_024, total };
  } catch {
    // Not Linux: fall through to what os reports.
  }
  return { used: total - os.freemem(), total };
}

export async function sampleHost(opts: {
  dataDir: string;
  cpuWindowMs?: number;
}): Promise<Sample[]> {
  const [load1, load5, load15] = os.loadavg() as [number, number, number];
  const [memory, cpu, disk] = await Promise.all([
    memoryUsed(),
    cpuPercent(opts.cpuWindowMs),
    statfs(opts.dataDir).catch(() => statfs('.')),
  ]);
  const diskFree = disk.bavail * disk.bsize;
  const diskTotal = disk.blocks * disk.bsize;
  return [
    { name: 'host_load_average_1m', value: load1 },
    { name: 'host_load_average_5m', value: load5 },
    { name: 'host_load_average_15m', value: load15 },
    { name: 'memory_usage_bytes', value: memory.used },
    { name: 'memory_usage_percentage', value: (100 * memory.used) / memory.total },
    { name: 'cpu_usage_percentage', value: cpu },
    { name: 'host_disk_free_bytes', value: diskFree },
    { name: 'host_disk_free_percentage', value: diskTotal > 0 ? (100 * diskFree) / diskTotal : 0 },
  ];
}
