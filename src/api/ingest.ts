// POST /api/v1/metrics: validate the whole batch, put it in the buffer, answer 202.
// Nothing of a request is buffered unless every point in it is valid.
import type { RequestHandler } from 'express';
import type { RouteTable } from './routes.js';
import type { Logger } from '../infra/logger.js';
import type { Telemetry } from '../infra/telemetry.js';
import type { PointBuffer } from '../metrics/buffer.js';
import { validateBatch } from '../metrics/point.js';
import { refusalReason } from '../metrics/series-registry.js';
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

  const { telemetry: t } = deps;
  const auth = requireToken([deps.token], 'ingest', deps.limiter);
  router.post('/metrics', countIngestRequests(t), auth, deps.json, async (req, res) => {
    if (!req.is('application/json')) {
      throw new HttpError(
        415,
        'Unsupported Media Type',
        'send the points as Content-Type: application/json',
      );
    }
    const checked = validateBatch(req.body, {
      now: Date.now(),
      maxPoints: deps.maxPoints,
      acceptMs: deps.acceptMs,
    });
    const sent = Array.isArray((req.body as { points?: unknown } | undefined)?.points)
      ? (req.body as { points: unknown[] }).points.length
      : 0;
    if (!checked.ok) {
      t.pointsRejected.inc({ reason: 'invalid' }, sent);
      const first = checked.errors[0];
      const where =
        first?.index === undefined ? first?.field : `points[${first.index}].${first.field}`;
      throw new HttpError(
        400,
        'Bad Request',
        `${checked.errors.length} invalid field(s); first: ${where} ${first?.reason}; nothing was stored`,
        {
          errors: checked.errors,
        },
      );
    }
    let result;
    try {
      result = await deps.buffer.append(checked.points);
    } catch (err) {
      deps.log.error({ err }, 'buffer append failed');
      t.pointsRejected.inc({ reason: 'buffer_unavailable' }, sent);
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
      const r = result.limited;
      t.pointsRejected.inc({ reason: 'series_limit' }, sent);
      t.seriesLimited(r.metricName, r.points);
      const refused = new Set(r.fingerprints);
      const index = checked.points.findIndex((p) => refused.has(cachedSeriesDef(p).fingerprint));
      const reason = refusalReason(r);
      throw new HttpError(
        400,
        'Bad Request',
        `points[${index}].metric_name ${reason}; nothing of this request was stored`,
        {
          errors: [
            { index, field: 'metric_name', pointer: `/points/${index}/metric_name`, reason },
          ],
          members: {
            limit: r.limit,
            limit_value: r.max,
            metric_name: r.metricName,
            refused_series: r.fingerprints.length,
          },
        },
      );
    }
    if (!result.accepted) {
      t.pointsRejected.inc({ reason: 'buffer_full' }, sent);
      throw new HttpError(
        503,
        'Service Unavailable',
        `the buffer is full (${result.depth} points, ${result.bytes} bytes waiting to be stored); nothing of this request was stored, try again`,
        {
          headers: { 'Retry-After': retryAfter },
        },
      );
    }
    if (result.depth >= deps.flushBatch) {
      deps
        .requestFlush()
        .catch((err: unknown) =>
          deps.log.warn({ err }, 'could not ask for a flush; the scheduled one will run'),
        );
    }
    t.pointsAccepted.inc(sent);
    res.status(202).json({ accepted: checked.points.length, buffered: result.depth });
  });
}
