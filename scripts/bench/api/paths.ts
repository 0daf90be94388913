// What the API benchmark asks the API for, and how long the answers stay in its cache.
import { HOUR } from '../../../src/infra/time.js';

/** The entries live this long (CACHE_TTL of the API and the warm job): no run outlives them. */
export const CACHE_TTL = '1h';
export const CACHE_TTL_MS = HOUR;

export const SUMMARY_PATH = '/api/v1/metrics/summary?time_range=24h';
export const SUMMARY_7D_PATH = '/api/v1/metrics/summary?time_range=7d';
export const trend24hPath = (metric: string) =>
  `/api/v1/time-series?metric_name=${encodeURIComponent(metric)}&time_range=24h&resolution=5m`;
export const trendPath = (metric: string) =>
  `/api/v1/time-series?metric_name=${encodeURIComponent(metric)}&time_range=7d&resolution=1h`;
