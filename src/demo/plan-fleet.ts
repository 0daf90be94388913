// Fleet-level samplers (postgres, redis, queues, scrape): one worker takes each tick. The taker
// changes every TAKER_BLOCK, so each such metric is a series per worker host.
import { MINUTE, HOUR, DAY } from '../infra/time.js';
import type { Tags } from '../metrics/series.js';
import { clamp, gauss, hash, sec, smooth, strHash, u01 } from './noise.js';
import { activity, spike, weekly } from './shapes.js';
import { eventCounter } from './counters.js';
import { workerTags } from './hosts.js';
import type { PlanContext, Spec } from './spec.js';

/** A fleet-level sample is taken by one worker; the taker changes every few hours. */
const TAKER_BLOCK = 6 * HOUR;
const MAX_CONNECTIONS = 100;

/** The fleet-level specs being planned, and the shapes they share. */
export class Fleet {
  readonly specs: Spec[] = [];
  /** The fleet's size against the default of 3 hosts. */
  readonly scale: number;
  private readonly key: number;
  private readonly workerTags: Tags[];
  private readonly taker: (t: number) => number;

  constructor(readonly ctx: PlanContext) {
    const key = strHash(`${ctx.seed}|fleet`);
    const hosts = ctx.hosts;
    this.key = key;
    this.scale = hosts.length / 3;
    this.workerTags = hosts.map(workerTags);
    this.taker = (t) => hash(key, Math.floor(t / TAKER_BLOCK)) % hosts.length;
  }

  /** A metric written under every worker's tags (and `extra`), by the tick's taker. */
  add(metric: string, value: Spec['value'], extra: Tags = {}): void {
    this.specs.push({
      metric,
      variants: this.workerTags.map((w) => ({ ...w, ...extra })),
      pick: this.taker,
      value,
    });
  }

  /** The load of the whole fleet: its activity, and the fleet's own incidents. */
  readonly load = (t: number): number =>
    activity(t) * (1 + 0.06 * smooth(this.key, t, 6 * HOUR)) * (1 + spike(this.key, t));
}

/** What the postgres sampler reports. */
export function postgresSpecs(fleet: Fleet): void {
  const { scale, load: fleetLoad } = fleet;
  const hostCount = fleet.ctx.hosts.length;
  const k = strHash(`${fleet.ctx.seed}|postgres`);
  const active = (t: number) =>
    Math.round(1 + 5 * scale * fleetLoad(t) + Math.abs(gauss(k, sec(t))));
  const idle = (t: number) =>
    Math.max(0, Math.round(hostCount * 6 - 2 * fleetLoad(t) + 1.5 * gauss(k ^ 1, sec(t))));
  const idleInTx = (t: number) => (u01(k ^ 2, sec(t)) < 0.04 ? 1 : 0);
  const total = (t: number) => active(t) + idle(t) + idleInTx(t);
  const deadlocks = eventCounter(k ^ 3, 0.015, 2);
  const dayStart = (t: number) => ((((t - 10 * MINUTE) % DAY) + DAY) % DAY) / DAY;
  fleet.add('database_connections_active', active);
  fleet.add('database_connections_idle', idle);
  fleet.add('database_connections_idle_in_transaction', idleInTx);
  fleet.add('database_connections_total', total);
  fleet.add('database_connections_usage_percentage', (t) => (100 * total(t)) / MAX_CONNECTIONS);
  fleet.add('database_transactions_committed_per_second', (t) =>
    Math.max(0, (6 + 160 * scale * fleetLoad(t)) * (1 + 0.1 * gauss(k ^ 4, sec(t)))),
  );
  fleet.add('database_transactions_rolled_back_per_second', (t) =>
    Math.max(0, 0.02 + 0.12 * fleetLoad(t) * u01(k ^ 5, sec(t)) + 1.5 * spike(k ^ 6, t)),
  );
  fleet.add('database_cache_hit_ratio', (t) =>
    clamp(
      0.9985 - 0.006 * fleetLoad(t) - 0.03 * spike(k ^ 6, t) + 0.0004 * gauss(k ^ 7, sec(t)),
      0,
      1,
    ),
  );
  fleet.add('database_deadlocks_total', (t) => deadlocks.at(t));
  // Grows through the day as points arrive; retention drops the oldest day just after midnight.
  fleet.add(
    'database_size_bytes',
    (t) =>
      Math.round(
        (5.2e9 * scale + 0.9e9 * scale * dayStart(t) * weekly(t) + 2e7 * smooth(k ^ 8, t, HOUR)) /
          8_192,
      ) * 8_192,
  );
}

/** What the redis sampler reports. */
export function redisSpecs(fleet: Fleet): void {
  const { scale, load: fleetLoad } = fleet;
  const hostCount = fleet.ctx.hosts.length;
  const k = strHash(`${fleet.ctx.seed}|redis`);
  fleet.add('redis_used_memory_bytes', (t) =>
    Math.round(
      1.4e7 + 2.2e7 * scale * fleetLoad(t) + 6e7 * spike(k, t) + 5e5 * gauss(k ^ 1, sec(t)),
    ),
  );
  fleet.add('redis_connected_clients', (t) =>
    Math.max(1, hostCount * 10 + 1 + Math.round(1.2 * gauss(k ^ 2, sec(t)))),
  );
  fleet.add('redis_ops_per_second', (t) =>
    Math.max(
      0,
      Math.round((120 + 1_800 * scale * fleetLoad(t)) * (1 + 0.1 * gauss(k ^ 3, sec(t)))),
    ),
  );
  fleet.add('redis_keyspace_hit_ratio', (t) =>
    clamp(0.94 + 0.03 * smooth(k ^ 4, t, 8 * HOUR) + 0.005 * gauss(k ^ 5, sec(t)), 0, 1),
  );
  // noeviction never evicts: the counter stays at 0, as it should.
  fleet.add('redis_evicted_keys_total', () => 0);
  fleet.add('redis_maxmemory_policy_noeviction', () => 1);
}
