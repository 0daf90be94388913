// The read API dashboards use: the summary, trends, the metric list, pages of series, and the
// cache's own state. The standard answers come from the two-level cache; a miss computes from
// the rollups once.
import os from 'node:os';
import type { Request, RequestHandler, Response } from 'express';
import type { RouteTable } from './routes.js';
import type { Redis } from 'ioredis';
import type { DashboardCache } from '../cache/dashboard-cache.js';
import { cacheName } from '../cache/names.js';
import type { Db } from '../infra/db.js';
import { parseInfo } from '../samplers/redis.js';
import type { Queue } from 'bullmq';
import {
  FIRST_SERIES_PAGE,
  SERIES_PAGE,
  metricExists,
  metricListView,
  regressionHistory,
  regressionView,
  seriesPageView,
  summaryView,
  trendView,
  type Limits,
  type SeriesPageQuery,
} from '../metrics/dashboard.js';
import { decodeCursor, type SeriesFilters, type SeriesPosition } from '../metrics/series-cursor.js';
import { requireToken, type FailedAuthLimiter } from './auth.js';
import { CachedAnswers, notStored } from './cached-answer.js';
import { HttpError } from './errors.js';
import {
  ISO_TIME,
  parseId,
  parseLimit,
  parseMetricName,
  parseRange,
  parseResolution,
  parseTags,
  queryStrings,
  QueryErrors,
} from './params.js';

export interface DashboardDeps {
  db: Db;
  redis: Redis;
  cache: DashboardCache;
  limits: Limits;
  /** How long an entry computed on a miss lives (the warm job refreshes the standard ones). */
  ttlMs: number;
  readToken: string | undefined;
  adminToken: string | undefined;
  limiter: FailedAuthLimiter;
  /** The JSON body parser, run after the token check. */
  json: RequestHandler;
  /** Where POST /regressions/run puts its job. */
  regressionQueue: Queue;
  /** How far back `GET /regressions?since=` may reach (the reports' retention). */
  regressionRetentionMs: number;
}

const HISTORY_LIMIT = 5_000;

/** The query names a route takes: `names`, and with `tags` every `tag.<key>` filter. */
function takes(names: string[], tags: boolean): (name: string) => boolean {
  return (n) => names.includes(n) || (tags && n.startsWith('tag.'));
}

/** What every read handler uses. */
interface Reader {
  deps: DashboardDeps;
  answers: CachedAnswers;
}

/** Adds the read API and its admin routes to `router`. */
export function dashboardRoutes(router: RouteTable, deps: DashboardDeps): void {
  // Reads are open while READ_TOKEN is unset, whatever ADMIN_TOKEN is; the admin token reads too.
  const read: RequestHandler[] = deps.readToken
    ? [requireToken([deps.readToken, deps.adminToken], 'pulse', deps.limiter)]
    : [];
  const admin = requireToken(
    [deps.adminToken],
    'pulse admin',
    deps.limiter,
    'admin routes are disabled: set ADMIN_TOKEN to use them',
  );
  const answers = new CachedAnswers(deps.cache, deps.ttlMs, deps.readToken !== undefined);
  const reader: Reader = { deps, answers };
  router.get('/metrics/summary', ...read, (req, res) => summary(reader, req, res));
  router.get('/time-series', ...read, (req, res) => timeSeries(reader, req, res));
  router.get('/metrics', ...read, async (req, res) => {
    const errors = new QueryErrors();
    queryStrings(req, () => false, errors);
    errors.throwIfAny();
    await answers.serve(req, res, cacheName.metrics(), () => metricListView(deps.db));
  });
  router.get('/series', ...read, (req, res) => series(reader, req, res));
  router.get('/regressions', ...read, (req, res) => regressions(reader, req, res));
  router.post('/regressions/run', admin, async (_req, res) => {
    const job = await deps.regressionQueue.add('regression', { reason: 'manual' });
    res.status(202).json({ job_id: job.id, queue: deps.regressionQueue.name });
  });
  router.get('/cache', ...read, (_req, res) => cacheState(deps, res));
  router.post('/cache/refresh', admin, deps.json, (req, res) => cacheRefresh(deps, req, res));
}

