// The flush job: moves points from the Redis buffer into PostgreSQL, batch by batch.
// An entry is acknowledged only after the transaction holding its points committed, so a
// crash at any moment leaves it to be stored again, and the primary key makes that harmless.
import type { Logger } from '../infra/logger.js';
import { isPermanent } from '../infra/pg-errors.js';
import {
  decodeEntry,
  EntryDecodeError,
  type BufferEntry,
  type DecodedEntry,
  type PointBuffer,
} from '../metrics/buffer.js';
import type { PointStore, WriteResult } from '../metrics/store.js';

export interface FlushPayload {
  /** Why the flush was asked for; only shown in logs and Bull Board. */
  reason: 'schedule' | 'threshold' | 'critical' | 'manual';
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

interface Batch {
  entries: BufferEntry[];
  decoded: DecodedEntry[];
  /** Entries of this read moved to the dead-letter stream. */
  dead: number;
}

/** Decodes what was read; entries that cannot be decoded go to the dead-letter stream. */
async function decodeAll(
  deps: FlushDeps,
  read: BufferEntry[],
  result: FlushResult,
): Promise<Batch> {
  const batch: Batch = { entries: [], decoded: [], dead: 0 };
  for (const entry of read) {
    try {
      batch.decoded.push(decodeEntry(entry));
      batch.entries.push(entry);
    } catch (err) {
      if (!(err instanceof EntryDecodeError)) throw err;
      deps.log.error(
        { entry: entry.id, err },
        'buffer entry cannot be decoded; moved to the dead-letter stream',
      );
      await deps.buffer.deadLetter(entry, err.message);
      result.deadLettered += Math.max(0, entry.count);
      batch.dead += 1;
    }
  }
  return batch;
}

async function isolate(
  deps: FlushDeps,
  batch: Batch,
  result: FlushResult,
  cause: Error,
): Promise<WriteResult> {
  deps.log.warn(
    { err: cause.message, entries: batch.entries.length },
    'PostgreSQL refused a batch; storing its entries one by one',
  );
  const total: WriteResult = { points: 0, inserted: 0, slowPath: true };
  for (let i = 0; i < batch.entries.length; i++) {
    const entry = batch.entries[i] as BufferEntry;
    try {
      const w = await deps.store.write([batch.decoded[i] as DecodedEntry]);
      await deps.buffer.ack([entry]);
      total.points += w.points;
      total.inserted += w.inserted;
    } catch (err) {
      if (!isPermanent(err)) throw err;
      deps.log.error(
        { entry: entry.id, err: (err as Error).message },
        'PostgreSQL refused a buffer entry; moved to the dead-letter stream',
      );
      await deps.buffer.deadLetter(entry, `refused by PostgreSQL: ${(err as Error).message}`);
      result.deadLettered += Math.max(0, entry.count);
    }
  }
  return total;
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
  const read = (ownPending: boolean) =>
    deps.buffer.read(deps.consumer, deps.readEntries, deps.claimIdleMs, { ownPending });
  // The next batch is read and decoded while the current one is in COPY, so PostgreSQL is not
  // left waiting on Redis between transactions. Entries prefetched when the job stops stay
  // pending for this consumer, and its next job takes them first.
  let next = read(true).then((entries) => decodeAll(deps, entries, result));
  while (!deps.signal?.aborted && Date.now() - started < budget) {
    const batch = await next;
    if (batch.entries.length === 0 && batch.dead === 0) break;
    next = read(false).then((entries) => decodeAll(deps, entries, result));
    // Keep the prefetch's failure for the next turn instead of an unhandled rejection now.
    next.catch(() => undefined);
    if (batch.entries.length === 0) continue;
    let written: WriteResult;
    try {
      written = await deps.store.write(batch.decoded);
      await deps.buffer.ack(batch.entries);
    } catch (err) {
      if (!isPermanent(err)) throw err;
      // PostgreSQL refuses something in this batch for good: store entry by entry, and move
      // the ones it refuses aside, so one bad entry does not hold up the buffer forever.
      written = await isolate(deps, batch, result, err as Error);
    }
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
  // Settle the prefetch before returning, so no read is in flight when the worker closes.
  await next.catch(() => undefined);
  result.ms = Date.now() - started;
  if (result.batches > 0) deps.log.debug({ ...result, reason: payload.reason }, 'flush done');
  return result;
}
