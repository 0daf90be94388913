// Every Redis key pulse writes outside BullMQ's own queue keys, in one place, with the TTLs of
// those that expire.
// With a Redis Cluster, set PULSE_PREFIX to a hash tag such as "{pulse}" so the
// buffer's keys (touched together by one Lua script) share a slot.
import { DAY, HOUR } from './time.js';

export interface Keys {
  /** Redis stream holding accepted, not yet stored points (one entry per chunk of a request). */
  bufferStream: string;
  /** Number of points in bufferStream; kept by the same scripts that add and remove entries. */
  bufferDepth: string;
  /** Bytes of the entries in bufferStream (their series and points), kept like bufferDepth. */
  bufferBytes: string;
  /** Entries that could not be decoded, kept for a person to look at instead of dropped. */
  bufferDead: string;
  /** Number of active series (those in the seriesOf sets), what MAX_SERIES is checked against. */
  seriesActive: string;
  /** Set of the metric names that have active series. */
  seriesMetrics: string;
  /**
   * Sorted set of one metric's active series: fingerprint -> when a point last came (epoch ms).
   * Members idle past SERIES_IDLE_TIMEOUT are trimmed; MAX_SERIES_PER_METRIC is checked here.
   */
  seriesOf(metric: string): string;
  /** Previous counter readings of a sampler, for per-second rates across ticks. */
  samplerRates(name: string): string;
  /** Set while a critical threshold is exceeded on a host: the warning is logged once per episode. */
  criticalEpisode(metric: string, hostname: string): string;
  /** Namespace of the dashboard cache's L2 entries: `${cachePrefix}<entry name>`. */
  cachePrefix: string;
  /** Pub/sub channel on which invalidations reach every API process's L1. */
  cacheInvalidations: string;
}

/** How long the keys that expire live, next to the keys they belong to (ms). */
export const KEY_TTL = {
  /** samplerRates: a reading older than this is no base for a rate. */
  samplerRates: HOUR,
  /** criticalEpisode: an episode no tick has ended (its worker gone) is forgotten after this. */
  criticalEpisode: DAY,
} as const;

/** Consumer group that flush jobs read the buffer stream with. */
export const BUFFER_GROUP = 'flush';

export function keysFor(prefix: string): Keys {
  return {
    bufferStream: `${prefix}:buffer`,
    bufferDepth: `${prefix}:buffer:depth`,
    bufferBytes: `${prefix}:buffer:bytes`,
    bufferDead: `${prefix}:buffer:dead`,
    seriesActive: `${prefix}:series:active`,
    seriesMetrics: `${prefix}:series:metrics`,
    seriesOf: (metric) => `${prefix}:series:m:${metric}`,
    samplerRates: (name) => `${prefix}:sampler:rates:${name}`,
    criticalEpisode: (metric, hostname) => `${prefix}:critical:${metric}:${hostname}`,
    cachePrefix: `${prefix}:cache:`,
    cacheInvalidations: `${prefix}:cache-invalidations`,
  };
}
