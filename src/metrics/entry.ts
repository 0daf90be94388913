// Validated points as a DecodedEntry, for writers that hand points to PointStore directly
// instead of going through the Redis buffer (src/demo/writer.ts). The entry is built by the
// buffer's own encoder and decoder, so series definitions and fingerprints are exactly the
// ones a flush would store for the same points: one series logic, not two.
import { decodeEntry, encodeEntry, type DecodedEntry } from './buffer.js';
import type { Point } from './point.js';

/** One entry holding `points` in order, with their series resolved as encodeEntry does. */
export function entryOf(points: Point[]): DecodedEntry {
  return decodeEntry(encodeEntry(points));
}
