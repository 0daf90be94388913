// Scrapes one Prometheus-format target. Whatever goes wrong (timeout, HTTP error, garbage, a
// body too large) the target gets up=0 and a log line naming it; the worker never crashes.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { throwIfAborted } from '../infra/abort.js';
import type { Logger } from '../infra/logger.js';
import { parsePrometheusText } from './prometheus-text.js';
import type { Sample } from './types.js';

// Prometheus' own default body limit is unlimited; a sane cap keeps a broken target from
// filling a worker's memory.
const MAX_BODY_BYTES = 32 * 1024 * 1024;

const RESERVED_LABELS = new Set(['instance', 'target', 'hostname', 'instance_id', 'environment']);

const ACCEPT =
  'application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max)
    throw new Error(`body of ${declared} bytes is over the ${max}-byte limit`);
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) throw new Error(`body is over the ${max}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ScrapeResult {
  samples: Sample[];
  up: boolean;
  error?: string;
}

/**
 * What of a target URL may be shown (tags, logs, scheduler ids): scheme, host and path. User
 * info and the query string may hold credentials, and the fragment is never sent anyway.
 */
export function publicTarget(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/**
 * A target's name in job data and scheduler ids: its public part, and when the URL holds more
 * (credentials, a query), a digest of the whole, so two URLs that differ there stay apart.
 */
export function targetKey(url: string): string {
  const shown = publicTarget(url);
  // A URL with nothing to hide is its own key (`http://host:9100` has the public part `…/`).
  if (shown === url || shown === `${url}/`) return url;
  return `${shown}#${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
}

/** Redirects followed, each to the target's own origin only (as one scrape). */
const MAX_REDIRECTS = 5;

/** GETs `url`, following redirects within its origin; credentials in it go as Basic auth. */
async function fetchTarget(
  url: string,
  timeoutMs: number,
  stop: AbortSignal | undefined,
): Promise<Response> {
  const first = new URL(url);
  const headers: Record<string, string> = { accept: ACCEPT };
  if (first.username || first.password) {
    const user = decodeURIComponent(first.username);
    const pass = decodeURIComponent(first.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    first.username = '';
    first.password = '';
  }
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = stop ? AbortSignal.any([timeout, stop]) : timeout;
  let at = first;
  for (let hop = 0; ; hop++) {
    const res = await fetch(at, { headers, signal, redirect: 'manual' });
    if (res.status < 300 || res.status > 399 || res.status === 304) return res;
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (location === null) throw new Error(`HTTP ${res.status} without a Location`);
    const next = new URL(location, at);
    if (next.origin !== first.origin)
      throw new Error(
        `HTTP ${res.status} redirect to another origin (${next.origin}) refused: only ${first.origin} is scraped`,
      );
    if (hop + 1 > MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    at = next;
  }
}

export async function scrapeTarget(opts: {
  url: string;
  timeoutMs: number;
  /** More samples than this: up=0 and nothing stored (SCRAPE_SAMPLE_LIMIT). */
  sampleLimit: number;
  log: Logger;
  /** Aborts the scrape (shutdown): it rejects instead of reporting the target down. */
  signal?: AbortSignal | undefined;
}): Promise<ScrapeResult> {
  const target = new URL(opts.url);
  const shown = publicTarget(opts.url);
  // As Prometheus does: `instance` names the target; a label of that name from the target
  // itself is kept as `exported_instance`.
  const targetTags = { instance: target.host, target: shown };
  const started = performance.now();
  let samples: Sample[] = [];
  let error: string | undefined;
  try {
    const res = await fetchTarget(opts.url, opts.timeoutMs, opts.signal);
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    const parsed = parsePrometheusText(await readCapped(res, MAX_BODY_BYTES), {
      maxSamples: opts.sampleLimit,
    });
    if (parsed.limited)
      throw new Error(
        `more than ${opts.sampleLimit} samples (SCRAPE_SAMPLE_LIMIT): none of this scrape is stored`,
      );
    if (parsed.errors.length > 0) {
      opts.log.warn(
        { target: shown, errors: parsed.errors.slice(0, 5), count: parsed.errors.length },
        'scrape target sent malformed lines; they were skipped',
      );
    }
    samples = parsed.samples.map((s) => {
      // As Prometheus does with labels it attaches itself: a target's own label of that name
      // is kept as exported_<name> (pulse's tags and the target's tags are pulse's to set).
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.labels))
        tags[RESERVED_LABELS.has(k) ? `exported_${k}` : k] = v;
      Object.assign(tags, targetTags);
      return {
        name: s.name,
        value: s.value,
        tags,
        ...(s.timestampMs !== undefined ? { ts: s.timestampMs } : {}),
      };
    });
  } catch (err) {
    // Not the target's fault: no up=0 for a scrape this process stopped.
    throwIfAborted(opts.signal);
    const e = err as Error;
    error = e.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : e.message;
    // Whatever the error says, the URL's secrets stay out of the log.
    if (opts.url !== shown) error = error.split(opts.url).join(shown);
    opts.log.warn({ target: shown, err: error }, 'scrape failed: target marked up=0');
    samples = [];
  }
  const seconds = (performance.now() - started) / 1_000;
  samples.push(
    { name: 'up', value: error === undefined ? 1 : 0, tags: targetTags },
    { name: 'scrape_duration_seconds', value: seconds, tags: targetTags },
  );
  return { samples, up: error === undefined, ...(error !== undefined ? { error } : {}) };
}
