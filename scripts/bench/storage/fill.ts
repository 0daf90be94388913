// The storage benchmark's data: a fleet (scripts/bench/fleet.ts) at one point per series per
// minute, written by binary COPY into `points`, with the series' timestamps shared as the
// sampling mode says: every series at the tick's instant (pulse's sample job and demo stamp a
// tick's points with one time), each agent's series at the agent's own instant (processes
// sampling themselves), or each series at its own instant (independent senders).
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { binaryCopyChunks } from '../../../src/metrics/copy-binary.js';
import { sql, text } from '../../../src/metrics/queries.js';
import { COPY_ROWS_PER_CHUNK } from '../copy-stage.js';
import { progress } from '../env.js';
import { blockRows, type SeriesSpec } from '../fleet.js';
import { int } from '../report.js';

export const MODES = ['tick', 'agent', 'series'] as const;
export type Mode = (typeof MODES)[number];

export const MODE_TEXT: Record<Mode, string> = {
  tick: 'every series at the tick’s instant (as pulse’s sample job and the demo stamp them)',
  agent: 'each agent’s series at the agent’s own instant in the minute',
  series: 'each series at its own instant in the minute',
};

/** Where in its minute series i reports, ms, in `mode`. */
function offsetOf(mode: Mode, specs: SeriesSpec[], i: number, metrics: number): number {
  if (mode === 'tick') return 0;
  if (mode === 'series') return (specs[i] as SeriesSpec).offsetMs;
  // An agent is a host: its series are metric i mod M on host ⌊i / M⌋ (fleet()).
  return (specs[Math.floor(i / metrics) * metrics] as SeriesSpec).offsetMs;
}

/**
 * Writes [fromMinute, toMinute) of every series by binary COPY, a day per COPY, half the series
 * on each of the two clients at once; returns the points written and the time taken.
 */
export async function fillPoints(
  clients: pg.Client[],
  specs: SeriesSpec[],
  ids: number[],
  o: { mode: Mode; metrics: number; fromMinute: number; toMinute: number; seed: number },
): Promise<{ points: number; ms: number }> {
  const offsets = specs.map((_, i) => offsetOf(o.mode, specs, i, o.metrics));
  const halves = [0, 1].map((h) => specs.map((_, i) => i).filter((i) => i % 2 === h));
  const started = performance.now();
  let points = 0;
  await Promise.all(
    halves.map(async (which, h) => {
      for (let m = o.fromMinute; m < o.toMinute; m += 1_440) {
        const minutes = Math.min(1_440, o.toMinute - m);
        const rows = blockRows(specs, which, ids, m, minutes, o.seed, offsets);
        await pipeline(
          Readable.from(binaryCopyChunks(rows, COPY_ROWS_PER_CHUNK)),
          (clients[h] as pg.Client).query(copyFrom(text(sql.pointsCopy))),
        );
        points += rows.ts.length;
        if (h === 0) progress(`${o.mode}: ${int(points)} points copied`);
      }
    }),
  );
  return { points, ms: performance.now() - started };
}
