// The flush job: moves points from the Redis buffer into PostgreSQL, batch by batch.
// An entry is acknowledged only after the transaction holding its points committed, so a
// crash at any moment leaves it to be stored again, and the primary key makes that harmless.
import type { Logger } from '../infra/logger.js';
import {
  decodeEntry,
  EntryDecodeError,
  type BufferEntry,
  type DecodedEntry,
  type PointBuffer,
} from '../metrics/buffer.js';
import type { PointStore } from '../metrics/store.js';

export interface FlushPayload {
  /** Why the flush was asked for; only shown in logs and Bull Board. */
  reason: 'schedule' | 'threshold' | 'manual';
}

export interface FlushDeps {
  buffer: PointBuffer;
  store: PointStore;
  log: Logger;
  /** Consumer name in the buffer's group; unique per concurrently running flush. */
  consumer: string;
  readEntries: number;
  claimIdleMs: number;
  /** Stops between batches when aborted (shutdown); the current batch always completes. */
  signal?: AbortSignal;
  /** Stop taking new batches after this long, so one job never runs unbounded. */
  budgetMs?: number;
}

export interface FlushResult {
  batches: number;
  points: number;
  inserted: number;
  /** Points that were already stored (a re-delivered batch). */
  duplicates: number;
  deadLettered: number;
  ms: number;
}

export async function flush(deps: FlushDeps, payload: FlushPayload): Promise<FlushResult> {
  const started = Date.now();
  const budget = deps.budgetMs ?? 30_000;
  const result: FlushResult = {
    batches: 0,
    points: 0,
    inserted: 0,
    duplicates: 0,
    deadLettered: 0,
    ms: 0,
  };
  while (!deps.signal?.aborted && Date.now() - started < budget) {
    const entries = await deps.buffer.read(deps.consumer, deps.readEntries, deps.claimIdleMs);
    if (entries.length === 0) break;
    const good: BufferEntry[] = [];
    const decoded: DecodedEntry[] = [];
    for (const entry of entries) {
      try {
        decoded.push(decodeEntry(entry));
        good.push(entry);
      } catch (err) {
        if (!(err instanceof EntryDecodeError)) throw err;
        deps.log.error(
          { entry: entry.id, err },
          'buffer entry cannot be decoded; moved to the dead-letter stream',
        );
        await deps.buffer.deadLetter(entry, err.message);
        result.deadLettered += entry.count;
      }
    }
    const written = await deps.store.write(decoded);
    await deps.buffer.ack(good);
    result.batches += 1;
    result.points += written.points;
    result.inserted += written.inserted;
    result.duplicates += written.points - written.inserted;
    if (written.slowPath) {
      deps.log.info(
        { points: written.points, inserted: written.inserted },
        'batch met stored points; duplicates skipped',
      );
    }
  }
  result.ms = Date.now() - started;
  if (result.batches > 0) deps.log.debug({ ...result, reason: payload.reason }, 'flush done');
  return result;
}
