// rollup_1h and the regression slots of closed hours, built by a writer of history (an import,
// the demo) from the minutes its own writes appended to rollup_1m, instead of reading every
// minute back as the aggregate job does (its SQL merge of jsonb sketches costs more than the
// points' COPY). Only an hour whose rollup_1m rows are all the writer's (rollup_1m holds as many
// rows and points in it as the writer appended) is built so; any other stays dirty for the
// aggregate job. Same rows as the aggregate job would write.
import type pg from 'pg';
import { copyTransaction, type Db } from '../infra/db.js';
import { HOUR, MINUTE } from '../infra/time.js';
import { BinaryCopyWriter, copyIn } from './copy-binary.js';
import { sql, text } from './queries.js';
import { addMinuteSketch, StatsAcc, type MinuteRollups } from './rollup.js';
import { SketchBuilder } from './sketch.js';

/** Series-hours held at once (about 1 KB each); past it the writer builds what it holds. */
export const HELD_MAX = 20_000;
/** Hours per transaction when building (each holds its hours' exclusive locks). */
const HOURS_PER_TX = 24;
const SLOT = 15 * MINUTE;
const SLOT_BYTES = 54;

const COPY_ROLLUP_1H = text(sql.rollup1hCopy);
const COPY_SLOTS = text(sql.regressionSlotsCopy);

/** One series' hour, as the writer's minutes make it. */
class HourAcc extends StatsAcc {
  /** rollup_1m rows appended. */
  rows = 0;
  readonly sketch = new SketchBuilder();
  /** Per minute of the hour: the sum and count of its values (a minute may span writes). */
  readonly minuteSum = new Float64Array(60);
  readonly minuteCount = new Float64Array(60);
}

/** Closed hours built, and the rollup_1h rows written for them. */
export interface HoursBuilt {
  hours: number;
  rows: number;
}

export class HourRollups {
  private byHour = new Map<number, Map<number, HourAcc>>();
  private held = 0;

  constructor(private readonly db: Db) {}

  /** True when the writer should build what it holds before adding more. */
  get full(): boolean {
    return this.held >= HELD_MAX;
  }

  /** Adds one committed write's minutes (WriteResult.minutes). */
  add(m: MinuteRollups): void {
    let series: Map<number, HourAcc> | undefined;
    let seriesHour = NaN;
    for (let i = 0; i < m.length; i++) {
      const minute = m.buckets[i] as number;
      const hour = minute - (((minute % HOUR) + HOUR) % HOUR);
      if (hour !== seriesHour || series === undefined) {
        series = this.byHour.get(hour);
        if (series === undefined) this.byHour.set(hour, (series = new Map<number, HourAcc>()));
        seriesHour = hour;
      }
      const id = m.seriesIds[i] as number;
      let acc = series.get(id);
      if (acc === undefined) {
        series.set(id, (acc = new HourAcc()));
        this.held += 1;
      }
      const count = m.counts[i] as number;
      const sum = m.sums[i] as number;
      acc.addStats(
        count,
        sum,
        m.mins[i] as number,
        m.maxes[i] as number,
        m.lasts[i] as number,
        m.lastTimes[i] as number,
      );
      acc.rows += 1;
      addMinuteSketch(m, i, acc.sketch);
      const k = (minute - hour) / MINUTE;
      (acc.minuteSum[k] as number) += sum;
      (acc.minuteCount[k] as number) += count;
    }
  }

  /**
   * Builds every closed hour held that is made of this writer's rows alone and still marked
   * dirty (no aggregate job did it meanwhile); says how many hours and rollup_1h rows. Then
   * forgets all it holds: the other hours stay dirty, for the aggregate job. Call it with no
   * write of this writer in flight.
   */
  async build(now = Date.now()): Promise<HoursBuilt> {
    try {
      return await this.buildHours(this.closedBefore(now));
    } finally {
      this.byHour = new Map();
      this.held = 0;
    }
  }

  /**
   * build() for the closed hours that end by `cutoff` (epoch ms) alone, while writes of later
   * hours go on; the rest stays held. A write that meets one of these hours meanwhile leaves
   * it dirty, for the aggregate job.
   */
  async buildBefore(cutoff: number, now = Date.now()): Promise<HoursBuilt> {
    const hours = this.closedBefore(Math.min(cutoff, now));
    try {
      return await this.buildHours(hours);
    } finally {
      for (const h of hours) {
        this.held -= this.byHour.get(h)?.size ?? 0;
        this.byHour.delete(h);
      }
    }
  }

  /** Hours held that end by `end`, ascending. */
  private closedBefore(end: number): number[] {
    return [...this.byHour.keys()].filter((h) => h + HOUR <= end).sort((a, b) => a - b);
  }

