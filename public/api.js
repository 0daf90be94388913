// The read API, as any client would use it: a bearer token when there is one, and conditional
// requests (`cache: 'no-cache'` revalidates with the ETag, so an unchanged answer is a 304).

const TIMEOUT_MS = 15_000;

/** Why a request failed, in the terms the page shows. */
export class ApiError extends Error {
  /**
   * @param {'down'|'auth'|'forbidden'|'limited'|'server'|'client'} kind
   * @param {string} message
   * @param {number} [status]
   * @param {number} [retryAfter] seconds
   */
  constructor(kind, message, status, retryAfter) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** @param {Response} res */
async function problemDetail(res) {
  try {
    const body = await res.json();
    return typeof body?.detail === 'string' ? body.detail : res.statusText;
  } catch {
    return res.statusText;
  }
}

/**
 * GET a JSON answer. `token` is sent as a bearer token when set.
 * @param {string} path @param {string} token
 */
export async function getJson(path, token, { method = 'GET' } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      cache: 'no-cache',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
    throw new ApiError(
      'down',
      timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : 'the connection failed',
    );
  }
  if (res.ok) {
    try {
      return await res.json();
    } catch {
      throw new ApiError('server', 'the answer is not JSON', res.status);
    }
  }
  const detail = await problemDetail(res);
  if (res.status === 401) throw new ApiError('auth', detail, 401);
  if (res.status === 403) throw new ApiError('forbidden', detail, 403);
  if (res.status === 429)
    throw new ApiError('limited', detail, 429, Number(res.headers.get('retry-after')) || 60);
  // A proxy in front of a stopped API answers 502/503/504 without problem+json.
  if ([502, 503, 504].includes(res.status) && !res.headers.get('content-type')?.includes('json'))
    throw new ApiError('down', `HTTP ${res.status} ${res.statusText}`, res.status);
  throw new ApiError(res.status >= 500 ? 'server' : 'client', detail, res.status);
}

/**
 * Whether `token` opens the full (not read-only) Bull Board: only the admin token does. The
 * board's own queue list says per queue whether it is read-only; 401/403 mean no board.
 */
export async function isAdminToken(token) {
  if (!token) return false;
  try {
    const res = await fetch('/admin/queues/api/queues?jobsPerPage=1', {
      headers: { authorization: `Bearer ${token}` },
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok) return false;
    const body = await res.json();
    return Array.isArray(body?.queues) && body.queues.some((q) => q.readOnlyMode === false);
  } catch {
    return false;
  }
}
