// PostgreSQL sampler: connections by state and their share of max_connections, transaction
// rates, cache hit ratio, deadlocks and size, for the database pulse stores into.
import type { Redis } from 'ioredis';
import type { Db } from '../infra/db.js';
import { sql } from '../metrics/queries.js';
import { rates } from './rates.js';
import type { Sample } from './types.js';

interface Activity {
  active: number;
  idle: number;
  idle_in_transaction: number;
  total: number;
  max_connections: number;
}

interface DatabaseStats {
  xact_commit: number;
  xact_rollback: number;
  blks_hit: number;
  blks_read: number;
  deadlocks: number;
  size_bytes: number;
}

export async function samplePostgres(deps: {
  db: Db;
  redis: Redis;
  rateKey: string;
  now: number;
}): Promise<Sample[]> {
  const [a, d] = await Promise.all([
    deps.db.one<Activity>(sql.samplePostgresActivity),
    deps.db.one<DatabaseStats>(sql.samplePostgresDatabase),
  ]);
  const r = await rates(deps.redis, deps.rateKey, deps.now, {
    xact_commit: d.xact_commit,
    xact_rollback: d.xact_rollback,
  });
  const samples: Sample[] = [
    { name: 'database_connections_active', value: a.active },
    { name: 'database_connections_idle', value: a.idle },
    { name: 'database_connections_idle_in_transaction', value: a.idle_in_transaction },
    { name: 'database_connections_total', value: a.total },
    { name: 'database_connections_usage_percentage', value: (100 * a.total) / a.max_connections },
    { name: 'database_deadlocks_total', value: d.deadlocks },
    { name: 'database_size_bytes', value: d.size_bytes },
  ];
  const reads = d.blks_hit + d.blks_read;
  if (reads > 0) samples.push({ name: 'database_cache_hit_ratio', value: d.blks_hit / reads });
  if (r.xact_commit !== undefined)
    samples.push({ name: 'database_transactions_committed_per_second', value: r.xact_commit });
  if (r.xact_rollback !== undefined)
    samples.push({ name: 'database_transactions_rolled_back_per_second', value: r.xact_rollback });
  return samples;
}
