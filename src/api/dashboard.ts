// The read API dashboards use: the summary, trends, the metric list, pages of series, and the
// cache's own state. The standard answers come from the two-level cache; a miss computes from
// the rollups once.
import os from 'node:os';
import { LRUCache } from 'lru-cache';
import type { Request, RequestHandler, Response } from 'express';
import type { RouteTable } from './routes.js';
import type { Redis } from 'ioredis';
import type { CacheEntry, DashboardCache, ServedFrom } from '../cache/dashboard-cache.js';
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
} from '../metrics/dashboard.js';
import { decodeCursor, type SeriesFilters, type SeriesPosition } from '../metrics/series-cursor.js';
import { requireToken, type FailedAuthLimiter } from './auth.js';
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

/** What a cached entry puts on the wire besides per-request fields, built once per entry. */
interface Wire {
  /** The body without its opening brace, to follow the per-request fields. */
  tail: Buffer;
  lastModified: string;
}
const wires = new WeakMap<CacheEntry, Wire>();
/** Every answer's first field, an unclosed object. */
const SERVED_FROM: Record<ServedFrom, Buffer> = {
  l1: Buffer.from('{"served_from":"l1"'),
  l2: Buffer.from('{"served_from":"l2"'),
  computed: Buffer.from('{"served_from":"computed"'),
};

function wireOf(entry: CacheEntry): Wire {
  let wire = wires.get(entry);
  if (!wire) {
    const rest = entry.body.slice(1);
    wire = {
      tail: Buffer.from(rest === '}' ? rest : `,${rest}`),
      lastModified: new Date(entry.computedAt).toUTCString(),
    };
    wires.set(entry, wire);
  }
  return wire;
}

/**
 * Sends a cached entry: 304 when the client has it, else the body with where it came from.
 * The entry's bytes are encoded once and reused; a request only adds `extra`, JSON members
 * without braces (`"name":value,...`).
 */
export function sendEntry(
  req: Request,
  res: Response,
  entry: CacheEntry,
  served: ServedFrom,
  extra: string | undefined,
  isPrivate: boolean,
): void {
  const wire = wireOf(entry);
  const remaining = Math.max(0, Math.floor((entry.expiresAt - Date.now()) / 1_000));
  res.setHeader('ETag', entry.etag);
  res.setHeader('Cache-Control', `${isPrivate ? 'private' : 'public'}, max-age=${remaining}`);
  res.setHeader('Last-Modified', wire.lastModified);
  const match = req.headers['if-none-match'];
  if (
    match &&
    match.split(/\s*,\s*/).some((t) => t === entry.etag || t === '*' || t === `W/${entry.etag}`)
  ) {
    res.status(304).end();
    return;
  }
  // The cached body is an object; per-request fields go in front without re-serialising it.
  const head = SERVED_FROM[served];
  const more = extra === undefined ? undefined : Buffer.from(`,${extra}`);
  const length = head.length + (more?.length ?? 0) + wire.tail.length;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', length);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // Writes in one tick leave as one (the headers, the fields, the shared tail).
  res.write(head);
  if (more) res.write(more);
  res.end(wire.tail);
}

