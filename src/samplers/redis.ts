// Redis sampler: memory, clients, throughput, keyspace hit ratio, evictions, and whether the
// eviction policy is noeviction (BullMQ and the buffer must never have keys evicted).
import type { Redis } from 'ioredis';
import type { Sample } from './types.js';

/** INFO's `key:value` lines as a map (sections and comments skipped). */
export function parseInfo(text: string): Map<string, string> {
  const info = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) info.set(line.slice(0, i), line.slice(i + 1));
  }
  return info;
}

export async function sampleRedis(deps: {
  redis: Redis;
}): Promise<{ samples: Sample[]; policy: string }> {
  const [info, policyReply] = await Promise.all([
    deps.redis.info(),
    deps.redis.config('GET', 'maxmemory-policy'),
  ]);
  const map = parseInfo(info);
  const policy = policyReply[1] ?? map.get('maxmemory_policy') ?? 'unknown';
  const num = (key: string) => Number(map.get(key));
  const samples: Sample[] = [
    { name: 'redis_used_memory_bytes', value: num('used_memory') },
    { name: 'redis_connected_clients', value: num('connected_clients') },
    { name: 'redis_ops_per_second', value: num('instantaneous_ops_per_sec') },
    { name: 'redis_evicted_keys_total', value: num('evicted_keys') },
    { name: 'redis_maxmemory_policy_noeviction', value: policy === 'noeviction' ? 1 : 0 },
  ];
  const hits = num('keyspace_hits');
  const misses = num('keyspace_misses');
  if (hits + misses > 0)
    samples.push({ name: 'redis_keyspace_hit_ratio', value: hits / (hits + misses) });
  return { samples: samples.filter((s) => Number.isFinite(s.value)), policy };
}
