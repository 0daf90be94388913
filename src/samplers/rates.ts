// Per-second rates from monotonic counters (transactions, jobs completed) for samplers that
// run as fleet-wide jobs: consecutive ticks may run in different processes, so the previous
// reading lives in Redis, not in memory.
import type { Redis } from 'ioredis';
import { KEY_TTL } from '../infra/keys.js';

/** Rate per second of each counter since the previous call with the same key, or undefined. */
export async function rates(
  redis: Redis,
  key: string,
  now: number,
  counters: Record<string, number>,
): Promise<Record<string, number | undefined>> {
  const fields = Object.entries(counters).flatMap(([k, v]) => [k, String(v)]);
  // Read the previous reading and store this one in one round trip, atomically.
  const [[, previous]] = (await redis
    .multi()
    .hgetall(key)
    .hset(key, 'ts', String(now), ...fields)
    .pexpire(key, KEY_TTL.samplerRates)
    .exec()) as [[Error | null, Record<string, string>], ...unknown[]];
  const out: Record<string, number | undefined> = {};
  const dt = (now - Number(previous.ts)) / 1_000;
  for (const [name, value] of Object.entries(counters)) {
    const before = Number(previous[name]);
    // No previous reading, a clock step, or a counter reset (server restart): no rate this time.
    out[name] =
      Number.isFinite(before) && dt > 0 && value >= before ? (value - before) / dt : undefined;
  }
  return out;
}
