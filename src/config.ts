// Every setting pulse reads from the environment, validated once at start-up.
// Nothing else in the tree reads process.env: pass the resolved Config down instead.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  duration,
  durationOrOff,
  int,
  LOOPBACK,
  percent,
  size,
  SIZE_UNITS,
  tagValue,
  token,
  trustProxy,
  url,
} from './config-values.js';
import { SECOND, MINUTE, HOUR, DAY } from './infra/time.js';

export const BUILTIN_SAMPLERS = ['process', 'host', 'postgres', 'redis', 'queues'] as const;
export type BuiltinSampler = (typeof BUILTIN_SAMPLERS)[number];

/** Each variable, its default, and what it allows. The README table mirrors this list. */
export const envSchema = z
  .object({
    PULSE_ROLE: z.enum(['all', 'worker', 'api']).default('all'),
    PORT: int(3000, 0, 65535),
    // Unset: every interface when INGEST_TOKEN and READ_TOKEN are both set, else 127.0.0.1.
    HOST: z.string().trim().min(1).optional(),
    ALLOW_UNAUTHENTICATED: z.enum(['true', 'false']).default('false'),
    // Which peers may say who the client is (X-Forwarded-For), as Express' "trust proxy".
    TRUST_PROXY: trustProxy(),
    LOG_LEVEL: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info'),
    DATABASE_URL: url(['postgres:', 'postgresql:']),
    REDIS_URL: url(['redis:', 'rediss:']),
    DATA_DIR: z.string().default('.data'),
    EMBEDDED_PG_PORT: int(54329, 1, 65535),
    EMBEDDED_REDIS_PORT: int(63790, 1, 65535),
    PULSE_PREFIX: z
      .string()
      .default('pulse')
      .refine((v) => /^[a-zA-Z0-9_:{}.-]{1,64}$/.test(v), {
        message: 'expected 1-64 characters of letters, digits and _ : { } . -',
      }),
    DB_POOL_SIZE: int(10, 1, 200),
    INGEST_TOKEN: token,
    READ_TOKEN: token,
    ADMIN_TOKEN: token,
    WARM_INTERVAL: duration('10s', 1_000),
    REGRESSION_INTERVAL: duration('1h', MINUTE),
    REGRESSION_BASELINE: duration('7d', 7_200_000),
    REGRESSION_RECENT: duration('1d', 7_200_000),
    REGRESSION_CRITICAL: percent(20),
    REGRESSION_WARNING: percent(10),
    REGRESSION_MIN_CHANGE: percent(5),
    REGRESSION_ALPHA: z
      .string()
      .default('0.01')
      .transform((text, ctx) => {
        const n = Number(text);
        if (!/^0?\.\d+$/.test(text.trim()) || !(n > 0 && n < 1)) {
          ctx.addIssue({
            code: 'custom',
            message: 'expected a probability between 0 and 1, such as 0.01',
          });
          return z.NEVER;
        }
        return n;
      }),
    REGRESSION_SEASONALITY: z.enum(['auto', 'weekly', 'daily', 'none']).default('auto'),
    REGRESSION_LOWER_IS_WORSE: z
      .string()
      .default(
        'up,database_cache_hit_ratio,redis_keyspace_hit_ratio,redis_ops_per_second,database_transactions_committed_per_second,queue_completed_per_minute,host_disk_free_bytes,host_disk_free_percentage,node_memory_MemAvailable_bytes,node_filesystem_avail_bytes',
      )
      .transform((text) => text.split(/[\s,]+/).filter(Boolean)),
    REGRESSION_RETENTION: duration('90d', DAY),
    CACHE_TTL: duration('60s', 1_000),
    INGEST_MAX_BODY: z
      .string()
      .default('16mb')
      .refine((v) => /^\d+(b|kb|mb)$/i.test(v), {
        message: 'expected a size such as 512kb or 16mb',
      }),
    INGEST_MAX_POINTS: int(10_000, 1, 100_000),
    BUFFER_MAX_POINTS: int(2_000_000, 1_000),
    BUFFER_MAX_BYTES: size('256mb', 1_024 * 1_024),
    MAX_SERIES: int(100_000, 1, 100_000_000),
    MAX_SERIES_PER_METRIC: int(10_000, 1, 100_000_000),
    SERIES_IDLE_TIMEOUT: duration('1d', MINUTE),
    DEAD_LETTER_MAX: int(10_000, 1, 10_000_000),
    FLUSH_INTERVAL: duration('5s', 100),
    FLUSH_BATCH: int(10_000, 1),
    FLUSH_CONCURRENCY: int(2, 1, 16),
    FLUSH_READ_ENTRIES: int(25, 1, 10_000),
    // Shorter than a slow batch would hand live batches from consumer to consumer.
    FLUSH_CLAIM_IDLE: duration('30s', 5_000),
    FLUSH_ATTEMPTS: int(8, 1, 100),
    RAW_RETENTION: duration('90d', HOUR),
    COMPRESS_AFTER: durationOrOff('2d', DAY),
    ROLLUP_1M_RETENTION: duration('30d', HOUR),
    ROLLUP_1H_RETENTION: duration('730d', DAY),
    AGGREGATE_INTERVAL: duration('1m', 1_000),
    MAINTENANCE_INTERVAL: duration('1h', MINUTE),
    SHUTDOWN_TIMEOUT: duration('10s', 100),
    SAMPLE_INTERVAL: duration('10s', 1_000).refine((ms) => ms % SECOND === 0 && MINUTE % ms === 0, {
      message:
        'expected whole seconds that divide a minute (1s, 2s, 5s, 10s, 15s, 20s, 30s or 60s)',
    }),
    SAMPLERS: z
      .string()
      .default(BUILTIN_SAMPLERS.join(','))
      .transform((text, ctx) => {
        const names = text.split(/[\s,]+/).filter((n) => n !== '' && n !== 'none');
        const unknown = names.filter((n) => !(BUILTIN_SAMPLERS as readonly string[]).includes(n));
        if (unknown.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown sampler(s) ${unknown.join(', ')}; expected some of ${BUILTIN_SAMPLERS.join(', ')}, or none`,
          });
          return z.NEVER;
        }
        return [...new Set(names)] as BuiltinSampler[];
      }),
    SCRAPE_TARGETS: z
      .string()
      .default('')
      .transform((text, ctx) => {
        const urls = text.split(/[\s,]+/).filter(Boolean);
        for (const u of urls) {
          let ok = false;
          try {
            ok = ['http:', 'https:'].includes(new URL(u).protocol);
          } catch {
            ok = false;
          }
          if (!ok) {
            ctx.addIssue({
              code: 'custom',
              message: `"${redact('SCRAPE_TARGETS', u)}" is not an http:// or https:// URL`,
            });
            return z.NEVER;
          }
          if (u.length > 200) {
            // It becomes the `target` tag, and tag values are at most 200 characters.
            ctx.addIssue({
              code: 'custom',
              message: `"${u.slice(0, 40)}…" is longer than 200 characters`,
            });
            return z.NEVER;
          }
        }
        return [...new Set(urls)];
      }),
    SCRAPE_TIMEOUT: duration('5s', 100),
    SCRAPE_SAMPLE_LIMIT: int(50_000, 1, 10_000_000),
    CRITICAL_MEMORY_PERCENT: int(90, 1, 100),
    CRITICAL_CPU_PERCENT: int(85, 1, 100),
    WORKER_PORT: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v.trim() === '') return undefined;
        const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
        if (!Number.isSafeInteger(n) || n > 65_535) {
          ctx.addIssue({ code: 'custom', message: 'expected a port from 0 to 65535' });
          return z.NEVER;
        }
        return n;
      }),
    ENVIRONMENT: tagValue('development'),
    INSTANCE_ID: tagValue(`${os.hostname()}:${process.pid}`),
  })
  .superRefine((e, ctx) => {
    if (e.REGRESSION_RECENT >= e.REGRESSION_BASELINE) {
      ctx.addIssue({
        code: 'custom',
        path: ['REGRESSION_RECENT'],
        message: `must be shorter than REGRESSION_BASELINE (the baseline is what comes before it)`,
      });
    }
    if (e.REGRESSION_WARNING > e.REGRESSION_CRITICAL) {
      ctx.addIssue({
        code: 'custom',
        path: ['REGRESSION_WARNING'],
        message: 'must not be above REGRESSION_CRITICAL',
      });
    }
    if (
      e.HOST !== undefined &&
      !LOOPBACK.test(e.HOST) &&
      (e.INGEST_TOKEN === undefined || e.READ_TOKEN === undefined) &&
      e.ALLOW_UNAUTHENTICATED !== 'true'
    ) {
      const missing = [
        e.INGEST_TOKEN === undefined ? 'INGEST_TOKEN' : '',
        e.READ_TOKEN === undefined ? 'READ_TOKEN' : '',
      ].filter(Boolean);
      ctx.addIssue({
        code: 'custom',
        path: ['HOST'],
        message: `listening beyond this machine needs ${missing.join(' and ')} (without, anyone who reaches the port can write and read metrics): set ${missing.length > 1 ? 'them' : 'it'}, or ALLOW_UNAUTHENTICATED=true to accept that`,
      });
    }
    if (e.MAX_SERIES_PER_METRIC > e.MAX_SERIES) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_SERIES_PER_METRIC'],
        message: `must not be above MAX_SERIES (${e.MAX_SERIES})`,
      });
    }
    const body = /^(\d+)(b|kb|mb)$/i.exec(e.INGEST_MAX_BODY);
    const bodyBytes = body
      ? Number(body[1]) * (SIZE_UNITS[(body[2] as string).toLowerCase()] as number)
      : 0;
    if (e.BUFFER_MAX_BYTES < 4 * bodyBytes) {
      // A request's entries take up to about its body's size; a full-size one must fit.
      ctx.addIssue({
        code: 'custom',
        path: ['BUFFER_MAX_BYTES'],
        message: `must be at least 4 × INGEST_MAX_BODY (${e.INGEST_MAX_BODY}), so that a request of the largest size fits`,
      });
    }
    if (e.BUFFER_MAX_POINTS < e.INGEST_MAX_POINTS) {
      // A full-size request could then never be accepted, even into an empty buffer.
      ctx.addIssue({
        code: 'custom',
        path: ['BUFFER_MAX_POINTS'],
        message: `must be at least INGEST_MAX_POINTS (${e.INGEST_MAX_POINTS})`,
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/** The typed configuration: what toConfig() makes of the validated environment. */
export type Config = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment into a Config, or throws one ConfigError that names every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      const value = env[name];
      const shown = value === undefined ? '(unset)' : JSON.stringify(redact(name, value));
      return `  ${name}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return toConfig(parsed.data);
}

/** The environment, validated, as the nested settings the code reads. */
function toConfig(e: Env) {
  return {
    role: e.PULSE_ROLE,
    http: httpConfig(e),
    logLevel: e.LOG_LEVEL,
    dataDir: path.resolve(e.DATA_DIR),
    postgres: { url: e.DATABASE_URL, embeddedPort: e.EMBEDDED_PG_PORT, poolSize: e.DB_POOL_SIZE },
    redis: { url: e.REDIS_URL, embeddedPort: e.EMBEDDED_REDIS_PORT },
    /** Namespaces every Redis key and BullMQ queue, so several pulse systems can share one Redis. */
    prefix: e.PULSE_PREFIX,
    ingest: { token: e.INGEST_TOKEN, maxBody: e.INGEST_MAX_BODY, maxPoints: e.INGEST_MAX_POINTS },
    /** READ_TOKEN guards the read API when set; ADMIN_TOKEN enables admin routes and Bull Board. */
    auth: { readToken: e.READ_TOKEN, adminToken: e.ADMIN_TOKEN },
    cache: { warmIntervalMs: e.WARM_INTERVAL, ttlMs: e.CACHE_TTL },
    regression: {
      intervalMs: e.REGRESSION_INTERVAL,
      baselineMs: e.REGRESSION_BASELINE,
      recentMs: e.REGRESSION_RECENT,
      criticalPercent: e.REGRESSION_CRITICAL,
      warningPercent: e.REGRESSION_WARNING,
      minChangePercent: e.REGRESSION_MIN_CHANGE,
      alpha: e.REGRESSION_ALPHA,
      seasonality: e.REGRESSION_SEASONALITY,
      lowerIsWorse: e.REGRESSION_LOWER_IS_WORSE,
      retentionMs: e.REGRESSION_RETENTION,
    },
    /** maxDeadLetters: buffer entries the flush could not store, kept at most (the oldest go). */
    buffer: {
      maxPoints: e.BUFFER_MAX_POINTS,
      maxBytes: e.BUFFER_MAX_BYTES,
      maxDeadLetters: e.DEAD_LETTER_MAX,
    },
    /** The series limits: active series (a point within idleMs) in all, and per metric. */
    series: {
      maxSeries: e.MAX_SERIES,
      maxPerMetric: e.MAX_SERIES_PER_METRIC,
      idleMs: e.SERIES_IDLE_TIMEOUT,
    },
    flush: {
      intervalMs: e.FLUSH_INTERVAL,
      batchPoints: e.FLUSH_BATCH,
      concurrency: e.FLUSH_CONCURRENCY,
      readEntries: e.FLUSH_READ_ENTRIES,
      claimIdleMs: e.FLUSH_CLAIM_IDLE,
      attempts: e.FLUSH_ATTEMPTS,
    },
    retention: retentionConfig(e),
    aggregateIntervalMs: e.AGGREGATE_INTERVAL,
    maintenanceIntervalMs: e.MAINTENANCE_INTERVAL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    sampling: samplingConfig(e),
    /** Port of the worker role's own /healthz, /readyz and /metrics; unset: none. */
    workerPort: e.WORKER_PORT,
    environment: e.ENVIRONMENT,
    instanceId: e.INSTANCE_ID,
  };
}

function httpConfig(e: Env) {
  return {
    port: e.PORT,
    host:
      e.HOST ??
      (e.INGEST_TOKEN !== undefined && e.READ_TOKEN !== undefined ? '0.0.0.0' : '127.0.0.1'),
    /** Express' "trust proxy": which peers may name the client (TRUST_PROXY). */
    trustProxy: e.TRUST_PROXY,
    /** HOST unset and a token missing: on 127.0.0.1 only (said at start-up). */
    loopbackForLackOfTokens:
      e.HOST === undefined && (e.INGEST_TOKEN === undefined || e.READ_TOKEN === undefined),
    /** Listening beyond loopback with ingest or reads open (ALLOW_UNAUTHENTICATED=true). */
    openToNetwork:
      e.HOST !== undefined &&
      !LOOPBACK.test(e.HOST) &&
      (e.INGEST_TOKEN === undefined || e.READ_TOKEN === undefined),
  };
}

function retentionConfig(e: Env) {
  return {
    rawMs: e.RAW_RETENTION,
    rollup1mMs: e.ROLLUP_1M_RETENTION,
    rollup1hMs: e.ROLLUP_1H_RETENTION,
    /**
     * The oldest a point may be, at ingest, import and sampling: RAW_RETENTION, or less when
     * ROLLUP_1M_RETENTION is shorter. rollup_1h and the regression slots of an hour are rebuilt
     * from its rollup_1m rows, so a point in an hour whose rollup_1m rows have expired would
     * replace that hour's history by itself. A margin (a day, at most a quarter of the
     * retention) keeps clear of the hour being expired.
     */
    acceptMs: Math.min(
      e.RAW_RETENTION,
      e.ROLLUP_1M_RETENTION - Math.min(DAY, e.ROLLUP_1M_RETENTION / 4),
    ),
    /** Raw days whose end is this long past are packed by the maintenance job; null: never. */
    compressAfterMs: e.COMPRESS_AFTER,
  };
}

function samplingConfig(e: Env) {
  return {
    /** Built-in samplers that run; scrape targets come on top. */
    samplers: e.SAMPLERS,
    intervalMs: e.SAMPLE_INTERVAL,
    scrapeTargets: e.SCRAPE_TARGETS,
    scrapeTimeoutMs: e.SCRAPE_TIMEOUT,
    /** A scrape with more samples than this is up=0 and stores nothing (Prometheus' sample_limit). */
    scrapeSampleLimit: e.SCRAPE_SAMPLE_LIMIT,
    criticalMemoryPercent: e.CRITICAL_MEMORY_PERCENT,
    criticalCpuPercent: e.CRITICAL_CPU_PERCENT,
  };
}

function redact(name: string, value: string): string {
  if (name.endsWith('_TOKEN')) return '***';
  // Passwords in URLs (a target's may hold one) never reach an error message or a log.
  if (name.endsWith('_URL') || name === 'SCRAPE_TARGETS')
    return value.replace(/\/\/([^:/@\s,]+):[^@\s,]*@/g, '//$1:***@');
  return value;
}