/** How long a metric name found missing is answered 404 without a query (at most CACHE_TTL). */
const MISSING_TTL_MS = 10_000;

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
  const isPrivate = deps.readToken !== undefined;
  // Names no metric has, for a short while: a client asking for one again and again (a typo in
  // a dashboard, a scan) costs one query per name and period, not one per request.
  const missing = new LRUCache<string, true>({
    max: 10_000,
    ttl: Math.min(MISSING_TTL_MS, deps.ttlMs),
  });
  const notStored = (m: string) =>
    new HttpError(404, 'Not Found', `no metric named ${m} is stored`);

  /**
   * Answers from the cache: an L1 hit is sent at once, without a promise in between; anything
   * else goes through L2 or is computed. `extra` adds per-request fields, read after the lookup.
   */
  async function serve(
    req: Request,
    res: Response,
    name: string,
    compute: () => Promise<unknown>,
    extra?: () => string,
  ): Promise<void> {
    const hit = deps.cache.local(name);
    if (hit) {
      sendEntry(req, res, hit, 'l1', extra?.(), isPrivate);
      return;
    }
    const { entry, served } = await deps.cache.get(name, deps.ttlMs, compute);
    sendEntry(req, res, entry, served, extra?.(), isPrivate);
  }

  router.get('/metrics/summary', ...read, async (req, res) => {
    const errors = new QueryErrors();
    const q = queryStrings(req, (n) => n === 'time_range', errors);
    const range = parseRange('time_range', q.get('time_range'), '24h', errors);
    errors.throwIfAny();
    const r = range as { text: string; ms: number };
    await serve(
      req,
      res,
      cacheName.summary(r.text),
      () => summaryView(deps.db, r.text, r.ms, deps.limits),
      () => `"cache":${JSON.stringify(deps.cache.stats())}`,
    );
  });

  router.get('/time-series', ...read, async (req, res) => {
    const errors = new QueryErrors();
    const q = queryStrings(
      req,
      (n) =>
        ['metric_name', 'time_range', 'resolution', 'source_agent_id', 'instance_id'].includes(n) ||
        n.startsWith('tag.'),
      errors,
    );
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
    if (missing.has(m)) throw notStored(m);
    const name = cacheName.trend(m, r.text, res_.text, filters);
    await serve(req, res, name, async () => {
      if (!(await metricExists(deps.db, m))) {
        missing.set(m, true);
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
  });

  router.get('/metrics', ...read, async (req, res) => {
    const errors = new QueryErrors();
    queryStrings(req, () => false, errors);
    errors.throwIfAny();
    await serve(req, res, cacheName.metrics(), () => metricListView(deps.db));
  });

  router.get('/series', ...read, async (req, res) => {
    const errors = new QueryErrors();
    const q = queryStrings(
      req,
      (n) =>
        ['metric_name', 'source_agent_id', 'instance_id', 'limit', 'cursor'].includes(n) ||
        n.startsWith('tag.'),
      errors,
    );
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
    const page = { filters, after, limit: limit as number };
    const onlyMetric =
      filters.sourceAgentId === undefined &&
      filters.instanceId === undefined &&
      Object.keys(filters.tags ?? {}).length === 0;
    // Cached: the first page at the default limit, unfiltered or of one stored metric. Any
    // other page or filter is computed for its request, so no input can add cache entries.
    if (after === null && limit === SERIES_PAGE.default && onlyMetric) {
      if (metric === undefined) {
        await serve(req, res, cacheName.seriesFirstPage(), () =>
          seriesPageView(deps.db, FIRST_SERIES_PAGE),
        );
        return;
      }
      const name = cacheName.seriesFirstPage(metric);
      const hit = deps.cache.local(name);
      if (hit) {
        sendEntry(req, res, hit, 'l1', undefined, isPrivate);
        return;
      }
      if (!missing.has(metric)) {
        if (await metricExists(deps.db, metric)) {
          await serve(req, res, name, () => seriesPageView(deps.db, page));
          return;
        }
        missing.set(metric, true);
      }
    }
    res.set('Cache-Control', 'no-store').json(await seriesPageView(deps.db, page));
  });

  router.get('/regressions', ...read, async (req, res) => {
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
      await serve(req, res, cacheName.regressions(), () => regressionView(deps.db));
      return;
    }
    const entries = await regressionHistory(deps.db, new Date(since), HISTORY_LIMIT + 1);
    res.set('Cache-Control', 'no-store').json({
      since: new Date(since).toISOString(),
      entries: entries.slice(0, HISTORY_LIMIT),
      truncated: entries.length > HISTORY_LIMIT,
    });
  });

  router.post('/regressions/run', admin, async (_req, res) => {
    const job = await deps.regressionQueue.add('regression', { reason: 'manual' });
    res.status(202).json({ job_id: job.id, queue: deps.regressionQueue.name });
  });

  router.get('/cache', ...read, async (_req, res) => {
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
  });

  router.post('/cache/refresh', admin, deps.json, async (req, res) => {
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
  });
}
