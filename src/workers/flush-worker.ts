// Wires the flush handler into a BullMQ Worker. Each concurrently running flush gets its own
// consumer name from a fixed pool, so a retry finds its own pending entries again.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { flush } from '../jobs/flush.js';
import type { Logger } from '../infra/logger.js';
import type { Telemetry } from '../infra/telemetry.js';
import type { PointBuffer } from '../metrics/buffer.js';
import type { PointStore } from '../metrics/store.js';
import { HOUR } from '../infra/time.js';
import { startWorker, type PulseWorker } from './start-worker.js';

export interface FlushWorkerDeps {
  connection: Redis;
  prefix: string;
  buffer: PointBuffer;
  store: PointStore;
  log: Logger;
  concurrency: number;
  readEntries: number;
  claimIdleMs: number;
  telemetry?: Telemetry;
}

const CONSUMER_IDLE_PRUNE_MS = HOUR;

export interface FlushWorker {
  worker: PulseWorker<'flush'>;
  /** Stops taking jobs; active flushes finish their current batch first. Safe to call twice. */
  close(): Promise<void>;
}

export function startFlushWorker(deps: FlushWorkerDeps): FlushWorker {
  // The random part keeps two containers that share a hostname and pid 1 apart.
  const base = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const free = Array.from({ length: deps.concurrency }, (_, i) => `${base}:${i}`);
  const stopping = new AbortController();

  const worker = startWorker(
    'flush',
    async (payload, job, signal) => {
      const consumer = free.pop();
      // Cannot happen while concurrency equals the pool size; fail loudly if it ever does.
      if (consumer === undefined) throw new Error('no free flush consumer slot');
      try {
        return await flush(
          {
            buffer: deps.buffer,
            store: deps.store,
            log: deps.log.child({ job: job.id, consumer }),
            consumer,
            readEntries: deps.readEntries,
            claimIdleMs: deps.claimIdleMs,
            signal,
          },
          payload,
        );
      } finally {
        free.push(consumer);
      }
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency,
      log: deps.log,
      telemetry: deps.telemetry,
      // close() aborts it: the batch in COPY ends, no new one starts.
      signal: stopping.signal,
      failed: { message: 'flush failed; it will be retried' },
    },
  );
  // Consumers of processes that stopped pile up in the group; clear the idle, empty ones.
  deps.buffer
    .pruneConsumers(CONSUMER_IDLE_PRUNE_MS)
    .then(
      (removed) =>
        removed.length > 0 && deps.log.info({ removed }, 'removed idle buffer consumers'),
    )
    .catch((err: unknown) => deps.log.warn({ err }, 'could not prune idle buffer consumers'));
  return {
    worker,
    close() {
      stopping.abort();
      return worker.close();
    },
  };
}
