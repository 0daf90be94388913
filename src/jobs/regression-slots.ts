// The regression job's input: every series' 15-minute slots over the baseline and recent
// windows, as minute_slots() (migration 011) packs them, the stored ones for whole hours with
// the computed ones for the open, dirty and cut hours; and a metric's slots merged from its
// series'.
import { cancellable } from '../infra/abort.js';
import type { Db } from '../infra/db.js';
import { MINUTE } from '../infra/time.js';
import { sql } from '../metrics/queries.js';
import type { Slot } from '../metrics/regression.js';
import { SLOT_MS } from '../metrics/seasonal.js';

/** Slots as minute_slots() (migration 011) packs them: 54 bytes each. */
const SLOT_BYTES = 54;

export interface Window {
  from: number;
  split: number;
  to: number;
  /** Slot starts a window edge cuts: read from the computed slots only. */
  edges: Set<number>;
}

export interface Slots {
  baseline: Slot[];
  recent: Slot[];
}

/** Decodes packed slots, in their order, into `out` (those `keep` wants). */
function decode(packed: Buffer | null, w: Window, keep: (t: number) => boolean, out: Slots): void {
  if (!packed) return;
  const v = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  for (let o = 0; o + SLOT_BYTES <= packed.length; o += SLOT_BYTES) {
    const t = v.getFloat64(o);
    if (!keep(t)) continue;
    const flags = v.getInt16(o + 8);
    ((flags & 2) !== 0 || t >= w.split ? out.recent : out.baseline).push({
      t,
      whole: (flags & 1) !== 0,
      minutes: v.getInt32(o + 10),
      vsum: v.getFloat64(o + 14),
      vmax: v.getFloat64(o + 22),
      first: v.getFloat64(o + 30),
      last: v.getFloat64(o + 38),
      rises: v.getFloat64(o + 46),
    });
  }
}

/** Two lists of slots in time order as one (a slot cut by the split is in both windows). */
function interleave(a: Slot[], b: Slot[]): Slot[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: Slot[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length)
    out.push(
      j >= b.length || (i < a.length && (a[i] as Slot).t <= (b[j] as Slot).t)
        ? (a[i++] as Slot)
        : (b[j++] as Slot),
    );
  return out;
}

/**
 * One series' slots, baseline and recent: the stored ones (whole hours: only the slots inside
 * the window and not cut by an edge) with the computed ones (dirty and open hours, edges).
 */
function seriesSlots(stored: Buffer | null, computed: Buffer | null, w: Window): Slots {
  const s: Slots = { baseline: [], recent: [] };
  decode(stored, w, (t) => t >= w.from && t + SLOT_MS <= w.to && !w.edges.has(t), s);
  const c: Slots = { baseline: [], recent: [] };
  decode(computed, w, () => true, c);
  return { baseline: interleave(s.baseline, c.baseline), recent: interleave(s.recent, c.recent) };
}

/**
 * A metric's slots from its series': a slot's level is the mean of all their minutes in it,
 * and its minutes the most any series had. It is a count of events only when one series is the
 * whole metric (a mean over several series is no count).
 */
export function mergeSlots(lists: Slot[][]): Slot[] {
  if (lists.length === 1) return lists[0] as Slot[];
  const byT = new Map<number, { slot: Slot; minutes: number; vsum: number }>();
  for (const list of lists)
    for (const p of list) {
      const m = byT.get(p.t);
      if (!m)
        byT.set(p.t, {
          slot: { ...p, whole: false, first: 0, last: 0, rises: 0 },
          minutes: p.minutes,
          vsum: p.vsum,
        });
      else {
        m.minutes += p.minutes;
        m.vsum += p.vsum;
        m.slot.minutes = Math.max(m.slot.minutes, p.minutes);
        m.slot.vmax = Math.max(m.slot.vmax, p.vmax);
      }
    }
  const merged = [...byT.values()].sort((x, y) => x.slot.t - y.slot.t);
  for (const m of merged) m.slot.vsum = (m.slot.minutes * m.vsum) / m.minutes;
  return merged.map((m) => m.slot);
}

/** The share of a window's 15-minute slots that hold at least one minute. */
export function coverage(slots: Slot[], from: number, to: number): number {
  return slots.length / Math.max(1, Math.ceil((to - from) / SLOT_MS));
}

/** The slot starts that the window's edges cut (a slot partly inside is computed, not read). */
function edgeSlots(...edges: number[]): Set<number> {
  return new Set(edges.filter((t) => t % SLOT_MS !== 0).map((t) => t - (t % SLOT_MS)));
}

/** The windows of a run at `now`: the baseline, then the recent one, ending on a minute. */
export function windowOf(now: number, c: { baselineMs: number; recentMs: number }): Window {
  const to = now - (now % MINUTE);
  const split = to - c.recentMs;
  const from = to - c.baselineMs;
  return { from, split, to, edges: edgeSlots(from, split, to) };
}

/** Every series' slots in the windows, by series id (series without any are absent). */
export async function readSlots(
  db: Db,
  signal: AbortSignal | undefined,
  w: Window,
): Promise<Map<number, Slots>> {
  const packed = await cancellable(db, signal, 'regression read', (t) =>
    t.manyOrNone<{
      series_id: string;
      stored: Buffer | null;
      computed: Buffer | null;
    }>(sql.regressionSlotsRead, [
      new Date(w.from),
      new Date(w.split),
      new Date(w.to),
      [...w.edges].map((t) => new Date(t)),
    ]),
  );
  return new Map(packed.map((r) => [Number(r.series_id), seriesSlots(r.stored, r.computed, w)]));
}
