// How pulse tells PostgreSQL failures apart, in one place: those retrying cannot fix (the flush
// isolates the entry at fault), those of a lost connection (the client is discarded, the work
// retried), and the SQLSTATEs code checks by name.

/** SQLSTATE unique_violation. */
export const UNIQUE_VIOLATION = '23505';

/** SQLSTATE lock_not_available: a lock_timeout ran out. */
export const LOCK_NOT_AVAILABLE = '55P03';

/** SQLSTATEs that retrying cannot fix: data exceptions, integrity, program limits, protocol. */
export function isPermanent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^(22|23|42|54|XX)/.test(code) || code === '08P01');
}

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
]);

/** A failure of the connection itself (server restart, network): the client cannot be reused. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /Connection terminated|connection is closed|not queryable|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}
