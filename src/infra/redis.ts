// ioredis connections. BullMQ needs maxRetriesPerRequest=null on its own connections;
// the command connection used by HTTP handlers fails fast instead, so a request sees 503
// rather than hanging while Redis is away.
import { Redis } from 'ioredis';

export type { Redis };

export function createRedis(url: string, name: string, kind: 'bullmq' | 'command'): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: kind === 'bullmq' ? null : 2,
    enableReadyCheck: true,
    lazyConnect: false,
  });
}

/** Resolves true when something at `url` answers PING within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Closes a connection politely (QUIT), or drops it if that fails; a closed one is left alone. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
