// pulse's own Prometheus metrics (prom-client), one registry per process. Counters live in the
// process that does the work; the buffer depth is read from Redis at scrape time, so every
// process reports the same fleet-wide value.
import client from 'prom-client';

export interface Telemetry {
  registry: client.Registry;
  ingestRequests: client.Counter<'status'>;
  pointsAccepted: client.Counter;
  pointsRejected: client.Counter<'reason'>;
  pointsFlushed: client.Counter;
  pointsDuplicate: client.Counter;
  flushBatchSeconds: client.Histogram;
  jobSeconds: client.Histogram<'queue' | 'name'>;
  jobFailures: client.Counter<'queue' | 'name'>;
  cacheLookups: client.Counter<'result'>;
  regressions: client.Gauge<'severity'>;
  /**
   * Counts points refused because their series would have passed MAX_SERIES or
   * MAX_SERIES_PER_METRIC, by metric (pulse_series_limited_total).
   */
  seriesLimited(metric: string, points: number): void;
}

/**
 * Metric names a process labels pulse_series_limited_total with; the rest count as "_other",
 * so a flood of new metric names cannot grow /metrics without bound either.
 */
const LIMITED_LABELS_MAX = 1_000;

export function createTelemetry(opts: {
  bufferDepth: () => Promise<number>;
  deadLetters: () => Promise<number>;
  bufferBytes?: () => Promise<number>;
  activeSeries?: () => Promise<number>;
}): Telemetry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'pulse_' });
  const registers = [registry];
  new client.Gauge({
    name: 'pulse_buffer_depth_points',
    help: 'Points accepted and not yet stored in PostgreSQL (fleet-wide, read from Redis)',
    registers,
    async collect() {
      this.set(await opts.bufferDepth());
    },
  });
  new client.Gauge({
    name: 'pulse_dead_letter_entries',
    help: 'Buffer entries the flush could not store, kept aside (npm run dead-letters; fleet-wide)',
    registers,
    async collect() {
      this.set(await opts.deadLetters());
    },
  });
  const { bufferBytes, activeSeries } = opts;
  if (bufferBytes)
    new client.Gauge({
      name: 'pulse_buffer_bytes',
      help: 'Bytes of the buffered entries, what BUFFER_MAX_BYTES caps (fleet-wide, read from Redis)',
      registers,
      async collect() {
        this.set(await bufferBytes());
      },
    });
  if (activeSeries)
    new client.Gauge({
      name: 'pulse_series_active',
      help: 'Series that received a point within SERIES_IDLE_TIMEOUT, what MAX_SERIES caps (fleet-wide)',
      registers,
      async collect() {
        this.set(await activeSeries());
      },
    });
  const limited = new client.Counter({
    name: 'pulse_series_limited_total',
    help: 'Points refused by this process because they would have created a series past MAX_SERIES or MAX_SERIES_PER_METRIC, by metric',
    labelNames: ['metric'],
    registers,
  });
  const limitedLabels = new Set<string>();
  return {
    seriesLimited(metric, points) {
      if (!limitedLabels.has(metric) && limitedLabels.size < LIMITED_LABELS_MAX)
        limitedLabels.add(metric);
      limited.inc({ metric: limitedLabels.has(metric) ? metric : '_other' }, points);
    },
    registry,
    ingestRequests: new client.Counter({
      name: 'pulse_ingest_requests_total',
      help: 'POST /api/v1/metrics requests by HTTP status',
      labelNames: ['status'],
      registers,
    }),
    pointsAccepted: new client.Counter({
      name: 'pulse_points_accepted_total',
      help: 'Points accepted into the buffer by this process',
      registers,
    }),
    pointsRejected: new client.Counter({
      name: 'pulse_points_rejected_total',
      help: 'Points refused by this process, by reason (invalid, series_limit, buffer_full, buffer_unavailable)',
      labelNames: ['reason'],
      registers,
    }),
    pointsFlushed: new client.Counter({
      name: 'pulse_points_flushed_total',
      help: 'Points stored in PostgreSQL by this process',
      registers,
    }),
    pointsDuplicate: new client.Counter({
      name: 'pulse_points_duplicate_total',
      help: 'Re-delivered points this process found already stored (skipped)',
      registers,
    }),
    flushBatchSeconds: new client.Histogram({
      name: 'pulse_flush_duration_seconds',
      help: 'Duration of flush jobs in this process',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    jobSeconds: new client.Histogram({
      name: 'pulse_job_duration_seconds',
      help: 'Duration of jobs processed by this process, per queue and job name',
      labelNames: ['queue', 'name'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    regressions: new client.Gauge({
      name: 'pulse_regressions',
      help: 'Entries of the latest regression report run by this process, by severity',
      labelNames: ['severity'],
      registers,
    }),
    cacheLookups: new client.Counter({
      name: 'pulse_cache_lookups_total',
      help: 'Dashboard cache lookups in this process, by result: l1 hit, l2 hit or miss',
      labelNames: ['result'],
      registers,
    }),
    jobFailures: new client.Counter({
      name: 'pulse_job_failures_total',
      help: 'Failed job attempts in this process, per queue and job name',
      labelNames: ['queue', 'name'],
      registers,
    }),
  };
}

interface ObservedJob {
  name: string;
  processedOn?: number | undefined;
  finishedOn?: number | undefined;
}

/** Records durations and failures of a BullMQ worker's jobs. */
export function observeWorker(
  t: Telemetry,
  queue: string,
  worker: {
    on(event: 'completed', fn: (job: ObservedJob) => void): unknown;
    on(event: 'failed', fn: (job: ObservedJob | undefined) => void): unknown;
  },
): void {
  worker.on('completed', (job) => {
    if (job.processedOn && job.finishedOn)
      t.jobSeconds.observe({ queue, name: job.name }, (job.finishedOn - job.processedOn) / 1_000);
  });
  worker.on('failed', (job) => t.jobFailures.inc({ queue, name: job?.name ?? 'unknown' }));
}
