// POST /api/v1/metrics: validate the whole batch, put it in the buffer, answer 202.
// Nothing of a request is buffered unless every point in it is valid.
import type { RequestHandler } from 'express';
import type { RouteTable } from './routes.js';
import type { Logger } from '../infra/logger.js';
import type { Telemetry } from '../infra/telemetry.js';
import type { PointBuffer } from '../metrics/buffer.js';
import { validateBatch, type Point } from '../metrics/point.js';
import { refusalReason, type SeriesRefusal } from '../metrics/series-registry.js';
import { cachedSeriesDef } from '../metrics/series.js';
import { requireToken, type FailedAuthLimiter } from './auth.js';
import { HttpError } from './errors.js';

export interface IngestDeps {
  buffer: PointBuffer;
  log: Logger;
  telemetry: Telemetry;
  token: string | undefined;
  limiter?: FailedAuthLimiter;
  maxPoints: number;
  acceptMs: number;
  /** Buffer depth at which a flush is asked for at once instead of at the next tick. */
  flushBatch: number;
  flushIntervalMs: number;
  requestFlush(): Promise<void>;
  /** The JSON body parser, run after the token check. */
  json: RequestHandler;
}

/** Counts every answer to POST /metrics by status, refusals included. */
function countIngestRequests(t: Telemetry): RequestHandler {
  return (_req, res, next) => {
    res.on('finish', () => t.ingestRequests.inc({ status: String(res.statusCode) }));
    next();
  };
}

/** Adds POST /metrics to `router`. */
export function ingestRoutes(router: RouteTable, deps: IngestDeps): void {
  const retryAfter = String(Math.max(1, Math.ceil(deps.flushIntervalMs / 1_000)));
  const auth = requireToken([deps.token], 'ingest', deps.limiter);
  router.post(
    '/metrics',
    countIngestRequests(deps.telemetry),
    auth,
    deps.json,
    async (req, res) => {
      if (!req.is('application/json')) {
        throw new HttpError(
          415,
          'Unsupported Media Type',
          'send the points as Content-Type: application/json',
        );
      }
      const points = validPoints(deps, req.body);
      const depth = await buffered(deps, points, retryAfter);
      if (depth >= deps.flushBatch) {
        deps
          .requestFlush()
          .catch((err: unknown) =>
            deps.log.warn({ err }, 'could not ask for a flush; the scheduled one will run'),
          );
      }
      deps.telemetry.pointsAccepted.inc(points.length);
      res.status(202).json({ accepted: points.length, buffered: depth });
    },
  );
}

/** How many points a body sent, valid or not, for the refusal counters. */
function sentPoints(body: unknown): number {
  return Array.isArray((body as { points?: unknown } | undefined)?.points)
    ? (body as { points: unknown[] }).points.length
    : 0;
}

/** The request's points, or a 400 naming every invalid field (nothing buffered). */
function validPoints(deps: IngestDeps, body: unknown): Point[] {
  const checked = validateBatch(body, {
    now: Date.now(),
    maxPoints: deps.maxPoints,
    acceptMs: deps.acceptMs,
  });
  if (checked.ok) return checked.points;
  deps.telemetry.pointsRejected.inc({ reason: 'invalid' }, sentPoints(body));
  const first = checked.errors[0];
  const where = first?.index === undefined ? first?.field : `points[${first.index}].${first.field}`;
  throw new HttpError(
    400,
    'Bad Request',
    `${checked.errors.length} invalid field(s); first: ${where} ${first?.reason}; nothing was stored`,
    {
      errors: checked.errors,
    },
  );
}

/** Appends the points to the buffer and returns its depth, or throws the refusal's answer. */
async function buffered(deps: IngestDeps, points: Point[], retryAfter: string): Promise<number> {
  const t = deps.telemetry;
  let result;
  try {
    result = await deps.buffer.append(points);
  } catch (err) {
    deps.log.error({ err }, 'buffer append failed');
    t.pointsRejected.inc({ reason: 'buffer_unavailable' }, points.length);
    throw new HttpError(
      503,
      'Service Unavailable',
      'the buffer (Redis) is not reachable; nothing was stored, try again',
      {
        headers: { 'Retry-After': retryAfter },
      },
    );
  }
  if (!result.accepted && result.limited) {
    t.pointsRejected.inc({ reason: 'series_limit' }, points.length);
    throw seriesLimited(t, points, result.limited);
  }
  if (!result.accepted) {
    t.pointsRejected.inc({ reason: 'buffer_full' }, points.length);
    throw new HttpError(
      503,
      'Service Unavailable',
      `the buffer is full (${result.depth} points, ${result.bytes} bytes waiting to be stored); nothing of this request was stored, try again`,
      {
        headers: { 'Retry-After': retryAfter },
      },
    );
  }
  return result.depth;
}

/** The 400 for a request that would create series past a limit: the first such point named. */
function seriesLimited(
  t: Telemetry,
  points: Point[],
  r: SeriesRefusal & { points: number },
): HttpError {
  t.seriesLimited(r.metricName, r.points);
  const refused = new Set(r.fingerprints);
  const index = points.findIndex((p) => refused.has(cachedSeriesDef(p).fingerprint));
  const reason = refusalReason(r);
  return new HttpError(
    400,
    'Bad Request',
    `points[${index}].metric_name ${reason}; nothing of this request was stored`,
    {
      errors: [{ index, field: 'metric_name', pointer: `/points/${index}/metric_name`, reason }],
      members: {
        limit: r.limit,
        limit_value: r.max,
        metric_name: r.metricName,
        refused_series: r.fingerprints.length,
      },
    },
  );
}
