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

/** A one-shot connection for checks: connected by the caller, never retried, errors silenced. */
function probeClient(url: string, timeoutMs: number): Redis {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  return probe;
}

/**
 * Drops a probe's connection. One that never connected is closed already: ioredis's disconnect()
 * would still start its 2 s destroy timer, which nothing clears, and hold the process open.
 */
function disconnectProbe(probe: Redis): void {
  if (probe.status !== 'end') probe.disconnect();
}

/** Resolves true when something at `url` answers PING within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const probe = probeClient(url, timeoutMs);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    disconnectProbe(probe);
  }
}

/**
 * Refuses a REDIS_URL that names a database the server does not have (`redis://host/18` on a
 * server with 16): ioredis would report the failed SELECT as an error event and go on using
 * database 0, so pulse would share another application's keys. Throws with what to change.
 * A server that does not answer is left to the callers' own handling.
 */
export async function checkRedisDatabase(url: string, timeoutMs = 3_000): Promise<void> {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  if (db === '' || db === '0') return;
  if (!/^\d+$/.test(db))
    throw new Error(`REDIS_URL names database "${db}": a Redis database is a number (0, 1, …)`);
  u.pathname = '/';
  const probe = probeClient(u.toString(), timeoutMs);
  try {
    try {
      await probe.connect();
    } catch {
      return;
    }
    try {
      await probe.select(Number(db));
    } catch (err) {
      let have = '';
      try {
        const reply = await probe.config('GET', 'databases');
        if (reply[1]) have = ` (it has ${reply[1]}: 0 to ${Number(reply[1]) - 1})`;
      } catch {
        // CONFIG may be disabled (managed Redis): say what we know.
      }
      throw new Error(
        `REDIS_URL names database ${db}, which the Redis server does not have${have}: ${(err as Error).message}. Use another database number in REDIS_URL, or raise \`databases\` in redis.conf`,
      );
    }
  } finally {
    disconnectProbe(probe);
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
