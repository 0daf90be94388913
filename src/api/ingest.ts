// POST /api/v1/metrics: validate the whole batch, put it in the buffer, answer 202.
// Nothing of a request is buffered unless every point in it is valid.
import { Router } from 'express';
import type { Logger } from '../infra/logger.js';
import type { PointBuffer } from '../metrics/buffer.js';
import { validateBatch } from '../metrics/point.js';
import { requireToken } from './auth.js';
import { HttpError } from './errors.js';

export interface IngestDeps {
  buffer: PointBuffer;
  log: Logger;
  token: string | undefined;
  maxPoints: number;
  rawRetentionMs: number;
  /** Buffer depth at which a flush is asked for at once instead of at the next tick. */
  flushBatch: number;
  flushIntervalMs: number;
  requestFlush(): Promise<void>;
}

export function ingestRouter(deps: IngestDeps): Router {
  const router = Router();
  const retryAfter = String(Math.max(1, Math.ceil(deps.flushIntervalMs / 1_000)));

  router.post('/metrics', requireToken(deps.token, 'ingest'), async (req, res) => {
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
      rawRetentionMs: deps.rawRetentionMs,
    });
    if (!checked.ok) {
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
      throw new HttpError(
        503,
        'Service Unavailable',
        'the buffer (Redis) is not reachable; nothing was stored, try again',
        {
          headers: { 'Retry-After': retryAfter },
        },
      );
    }
    if (!result.accepted) {
      throw new HttpError(
        503,
        'Service Unavailable',
        `the buffer is full (${result.depth} points waiting to be stored); nothing of this request was stored, try again`,
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
    res.status(202).json({ accepted: checked.points.length, buffered: result.depth });
  });

  return router;
}
