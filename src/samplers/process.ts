// Process sampler: every pulse process samples itself (a fleet-wide job cannot sample one
// particular process): memory, CPU, garbage collection and event-loop lag since the last tick.
import {
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
  type IntervalHistogram,
} from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Sample } from './types.js';
import { MINUTE } from '../infra/time.js';

// The histogram measures how late a timer of this period fires; the period itself is not lag.
const LAG_RESOLUTION_MS = 10;
const lagSeconds = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS) / 1_000;

export class ProcessSampler {
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({
    resolution: LAG_RESOLUTION_MS,
  });
  private readonly gc: PerformanceObserver;
  private gcCount = 0;
  private gcPauseMs = 0;
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();

  constructor() {
    this.gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcCount += 1;
        this.gcPauseMs += entry.duration;
      }
    });
  }

  start(): void {
    this.lag.enable();
    this.gc.observe({ entryTypes: ['gc'] });
    this.lastCpu = process.cpuUsage();
    this.lastAt = performance.now();
  }

  stop(): void {
    this.lag.disable();
    this.gc.disconnect();
  }

  /** Values since the previous call (or since start). */
  collect(): Sample[] {
    const now = performance.now();
    const elapsedMs = Math.max(1, now - this.lastAt);
    const cpu = process.cpuUsage(this.lastCpu);
    const memory = process.memoryUsage();
    const heapLimit = v8.getHeapStatistics().heap_size_limit;
    const samples: Sample[] = [
      { name: 'process_rss_bytes', value: memory.rss },
      { name: 'process_heap_used_bytes', value: memory.heapUsed },
      { name: 'process_heap_used_percentage', value: (100 * memory.heapUsed) / heapLimit },
      // Of one core: 100 means one core fully busy, as `top` shows it.
      {
        name: 'process_cpu_usage_percentage',
        value: ((cpu.user + cpu.system) / 1_000 / elapsedMs) * 100,
      },
      { name: 'process_gc_count', value: this.gcCount },
      { name: 'gc_frequency_per_minute', value: (this.gcCount * MINUTE) / elapsedMs },
      { name: 'process_gc_pause_seconds', value: this.gcPauseMs / 1_000 },
    ];
    if (this.lag.count > 0) {
      samples.push(
        { name: 'process_event_loop_lag_p50_seconds', value: lagSeconds(this.lag.percentile(50)) },
        { name: 'process_event_loop_lag_p99_seconds', value: lagSeconds(this.lag.percentile(99)) },
      );
    }
    this.lag.reset();
    this.gcCount = 0;
    this.gcPauseMs = 0;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    return samples;
  }
}
