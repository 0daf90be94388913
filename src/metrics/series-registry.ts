// The registry of active series: per metric, the series that received points within
// SERIES_IDLE_TIMEOUT, kept in Redis, so every ingest process, sampler and import enforces
// MAX_SERIES and MAX_SERIES_PER_METRIC against the same counts without asking PostgreSQL.
// It must never refuse a series that is already stored: a limit stops new series only.
import type { Redis } from 'ioredis';
import type { Keys } from '../infra/keys.js';
import { MINUTE } from '../infra/time.js';

export interface SeriesLimits {
  /** Active series across every metric (MAX_SERIES). */
  maxSeries: number;
  /** Active series of one metric (MAX_SERIES_PER_METRIC). */
  maxPerMetric: number;
  /** A series with no point for this long no longer counts (SERIES_IDLE_TIMEOUT). */
  idleMs: number;
}

/** What the registry needs of a series: its identity and its metric. */
export interface SeriesRef {
  fingerprint: string;
  metricName: string;
}

export type LimitName = 'MAX_SERIES' | 'MAX_SERIES_PER_METRIC';

/** Series a limit kept out, all of one metric and one limit. */
export interface SeriesRefusal {
  metricName: string;
  limit: LimitName;
  /** The limit's value. */
  max: number;
  fingerprints: string[];
}

/**
 * The admission part of a script call: keys and arguments that admission_check() in the Lua
 * below reads, and what was sent, to remember once the call succeeded.
 */
export interface Admission {
  keys: string[];
  args: (string | number)[];
  sent: string[];
  now: number;
}

// Shared by the admission script and the buffer's append script (buffer.ts), which admits a
// request's series and buffers its points in one step: a request refused by a limit leaves no
// series behind, and one refused for a full buffer counts none.
//
// admission_check(k0, a0) reads KEYS[k0] the active-series count, KEYS[k0 + 1] the set of
// metrics with active series, KEYS[k0 + 1 + g] group g's sorted set (fingerprint -> last time
// seen), and ARGV[a0 ..]: now, idle cutoff, MAX_SERIES, MAX_SERIES_PER_METRIC, mode ("all":
// all or nothing; "fit": admit what fits, in order), group count, then per group the metric,
// n, and n fingerprints (a leading "!" marks one PostgreSQL already stores: admitted past any
// limit, since it is not new). It returns a plan for admission_commit(), or nil and a refusal:
// {2 (the metric's limit) or 3 (MAX_SERIES), group, count, the group's (3: every group's) new
// fingerprints}. In "fit" mode the plan lists the fingerprints kept out ("M" or "T" + fp).
export const ADMISSION_LUA = `
local function admission_check(k0, a0)
  local groups = tonumber(ARGV[a0 + 5])
  local plan = { groups = {}, added = 0, refused = {} }
  if groups == 0 then return plan end
  local idle_before = ARGV[a0 + 1]
  local max_series = tonumber(ARGV[a0 + 2])
  local max_per = tonumber(ARGV[a0 + 3])
  local fit = ARGV[a0 + 4] == 'fit'
  local total = tonumber(redis.call('GET', KEYS[k0]) or '0')
  if total < 0 then total = 0 end
  local a = a0 + 6
  local over = nil
  local all_new = {}
  local first_new_group = nil
  for g = 1, groups do
    local key = KEYS[k0 + 1 + g]
    local metric = ARGV[a]
    local n = tonumber(ARGV[a + 1])
    a = a + 2
    local card = redis.call('ZCARD', key)
    if card + n > max_per then
      -- Near the limit: series idle past the timeout stop counting before anything is judged.
      local removed = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. idle_before)
      if removed > 0 then
        card = card - removed
        total = total - removed
        redis.call('DECRBY', KEYS[k0], removed)
      end
    end
    local keep = {}
    local new_checked = {}
    local added = 0
    for i = a, a + n - 1 do
      local fp = ARGV[i]
      local stored = string.byte(fp, 1) == 33
      if stored then fp = string.sub(fp, 2) end
      if redis.call('ZSCORE', key, fp) then
        keep[#keep + 1] = fp
      elseif stored then
        keep[#keep + 1] = fp
        added = added + 1
      elseif fit then
        if card + added >= max_per then
          plan.refused[#plan.refused + 1] = 'M' .. fp
        elseif total + plan.added + added >= max_series then
          plan.refused[#plan.refused + 1] = 'T' .. fp
        else
          keep[#keep + 1] = fp
          added = added + 1
        end
      else
        keep[#keep + 1] = fp
        added = added + 1
        new_checked[#new_checked + 1] = fp
        all_new[#all_new + 1] = fp
      end
    end
    a = a + n
    if #new_checked > 0 then
      if first_new_group == nil then first_new_group = g end
      if over == nil and card + added > max_per then
        over = { 2, g, card }
        for _, fp in ipairs(new_checked) do over[#over + 1] = fp end
      end
    end
    plan.groups[g] = { key = key, metric = metric, keep = keep, added = added }
    plan.added = plan.added + added
  end
  if over then return nil, over end
  if first_new_group ~= nil and total + plan.added > max_series then
    local refusal = { 3, first_new_group, total }
    for _, fp in ipairs(all_new) do refusal[#refusal + 1] = fp end
    return nil, refusal
  end
  return plan
end

local function admission_commit(k0, plan, now)
  for _, group in ipairs(plan.groups) do
    local keep = group.keep
    for i = 1, #keep, 500 do
      local args = {}
      for j = i, math.min(i + 499, #keep) do
        args[#args + 1] = now
        args[#args + 1] = keep[j]
      end
      redis.call('ZADD', group.key, unpack(args))
    end
    if group.added > 0 then redis.call('SADD', KEYS[k0 + 1], group.metric) end
  end
  if plan.added > 0 then redis.call('INCRBY', KEYS[k0], plan.added) end
end
`;