async function summary({ deps, answers }: Reader, req: Request, res: Response): Promise<void> {
  const errors = new QueryErrors();
  const q = queryStrings(req, (n) => n === 'time_range', errors);
  const range = parseRange('time_range', q.get('time_range'), '24h', errors);
  errors.throwIfAny();
  const r = range as { text: string; ms: number };
  await answers.serve(
    req,
    res,
    cacheName.summary(r.text),
    () => summaryView(deps.db, r.text, r.ms, deps.limits),
    () => `"cache":${JSON.stringify(deps.cache.stats())}`,
  );
}

async function timeSeries({ deps, answers }: Reader, req: Request, res: Response): Promise<void> {
  const errors = new QueryErrors();
  const names = ['metric_name', 'time_range', 'resolution', 'source_agent_id', 'instance_id'];
  const q = queryStrings(req, takes(names, true), errors);
  const metric = parseMetricName(q.get('metric_name'), errors);
  const range = parseRange('time_range', q.get('time_range'), '24h', errors);
  const resolution = range ? parseResolution(q.get('resolution'), range, errors) : undefined;
  const sourceAgentId = parseId('source_agent_id', q.get('source_agent_id'), errors);
  const instanceId = parseId('instance_id', q.get('instance_id'), errors);
  const tags = parseTags(q, errors);
  errors.throwIfAny();
  const m = metric as string;
  const r = range as { text: string; ms: number };
  const res_ = resolution as { text: string; ms: number };
  const filters = {
    ...(sourceAgentId ? { source_agent_id: sourceAgentId } : {}),
    ...(instanceId ? { instance_id: instanceId } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
  };
  if (answers.missing.has(m)) throw notStored(m);
  const name = cacheName.trend(m, r.text, res_.text, filters);
  await answers.serve(req, res, name, async () => {
    if (!(await metricExists(deps.db, m))) {
      answers.missing.set(m, true);
      throw notStored(m);
    }
    return trendView(deps.db, {
      metric: m,
      timeRange: r.text,
      rangeMs: r.ms,
      resolution: res_.text,
      resolutionMs: res_.ms,
      sourceAgentId,
      instanceId,
      tags,
    });
  });
}

/** The series page a `GET /series` asks for, or the first invalid field. */
function seriesPage(req: Request): { metric: string | undefined; page: SeriesPageQuery } {
  const errors = new QueryErrors();
  const names = ['metric_name', 'source_agent_id', 'instance_id', 'limit', 'cursor'];
  const q = queryStrings(req, takes(names, true), errors);
  const metricText = q.get('metric_name');
  const metric = metricText === undefined ? undefined : parseMetricName(metricText, errors);
  const filters: SeriesFilters = {
    metricName: metric,
    sourceAgentId: parseId('source_agent_id', q.get('source_agent_id'), errors),
    instanceId: parseId('instance_id', q.get('instance_id'), errors),
    tags: parseTags(q, errors),
  };
  const limit = parseLimit(q.get('limit'), SERIES_PAGE.default, SERIES_PAGE.max, errors);
  const cursorText = q.get('cursor');
  let after: SeriesPosition | null = null;
  // The cursor is checked against the filters, so only once they are valid.
  if (cursorText !== undefined && errors.errors.length === 0) {
    const decoded = decodeCursor(cursorText, filters);
    if ('reason' in decoded) errors.add('cursor', decoded.reason);
    else after = decoded.at;
  }
  errors.throwIfAny();
  return { metric, page: { filters, after, limit: limit as number } };
}

async function series({ deps, answers }: Reader, req: Request, res: Response): Promise<void> {
  const { metric, page } = seriesPage(req);
  const { filters } = page;
  const onlyMetric =
    filters.sourceAgentId === undefined &&
    filters.instanceId === undefined &&
    Object.keys(filters.tags ?? {}).length === 0;
  // Cached: the first page at the default limit, unfiltered or of one stored metric. Any
  // other page or filter is computed for its request, so no input can add cache entries.
  if (page.after === null && page.limit === SERIES_PAGE.default && onlyMetric) {
    if (metric === undefined) {
      await answers.serve(req, res, cacheName.seriesFirstPage(), () =>
        seriesPageView(deps.db, FIRST_SERIES_PAGE),
      );
      return;
    }
    const name = cacheName.seriesFirstPage(metric);
    if (answers.sendLocal(req, res, name)) return;
    if (!answers.missing.has(metric)) {
      if (await metricExists(deps.db, metric)) {
        await answers.serve(req, res, name, () => seriesPageView(deps.db, page));
        return;
      }
      answers.missing.set(metric, true);
    }
  }
  res.set('Cache-Control', 'no-store').json(await seriesPageView(deps.db, page));
}

async function regressions({ deps, answers }: Reader, req: Request, res: Response): Promise<void> {
  const errors = new QueryErrors();
  const q = queryStrings(req, (n) => n === 'since', errors);
  const sinceText = q.get('since');
  let since: number | undefined;
  if (sinceText !== undefined) {
    since = ISO_TIME.test(sinceText) ? Date.parse(sinceText) : NaN;
    if (Number.isNaN(since))
      errors.add(
        'since',
        'must be an ISO-8601 date or date-time with a zone (e.g. 2025-09-05 or 2025-09-05T12:00:00Z)',
      );
    else if (since > Date.now()) errors.add('since', 'is in the future');
    else if (since < Date.now() - deps.regressionRetentionMs)
      errors.add('since', 'is older than the reports are kept (REGRESSION_RETENTION)');
  }
  errors.throwIfAny();
  if (since === undefined) {
    await answers.serve(req, res, cacheName.regressions(), () => regressionView(deps.db));
    return;
  }
  const entries = await regressionHistory(deps.db, new Date(since), HISTORY_LIMIT + 1);
  res.set('Cache-Control', 'no-store').json({
    since: new Date(since).toISOString(),
    entries: entries.slice(0, HISTORY_LIMIT),
    truncated: entries.length > HISTORY_LIMIT,
  });
}

async function cacheState(deps: DashboardDeps, res: Response): Promise<void> {
  let redis: Record<string, unknown> = { connected: false };
  try {
    const info = parseInfo(await deps.redis.info());
    redis = {
      connected: true,
      used_memory_bytes: Number(info.get('used_memory')),
      connected_clients: Number(info.get('connected_clients')),
    };
  } catch (err) {
    redis = { connected: false, error: (err as Error).message };
  }
  const memory = process.memoryUsage();
  res.set('Cache-Control', 'no-store').json({
    stats: deps.cache.stats(),
    redis,
    process: {
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
      hostname: os.hostname(),
      pid: process.pid,
    },
  });
}

async function cacheRefresh(deps: DashboardDeps, req: Request, res: Response): Promise<void> {
  const body = req.body as { pattern?: unknown } | undefined;
  const pattern = body?.pattern ?? '*';
  if (
    typeof pattern !== 'string' ||
    pattern.length === 0 ||
    pattern.length > 200 ||
    !/^[\x20-\x7e]+$/.test(pattern)
  ) {
    throw new HttpError(
      400,
      'Bad Request',
      'pattern must be 1 to 200 printable ASCII characters; * matches any run of characters',
      {
        errors: [
          {
            field: 'pattern',
            pointer: '/pattern',
            reason: 'must be 1 to 200 printable ASCII characters',
          },
        ],
      },
    );
  }
  const removed = await deps.cache.invalidate(pattern);
  res.json({ pattern, removed });
}
