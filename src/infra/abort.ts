// Stopping a job part-way: an AbortError that handlers throw when their signal is aborted
// (between steps), and tasks whose running statement PostgreSQL cancels on abort (inside one).
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { ITask } from 'pg-promise';
import { copyTransaction, type Db, type TxConnection } from './db.js';

export class AbortError extends Error {
  override name = 'AbortError';
}

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string') return r;
  if (r instanceof Error) return r.message;
  return 'aborted';
}

/** Throws an AbortError when `signal` is aborted; between the steps of a long job. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(`job aborted: ${reasonOf(signal)}`);
}

/** An AbortError of this module, or what fetch and timers throw on abort. */
export function isAbortError(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'AbortError';
}

export type Task = ITask<object>;

/**
 * Runs `fn` on one connection whose running statement is cancelled
 * when `signal` aborts: the statement fails with SQLSTATE 57014, a transaction rolls back, and
 * this rejects with an AbortError. Without a signal it is a plain task or transaction.
 */
export const cancellable: Cancellable = (db, signal, tag, fn) => run(db, signal, tag, fn, false);

/** cancellable() as a transaction: a cancelled statement rolls the whole of it back. */
export const cancellableTx: Cancellable = (db, signal, tag, fn) => run(db, signal, tag, fn, true);

type Cancellable = <T>(
  db: Db,
  signal: AbortSignal | undefined,
  tag: string,
  fn: (t: Task) => Promise<T>,
) => Promise<T>;

async function run<T>(
  db: Db,
  signal: AbortSignal | undefined,
  tag: string,
  fn: (t: Task) => Promise<T>,
  tx: boolean,
): Promise<T> {
  throwIfAborted(signal);
  if (!signal) return tx ? db.tx(tag, fn) : db.task(tag, fn);
  const body = (t: Task) => guarded(db, signal, t, () => fn(t));
  return tx ? db.tx(tag, body) : db.task(tag, body);
}

/**
 * copyTransaction() (a transaction with the raw client, for COPY) whose running statement is
 * cancelled when `signal` aborts, as cancellableTx's: it rolls back and this rejects with an
 * AbortError.
 */
export async function cancellableCopyTx<T>(
  db: Db,
  signal: AbortSignal | undefined,
  fn: (t: TxConnection, client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  throwIfAborted(signal);
  if (!signal) return copyTransaction(db, fn);
  return copyTransaction(db, (t, client) => guarded(db, signal, t, () => fn(t, client)));
}

/** Runs `fn` on connection `t`, cancelling its running statement while `signal` is aborted. */
async function guarded<T>(
  db: Db,
  signal: AbortSignal,
  t: Pick<Task, 'one'>,
  fn: () => Promise<T>,
): Promise<T> {
  const { pid } = await t.one<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  let finished = false;
  let cancelling: Promise<void> | undefined;
  // A cancel reaching an idle connection (the task between statements, computing) is
  // ignored by PostgreSQL, so it is sent again until the task ends: a statement started
  // after the abort is cancelled too.
  const onAbort = () => {
    cancelling = (async () => {
      while (!finished) {
        await cancelBackend(db, pid);
        if (!finished) await sleep(100);
      }
    })();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    throwIfAborted(signal);
    return await fn();
  } catch (err) {
    if (signal.aborted && !isAbortError(err))
      throw new AbortError(`job aborted: ${reasonOf(signal)}`, { cause: err });
    throw err;
  } finally {
    finished = true;
    signal.removeEventListener('abort', onAbort);
    // The cancel lands before the connection goes back to the pool, so it cannot cancel
    // whatever runs next on it.
    await cancelling;
  }
}

/**
 * pg_cancel_backend over a connection of its own: the pool may be full, and the connection this
 * is about is one of those it waits for.
 */
async function cancelBackend(db: Db, pid: number): Promise<void> {
  const client = new pg.Client(db.$cn as pg.ClientConfig);
  try {
    await client.connect();
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The statement then runs to its end (or query_timeout); the job stops after it.
  } finally {
    await client.end().catch(() => undefined);
  }
}