const ADMIT = `${ADMISSION_LUA}
local plan, refusal = admission_check(1, 1)
if not plan then return refusal end
admission_commit(1, plan, ARGV[1])
local out = { 1 }
for _, r in ipairs(plan.refused) do out[#out + 1] = r end
return out
`;

// Drops one metric's series idle past the cutoff; forgets the metric when none is left.
const TRIM = `
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
if removed > 0 then
  if redis.call('DECRBY', KEYS[1], removed) < 0 then redis.call('SET', KEYS[1], 0) end
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return removed
`;

/** The admission arguments of a call that admits nothing (no registry, or nothing to send). */
export const NO_ADMISSION: Admission = { keys: [], args: [0, 0, 0, 0, 'all', 0], sent: [], now: 0 };

/** Answers which of the fingerprints PostgreSQL stores (their series are not new). */
export type StoredSeries = (fingerprints: string[]) => Promise<Set<string>>;

/** Points sent without a refresh for at most this long per series and process. */
const MAX_REFRESH_MS = 10 * MINUTE;
/** Series remembered as recently refreshed per process; past it the memory starts over. */
const SENT_MAX = 200_000;

export class SeriesRegistry {
  /** When this process last told Redis about each series (so most requests send nothing). */
  private readonly sent = new Map<string, number>();
  private readonly refreshMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly limits: SeriesLimits,
    private readonly stored?: StoredSeries,
  ) {
    this.refreshMs = Math.max(1_000, Math.min(limits.idleMs / 10, MAX_REFRESH_MS));
  }

  /**
   * The admission arguments for `series` (distinct fingerprints): every series this process
   * has not refreshed lately, grouped by metric; those in `known` marked as stored.
   */
  prepare(
    series: Iterable<SeriesRef>,
    mode: 'all' | 'fit',
    known: ReadonlySet<string> = new Set(),
    now = Date.now(),
  ): Admission {
    const groups = new Map<string, string[]>();
    const sent: string[] = [];
    for (const s of series) {
      const isKnown = known.has(s.fingerprint);
      if (!isKnown) {
        const last = this.sent.get(s.fingerprint);
        if (last !== undefined && now - last < this.refreshMs) continue;
      }
      let list = groups.get(s.metricName);
      if (!list) groups.set(s.metricName, (list = []));
      list.push(isKnown ? `!${s.fingerprint}` : s.fingerprint);
      sent.push(s.fingerprint);
    }
    if (groups.size === 0) return NO_ADMISSION;
    const { maxSeries, maxPerMetric, idleMs } = this.limits;
    const keys = [this.keys.seriesActive, this.keys.seriesMetrics];
    const args: (string | number)[] = [
      now,
      now - idleMs,
      maxSeries,
      maxPerMetric,
      mode,
      groups.size,
    ];
    for (const [metric, fps] of groups) {
      keys.push(this.keys.seriesOf(metric));
      args.push(metric, fps.length, ...fps);
    }
    return { keys, args, sent, now };
  }

  /** Remembers what a successful call sent (less what it kept out), so it is not sent again soon. */
  admitted(admission: Admission, keptOut: ReadonlySet<string> = new Set()): void {
    if (this.sent.size + admission.sent.length > SENT_MAX) this.sent.clear();
    for (const fp of admission.sent) if (!keptOut.has(fp)) this.sent.set(fp, admission.now);
  }

  /**
   * The refusal a script call answered ({2|3, group, count, fingerprints...}), named: which
   * metric and which limit.
   */
  refusal(admission: Admission, reply: unknown[]): SeriesRefusal {
    const code = Number(reply[0]);
    const group = Number(reply[1]);
    // Group g's metric is the first of its three-part run (metric, n, fingerprints) of args.
    let a = 6;
    for (let g = 1; g < group; g++) a += 2 + Number(admission.args[a + 1]);
    return {
      metricName: String(admission.args[a]),
      limit: code === 2 ? 'MAX_SERIES_PER_METRIC' : 'MAX_SERIES',
      max: code === 2 ? this.limits.maxPerMetric : this.limits.maxSeries,
      fingerprints: reply.slice(3).map(String),
    };
  }

  /** Which of `fingerprints` PostgreSQL stores already (none without a store to ask). */
  async storedOf(fingerprints: string[]): Promise<Set<string>> {
    if (!this.stored || fingerprints.length === 0) return new Set();
    return this.stored(fingerprints);
  }

  /**
   * Admits what fits of `series` (distinct fingerprints) in order, for sources that store what
   * they may and report the rest (samplers, scrapes, imports). Returns the refusals, by metric
   * and limit; a series PostgreSQL stores is never among them.
   */
  async admit(series: SeriesRef[], now = Date.now()): Promise<SeriesRefusal[]> {
    const metricOf = new Map(series.map((s) => [s.fingerprint, s.metricName]));
    const first = await this.run(this.prepare(series, 'fit', new Set(), now));
    if (first.size === 0) return [];
    // Kept out, unless PostgreSQL stores them: those are admitted past the limits.
    const stored = await this.storedOf([...first.keys()]);
    if (stored.size > 0) {
      const again = series.filter((s) => stored.has(s.fingerprint));
      await this.run(this.prepare(again, 'fit', stored, now));
    }
    const byKey = new Map<string, SeriesRefusal>();
    for (const [fp, limit] of first) {
      if (stored.has(fp)) continue;
      const metricName = metricOf.get(fp) as string;
      const key = `${limit}\u0000${metricName}`;
      let r = byKey.get(key);
      if (!r) {
        const max = limit === 'MAX_SERIES' ? this.limits.maxSeries : this.limits.maxPerMetric;
        byKey.set(key, (r = { metricName, limit, max, fingerprints: [] }));
      }
      r.fingerprints.push(fp);
    }
    return [...byKey.values()];
  }

  /** One "fit" call: the fingerprints kept out, with the limit that kept each. */
  private async run(admission: Admission): Promise<Map<string, LimitName>> {
    const keptOut = new Map<string, LimitName>();
    if (admission.sent.length === 0) return keptOut;
    const reply = (await this.redis.eval(
      ADMIT,
      admission.keys.length,
      ...admission.keys,
      ...admission.args,
    )) as string[];
    for (const r of reply.slice(1))
      keptOut.set(r.slice(1), r[0] === 'M' ? 'MAX_SERIES_PER_METRIC' : 'MAX_SERIES');
    this.admitted(admission, new Set(keptOut.keys()));
    return keptOut;
  }

  /**
   * Forgets series idle past SERIES_IDLE_TIMEOUT, metric by metric (the maintenance job's
   * step; admission also trims a metric it finds near its limit). Returns how many went.
   */
  async trim(now = Date.now()): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, metrics] = await this.redis.sscan(this.keys.seriesMetrics, cursor, 'COUNT', 500);
      cursor = next;
      for (const metric of metrics) {
        removed += (await this.redis.eval(
          TRIM,
          3,
          this.keys.seriesActive,
          this.keys.seriesOf(metric),
          this.keys.seriesMetrics,
          now - this.limits.idleMs,
          metric,
        )) as number;
      }
    } while (cursor !== '0');
    return removed;
  }

  /** Active series across every metric. */
  async active(): Promise<number> {
    return Math.max(0, Number((await this.redis.get(this.keys.seriesActive)) ?? 0));
  }

  /** Active series of one metric. */
  activeOf(metric: string): Promise<number> {
    return this.redis.zcard(this.keys.seriesOf(metric));
  }
}

/** "MAX_SERIES_PER_METRIC (10,000) ..." : why a series was refused, for error bodies and logs. */
export function refusalReason(r: Pick<SeriesRefusal, 'metricName' | 'limit' | 'max'>): string {
  const max = r.max.toLocaleString('en-US');
  return r.limit === 'MAX_SERIES_PER_METRIC'
    ? `would create a new series of ${r.metricName}, which already has ${max} active series (MAX_SERIES_PER_METRIC); points of its existing series are accepted`
    : `would create a new series of ${r.metricName}, and pulse already holds ${max} active series (MAX_SERIES); points of existing series are accepted`;
}