  private async buildHours(hours: number[]): Promise<HoursBuilt> {
    const built: HoursBuilt = { hours: 0, rows: 0 };
    for (let i = 0; i < hours.length; i += HOURS_PER_TX) {
      const r = await this.buildSome(hours.slice(i, i + HOURS_PER_TX));
      built.hours += r.hours;
      built.rows += r.rows;
    }
    return built;
  }

  /** One transaction: the hours' exclusive locks, the ones made of our rows built and unmarked. */
  private buildSome(hours: number[]): Promise<HoursBuilt> {
    return copyTransaction(this.db, async (sco, client) => {
      // As the aggregate job: every write still holding these hours commits first, and no
      // write to them commits until this transaction has.
      await sco.one(sql.rollupHoursLock, [hours.map((h) => h / HOUR)]);
      const totals = await sco.manyOrNone<{ hour_ms: number; rows: number; points: number }>(
        sql.rollup1mHourTotals,
        [hours.map((h) => new Date(h))],
      );
      const mine = totals.filter((t) => this.onlyMine(t)).map((t) => new Date(t.hour_ms));
      const taken = await sco.manyOrNone<{ bucket: Date }>(sql.rollupDirtyTake, [mine]);
      const dirty = taken.map((r) => r.bucket.getTime()).sort((a, b) => a - b);
      const rows = dirty.length > 0 ? await this.write(sco, client, dirty) : 0;
      return { hours: dirty.length, rows };
    });
  }

  /** True when rollup_1m holds in the hour exactly the rows and points this writer appended. */
  private onlyMine(t: { hour_ms: number; rows: number; points: number }): boolean {
    const series = this.byHour.get(t.hour_ms);
    if (series === undefined) return false;
    let rows = 0;
    let points = 0;
    for (const acc of series.values()) {
      rows += acc.rows;
      points += acc.count;
    }
    return rows === t.rows && points === t.points;
  }

  private async write(
    t: Pick<Db, 'none'>,
    client: pg.ClientBase,
    hours: number[],
  ): Promise<number> {
    const ids: number[] = [];
    const buckets: Date[] = [];
    const rollups = new BinaryCopyWriter();
    const slots = new BinaryCopyWriter();
    for (const hour of hours) {
      for (const [id, acc] of this.byHour.get(hour) as Map<number, HourAcc>) {
        ids.push(id);
        buckets.push(new Date(hour));
        rollups.row(9);
        rollups.int8(id);
        rollups.timestamptz(hour);
        rollups.stats(acc);
        rollups.jsonb(acc.sketch.toJSON());
        slots.row(3);
        slots.int8(id);
        slots.timestamptz(hour);
        slots.bytea(packSlots(acc, hour));
      }
    }
    await t.none(sql.rollup1hDeleteKeys, [ids, buckets]);
    await copyIn(client, COPY_ROLLUP_1H, rollups.finish());
    const dates = hours.map((h) => new Date(h));
    await t.none(sql.regressionSlotsDelete, [dates]);
    await copyIn(client, COPY_SLOTS, slots.finish());
    return ids.length;
  }
}

/**
 * The hour's 15-minute slots as minute_slots() (migration 011) packs them: per slot with data,
 * in time order, its start (epoch ms, float8), flags (int2: 1 when every minute's mean is a
 * whole number ≥ 0), minutes with data (int4), and the sum and maximum of the minute means,
 * the first and last mean, and the sum of the rises from one minute with data to the next.
 */
function packSlots(acc: HourAcc, hour: number): Buffer {
  const out = Buffer.allocUnsafe(4 * SLOT_BYTES);
  let o = 0;
  for (let slot = 0; slot < 4; slot++) {
    let minutes = 0;
    let vsum = 0;
    let vmax = -Infinity;
    let first = NaN;
    let last = NaN;
    let rises = 0;
    let whole = true;
    for (let k = slot * 15; k < slot * 15 + 15; k++) {
      const n = acc.minuteCount[k] as number;
      if (!(n > 0)) continue;
      const v = (acc.minuteSum[k] as number) / n;
      if (minutes === 0) first = v;
      else if (v > last) rises += v - last;
      last = v;
      minutes += 1;
      vsum += v;
      if (v > vmax) vmax = v;
      if (!(v >= 0 && v === Math.trunc(v))) whole = false;
    }
    if (minutes === 0) continue;
    out.writeDoubleBE(hour + slot * SLOT, o);
    out.writeInt16BE(whole ? 1 : 0, o + 8);
    out.writeInt32BE(minutes, o + 10);
    out.writeDoubleBE(vsum, o + 14);
    out.writeDoubleBE(vmax, o + 22);
    out.writeDoubleBE(first, o + 30);
    out.writeDoubleBE(last, o + 38);
    out.writeDoubleBE(rises, o + 46);
    o += SLOT_BYTES;
  }
  return out.subarray(0, o);
}
