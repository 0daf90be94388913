// Validated points as a DecodedEntry, for writers that hand points to PointStore directly
// instead of going through the Redis buffer (the demo, tests). Each point's series is found by
// cachedSeriesDef, as the buffer's encoder finds it, so series definitions and fingerprints are
// exactly the ones a flush would store for the same points: one series logic, not two.
import type { DecodedEntry, EntrySeries } from './buffer.js';
import type { Point } from './point.js';
import { cachedSeriesDef, type SeriesDef } from './series.js';

/** One entry holding `points` in order, with their series resolved as encodeEntry does. */
export function entryOf(points: Point[]): DecodedEntry {
  const index = new Map<SeriesDef, number>();
  const series: EntrySeries[] = [];
  const n = points.length;
  const entry: DecodedEntry = {
    series,
    seriesIndex: new Uint32Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const p = points[i] as Point;
    const def = cachedSeriesDef(p);
    let s = index.get(def);
    if (s === undefined) {
      s = series.length;
      index.set(def, s);
      series.push(def);
    }
    entry.seriesIndex[i] = s;
    entry.ts[i] = p.ts;
    entry.value[i] = p.value;
  }
  return entry;
}
