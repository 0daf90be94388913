// What the stages of the rollup benchmark share: their context, CPU snapshots that tell this
// database's backends from other ones, a store whose statements are timed, small utilities.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Db } from '../../../src/infra/db.js';
import type { Logger } from '../../../src/infra/logger.js';
import { sql } from '../../../src/metrics/queries.js';
import { PointStore } from '../../../src/metrics/store.js';
import { type CpuRoles, cpuSnapshot, type CpuSnapshot } from '../cpu.js';
import type { Resources } from '../env.js';
import type { FlushDefaults } from '../flush-stage.js';
import { fixed } from '../report.js';
import type { Options } from './options.js';
import type { SeriesSpec } from './series.js';

export const alignDown = (ms: number, unit: number) => ms - (((ms % unit) + unit) % unit);
export const seconds = (ms: number) => fixed(ms / 1_000, 2);

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export async function countRows(db: Db, table: string): Promise<number> {
  return (await db.one<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${table}`)).n;
}

export async function emptyTables(db: Db): Promise<void> {
  await db.none(
    'TRUNCATE points, rollup_1m, rollup_1h, rollup_dirty_hours, metric_rollup, metric_rollup_partial, regression_slots',
  );
}

// ---------------------------------------------------------------------------------------------
// Timing inside PointStore.write without changing it: the store gets a Db whose connections
// time the statements it sends (the rollup_1m append and dirty-hour mark; the COMMIT).

export interface StatementTimes {
  rollupMs: number;
  commitMs: number;
}

type Conn = Awaited<ReturnType<Db['connect']>>;

function timedDb(db: Db, times: StatementTimes): Db {
  const timedConn = (conn: Conn): Conn =>
    new Proxy(conn, {
      get(target, prop) {
        if (prop === 'none') {
          return async (query: Parameters<Conn['none']>[0], values?: unknown) => {
            const started = performance.now();
            try {
              return await target.none(query, values);
            } finally {
              const ms = performance.now() - started;
              if (query === sql.rollup1mAppend || query === sql.rollupDirtyMark)
                times.rollupMs += ms;
              else if (query === 'COMMIT') times.commitMs += ms;
            }
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function'
          ? (value as (...args: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'connect')
        return async (...args: Parameters<Db['connect']>) =>
          timedConn(await target.connect(...args));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** A store whose statements are timed (rollup SQL, commit). */
export function timedStore(db: Db): { store: PointStore; times: StatementTimes; reset(): void } {
  const times: StatementTimes = { rollupMs: 0, commitMs: 0 };
  return {
    store: new PointStore(timedDb(db, times)),
    times,
    reset() {
      times.rollupMs = times.commitMs = 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared context of the stages

export interface Ctx {
  db: Db;
  dbUrl: string;
  redis: Redis;
  res: Resources;
  roles: CpuRoles;
  specs: SeriesSpec[];
  /** Series id of each spec, same order. */
  ids: number[];
  flushDefaults: FlushDefaults;
  log: Logger;
  opts: Options;
  database: string;
  /** Connection to the server's maintenance database (pg_stat_activity samples), its backend. */
  admin: pg.Client;
  adminPid: number;
}

/**
 * CPU ticks by group, as bench-lib's cpuSnapshot counts them, except that PostgreSQL backends
 * serving another database (other users of a shared server) count as "other", not "postgres".
 */
export function snapshot(ctx: Ctx): CpuSnapshot {
  const snap = cpuSnapshot(ctx.roles);
  for (const [pid, entry] of snap) {
    if (entry.group !== 'postgres' || pid === ctx.roles.postgres) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // exited meanwhile
    }
    // A backend's title: "postgres: [cluster: ]user database host(port) state".
    const backend = /^postgres: (?:\S+: )?\S+ (\S+) (?:\[local\]|\S+\(\d+\))/.exec(title);
    if (backend && backend[1] !== ctx.database && pid !== ctx.adminPid) entry.group = 'other';
  }
  return snap;
}
