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

export interface TelemetrySources {
  bufferDepth: () => Promise<number>;
  deadLetters: () => Promise<number>;
  bufferBytes?: () => Promise<number>;
  activeSeries?: () => Promise<number>;
}

export function createTelemetry(sources: TelemetrySources): Telemetry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'pulse_' });
  const registers = [registry];
  fleetGauges(registers, sources);
  return {
    seriesLimited: seriesLimitedCounter(registers),
    registry,
    ingestRequests: counter(
      registers,
      'pulse_ingest_requests_total',
      'POST /api/v1/metrics requests by HTTP status',
      ['status'],
    ),
    pointsAccepted: counter(
      registers,
      'pulse_points_accepted_total',
      'Points accepted into the buffer by this process',
    ),
    pointsRejected: counter(
      registers,
      'pulse_points_rejected_total',
      'Points refused by this process, by reason (invalid, series_limit, buffer_full, buffer_unavailable)',
      ['reason'],
    ),
    pointsFlushed: counter(
      registers,
      'pulse_points_flushed_total',
      'Points stored in PostgreSQL by this process',
    ),
    pointsDuplicate: counter(
      registers,
      'pulse_points_duplicate_total',
      'Re-delivered points this process found already stored (skipped)',
    ),
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
    cacheLookups: counter(
      registers,
      'pulse_cache_lookups_total',
      'Dashboard cache lookups in this process, by result: l1 hit, l2 hit or miss',
      ['result'],
    ),
    jobFailures: counter(
      registers,
      'pulse_job_failures_total',
      'Failed job attempts in this process, per queue and job name',
      ['queue', 'name'],
    ),
  };
}

function counter<L extends string = string>(
  registers: client.Registry[],
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): client.Counter<L> {
  return new client.Counter<L>({ name, help, labelNames, registers });
}

/** A gauge whose value is read at scrape time. */
function readGauge(
  registers: client.Registry[],
  name: string,
  help: string,
  read: () => Promise<number>,
): void {
  new client.Gauge({
    name,
    help,
    registers,
    async collect() {
      this.set(await read());
    },
  });
}

/** The fleet-wide gauges, read from Redis at scrape time. */
function fleetGauges(registers: client.Registry[], sources: TelemetrySources): void {
  readGauge(
    registers,
    'pulse_buffer_depth_points',
    'Points accepted and not yet stored in PostgreSQL (fleet-wide, read from Redis)',
    sources.bufferDepth,
  );
  readGauge(
    registers,
    'pulse_dead_letter_entries',
    'Buffer entries the flush could not store, kept aside (npm run dead-letters; fleet-wide)',
    sources.deadLetters,
  );
  if (sources.bufferBytes)
    readGauge(
      registers,
      'pulse_buffer_bytes',
      'Bytes of the buffered entries, what BUFFER_MAX_BYTES caps (fleet-wide, read from Redis)',
      sources.bufferBytes,
    );
  if (sources.activeSeries)
    readGauge(
      registers,
      'pulse_series_active',
      'Series that received a point within SERIES_IDLE_TIMEOUT, what MAX_SERIES caps (fleet-wide)',
      sources.activeSeries,
    );
}

/** pulse_series_limited_total, labelled by metric up to LIMITED_LABELS_MAX names. */
function seriesLimitedCounter(registers: client.Registry[]): Telemetry['seriesLimited'] {
  const limited = counter(
    registers,
    'pulse_series_limited_total',
    'Points refused by this process because they would have created a series past MAX_SERIES or MAX_SERIES_PER_METRIC, by metric',
    ['metric'],
  );
  const labels = new Set<string>();
  return (metric, points) => {
    if (!labels.has(metric) && labels.size < LIMITED_LABELS_MAX) labels.add(metric);
    limited.inc({ metric: labels.has(metric) ? metric : '_other' }, points);
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
