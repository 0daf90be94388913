// The pulse dashboard. It reads only the public JSON API (README, "Read API"): the summary for
// the chosen range, the regression report, the metric list, the first page of the selected
// metric's series, and trends. It polls every 30 s with conditional requests, so an unchanged
// answer costs a 304.
import { ApiError, getJson, isAdminToken } from './api.js';
import { TrendChart } from './chart.js';
import { UNIT_NAMES, ago, dateTime, durationMs, fmt, pValue, pct, time, unitOf } from './format.js';

const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 };
const DEFAULT_RESOLUTION = { '1h': '1m', '24h': '5m', '7d': '1h' };
const RESOLUTIONS = ['1m', '5m', '15m', '1h', '6h', '1d'];
const MAX_POINTS = 5_000;
const SEVERITY_RANK = { CRITICAL: 0, WARNING: 1, NORMAL: 2 };
const STALE_MS = 5 * 60_000;
const TOKEN_KEY = 'pulse.token';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const hash = new URLSearchParams(location.hash.slice(1));
/** Seconds between refreshes: 30, or `#refresh=N` (5 to 3600). */
const REFRESH_S = Math.min(3600, Math.max(5, Number(hash.get('refresh')) || 30));
const REFRESH_MS = REFRESH_S * 1000;
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  range: Object.hasOwn(RANGES, hash.get('range') ?? '') ? hash.get('range') : '24h',
  resolution: hash.get('resolution') ?? 'auto',
  metric: hash.get('metric'),
  /** Per-series filters of the chart, by dimension (agent, instance, host). */
  filters: { agent: '', instance: '', host: '' },
  sort: { key: 'metric_name', dir: 1 },
  filterText: '',
  summary: null,
  regressions: null,
  /** Every stored metric with its series count (GET /api/v1/metrics). */
  metrics: null,
  /**
   * The selected metric's series, from the first page of GET /series?metric_name=…: `more` when
   * the metric has more series than that page, whose values the pickers then do not all show.
   */
  metricSeries: { metric: null, series: [], more: false },
  /** The selected regression entry, whose change point the chart marks. */
  selected: null,
  /** Whether the regression table lists the NORMAL entries too (changes that are no regression). */
  showNormal: false,
  lastOk: 0,
  adminCheckedFor: null,
  timer: 0,
  busy: false,
  again: false,
  chartSeq: 0,
};

const chart = new TrendChart($('chart'));

// ---------------------------------------------------------------------------------------------
// Messages

function showError(title, detail) {
  const box = $('error');
  box.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = title;
  box.append(strong, document.createTextNode(detail));
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').replaceChildren();
}

function showTokenPanel(open) {
  $('token-panel').hidden = !open;
  $('token-toggle').setAttribute('aria-expanded', String(open));
}

function handleError(err) {
  if (!(err instanceof ApiError)) {
    showError('The dashboard failed', ` (${err?.message ?? err}). Reload the page to try again.`);
    throw err;
  }
  const main = $('main');
  if (err.kind === 'auth') {
    // Another token may see other data: show none of it.
    main.hidden = true;
    state.summary = null;
    showTokenPanel(true);
    if (state.token)
      showError(
        'The token was refused',
        ` The API answered 401 (${err.message}). Enter the read token (READ_TOKEN) or the admin token (ADMIN_TOKEN).`,
      );
    else
      showError(
        'This pulse needs a token',
        ` The API answered 401 (${err.message}). Enter the read token (READ_TOKEN) or the admin token (ADMIN_TOKEN).`,
      );
    $('token').focus();
    $('updated').textContent = 'Waiting for a token';
    return; // no polling with a token the API refuses
  }
  const since = state.lastOk
    ? ` The figures below are from ${time(state.lastOk, true)} and may be out of date.`
    : '';
  main.classList.toggle('stale', state.lastOk > 0);
  main.hidden = state.lastOk === 0;
  if (err.kind === 'down') {
    showError(
      'The pulse API is down or unreachable',
      ` No answer from ${location.host}: ${err.message}. Retrying every ${REFRESH_MS / 1000} s.${since}`,
    );
  } else if (err.kind === 'limited') {
    showError(
      'Too many failed token attempts',
      ` The API asks this address to wait ${err.retryAfter} s before trying again.${since}`,
    );
    schedule(err.retryAfter * 1000);
    return;
  } else {
    showError(`The API answered ${err.status ?? 'with an error'}`, ` ${err.message}.${since}`);
  }
  $('updated').textContent = state.lastOk
    ? `Last update ${time(state.lastOk, true)} · retrying`
    : 'Retrying';
  schedule();
}

// ---------------------------------------------------------------------------------------------
// Refreshing

function schedule(ms = REFRESH_MS) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => void refresh(), ms);
}

function api(path) {
  return getJson(path, state.token);
}

async function refresh() {
  clearTimeout(state.timer);
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  try {
    // The summary first: a wrong token then fails once, not once per request.
    const summary = await api(`/api/v1/metrics/summary?time_range=${state.range}`);
    const [regressions, metrics] = await Promise.all([
      api('/api/v1/regressions'),
      api('/api/v1/metrics'),
    ]);
    Object.assign(state, { summary, regressions, metrics });
    // A metric from the address that is not stored (any more) gives way to the default.
    if (!metrics.metrics.some((m) => m.metric_name === state.metric))
      state.metric = defaultMetric();
    await loadMetricSeries();
    clearError();
    showTokenPanel(false);
    $('main').hidden = false;
    $('main').classList.remove('stale');
    renderOverview();
    renderRegressions();
    renderSummary();
    renderChartControls();
    await loadChart();
    state.lastOk = Date.now();
    $('updated').textContent =
      `Updated ${time(state.lastOk, true)} · refreshes every ${REFRESH_MS / 1000} s`;
    void checkAdmin();
    schedule();
  } catch (err) {
    handleError(err);
  } finally {
    state.busy = false;
    if (state.again) {
      state.again = false;
      void refresh();
    }
  }
}

async function checkAdmin() {
  if (state.adminCheckedFor === state.token) return;
  const token = state.token;
  state.adminCheckedFor = token;
  const admin = await isAdminToken(token);
  if (token === state.token) $('bull-board').hidden = !admin;
}

function saveHash() {
  const p = new URLSearchParams({ range: state.range });
  if (state.metric) p.set('metric', state.metric);
  if (state.resolution !== 'auto') p.set('resolution', state.resolution);
  if (REFRESH_S !== 30) p.set('refresh', String(REFRESH_S));
  history.replaceState(null, '', `#${p}`);
}

// ---------------------------------------------------------------------------------------------
// Overview

function hostLabel(tags) {
  return tags.hostname ?? tags.host ?? tags.instance ?? tags.target ?? '';
}

function renderOverview() {
  const s = state.summary;
  const score = s.health_score;
  const level = score >= 90 ? 'good' : score >= 70 ? 'fair' : 'bad';
  $('health-score').textContent = String(score);
  $('health-score').className = level;
  $('health-meter').setAttribute('value', String(score));
  $('health-meter').textContent = `${score} of 100`;
  $('health-text').textContent =
    `${{ good: 'Good', fair: 'Degraded', bad: 'Poor' }[level]}: memory and CPU over the last hour`;

  $('alert-count').textContent = String(s.alert_count);
  $('alert-count').className = `big ${s.alert_count > 0 ? 'bad' : 'good'}`;
  const list = $('alert-list');
  list.replaceChildren();
  if (s.alerts.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'No active alerts';
    list.append(li);
  }
  for (const a of s.alerts.slice(0, 4)) {
    const li = document.createElement('li');
    const unit = unitOf(a.metric_name);
    const where = hostLabel(a.tags);
    li.textContent =
      a.limit === null
        ? `${a.metric_name} = ${fmt(a.value, unit)}${where ? ` on ${where}` : ''}`
        : `${a.metric_name} ${fmt(a.value, unit)} > ${fmt(a.limit, unit)}${where ? ` on ${where}` : ''}`;
    list.append(li);
  }
  if (s.alerts.length > 4) {
    const li = document.createElement('li');
    li.textContent = `and ${s.alerts.length - 4} more`;
    list.append(li);
  }

  const r = state.regressions;
  const open = r.counts.CRITICAL + r.counts.WARNING;
  $('regression-count').textContent = String(open);
  $('regression-count').className =
    `big ${r.counts.CRITICAL > 0 ? 'bad' : r.counts.WARNING > 0 ? 'fair' : 'good'}`;
  $('regression-text').textContent = r.run
    ? `${r.counts.CRITICAL} critical · ${r.counts.WARNING} warning · run ${ago(r.run.computed_at)}`
    : 'Detection has not run yet';

  const c = s.cache;
  $('cache-rate').textContent = c.total_requests > 0 ? fmt(c.hit_rate, 'ratio') : '—';
  $('cache-text').textContent =
    `L1 ${fmt(c.l1_hit_rate, 'ratio')} · L2 ${fmt(c.l2_hit_rate, 'ratio')} · ${c.total_requests} requests; this answer: ${s.served_from}`;
  renderAges();
}

/** The "… ago" texts, every few seconds, so staleness shows without a refresh. */
function renderAges() {
  const s = state.summary;
  if (!s) return;
  const age = Date.now() - Date.parse(s.computed_at);
  $('computed-ago').textContent = ago(s.computed_at);
  $('computed-ago').className = `big ${age > STALE_MS ? 'fair' : ''}`;
  $('computed-text').textContent =
    `${age > STALE_MS ? 'Stale: ' : ''}computed at ${time(s.computed_at, true)} for ${s.time_range}`;
}

// ---------------------------------------------------------------------------------------------
// Summary table with sparklines

const sparks = new Map(); // `${metric}|${range}` → { points, at }
const sparkQueue = [];
let sparkActive = 0;

function summaryNames() {
  return (state.summary?.metrics ?? []).map((m) => m.metric_name);
}

function defaultMetric() {
  const names = summaryNames();
  return names.includes('cpu_usage_percentage') ? 'cpu_usage_percentage' : (names[0] ?? null);
}

const sparkObserver = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting) queueSpark(e.target.dataset.metric);
});

function queueSpark(metric) {
  const key = `${metric}|${state.range}`;
  const have = sparks.get(key);
  if (have && Date.now() - have.at < REFRESH_MS) return;
  if (sparkQueue.includes(key)) return;
  sparkQueue.push(key);
  pumpSparks();
}

function pumpSparks() {
  while (sparkActive < 3 && sparkQueue.length > 0) {
    const key = sparkQueue.shift();
    const [metric, range] = key.split('|');
    if (range !== state.range) continue;
    sparkActive++;
    const q = new URLSearchParams({ metric_name: metric, time_range: range });
    api(`/api/v1/time-series?${q}`)
      .then((body) => {
        sparks.set(key, { points: body.points, at: Date.now() });
        const cell = document.querySelector(
          `#summary-body tr[data-metric="${CSS.escape(metric)}"] td.trend`,
        );
        if (cell && range === state.range) cell.replaceChildren(sparkline(body.points, metric));
      })
      .catch(() => {})
      .finally(() => {
        sparkActive--;
        pumpSparks();
      });
  }
}

const SVG = 'http://www.w3.org/2000/svg';

function sparkline(points, metric) {
  const values = points.map((p) => p.avg).filter((v) => Number.isFinite(v));
  if (values.length < 2) {
    const span = document.createElement('span');
    span.className = 'muted';
    span.textContent = values.length === 0 ? 'no data' : '—';
    return span;
  }
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const w = 120;
  const h = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const unit = unitOf(metric);
  svg.setAttribute(
    'aria-label',
    `average from ${fmt(values[0], unit)} to ${fmt(values.at(-1), unit)}, low ${fmt(lo, unit)}, high ${fmt(hi, unit)}`,
  );
  const line = document.createElementNS(SVG, 'polyline');
  const span = hi - lo;
  line.setAttribute(
    'points',
    values
      .map((v, i) => {
        const x = (i / (values.length - 1)) * w;
        // A flat series is a line through the middle.
        const y = span > 0 ? h - 2 - ((v - lo) / span) * (h - 4) : h / 2;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' '),
  );
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(line);
  return svg;
}

function numberCell(v, unit) {
  const td = document.createElement('td');
  td.className = 'num';
  td.textContent = fmt(v, unit);
  td.title = fmt(v, unit, true);
  return td;
}

function renderSummary() {
  const all = state.summary.metrics;
  const needle = state.filterText.trim().toLowerCase();
  const { key, dir } = state.sort;
  const rows = all
    .filter((m) => m.metric_name.toLowerCase().includes(needle))
    .sort((a, b) =>
      key === 'metric_name'
        ? dir * a.metric_name.localeCompare(b.metric_name)
        : dir * ((a[key] ?? -Infinity) - (b[key] ?? -Infinity)) ||
          a.metric_name.localeCompare(b.metric_name),
    );
  const body = $('summary-body');
  sparkObserver.disconnect();
  body.replaceChildren();
  for (const m of rows) {
    const unit = unitOf(m.metric_name);
    const tr = document.createElement('tr');
    tr.dataset.metric = m.metric_name;
    if (m.metric_name === state.metric) tr.classList.add('selected');
    const name = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'metric-button';
    button.textContent = m.metric_name;
    button.setAttribute('aria-pressed', String(m.metric_name === state.metric));
    button.title = `Show ${m.metric_name} on the chart (${UNIT_NAMES[unit]}; ${m.series} series, ${m.count} samples)`;
    name.append(button);
    tr.append(name);
    for (const k of ['avg', 'p95', 'p99', 'min', 'max', 'last']) tr.append(numberCell(m[k], unit));
    tr.lastChild.title = `${fmt(m.last, unit, true)} at ${dateTime(m.last_at)}`;
    const trend = document.createElement('td');
    trend.className = 'trend';
    const cached = sparks.get(`${m.metric_name}|${state.range}`);
    if (cached) trend.append(sparkline(cached.points, m.metric_name));
    tr.append(trend);
    body.append(tr);
    sparkObserver.observe(tr);
  }
  for (const th of document.querySelectorAll('#summary th[data-key]')) {
    if (th.dataset.key === key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
  $('summary-count').textContent =
    rows.length === all.length
      ? `${all.length} metrics · ${state.range}`
      : `${rows.length} of ${all.length} metrics`;
}

// ---------------------------------------------------------------------------------------------
// Regressions

const regressionKey = (e) => `${e.metric_name}|${e.series?.id ?? ''}`;

function seriesText(series) {
  if (!series) return 'all series';
  const parts = [];
  if (series.source_agent_id) parts.push(`agent ${series.source_agent_id}`);
  if (series.instance_id) parts.push(`instance ${series.instance_id}`);
  for (const [k, v] of Object.entries(series.tags ?? {})) parts.push(`${k}=${v}`);
  return parts.join(' · ') || 'one series';
}

function renderRegressions() {
  const r = state.regressions;
  const entries = [...r.entries].sort(
    (a, b) =>
      SEVERITY_RANK[a.regression_severity] - SEVERITY_RANK[b.regression_severity] ||
      Math.abs(b.shift_percent ?? 0) - Math.abs(a.shift_percent ?? 0),
  );
  const body = $('regressions-body');
  body.replaceChildren();
  const selectedKey = state.selected ? regressionKey(state.selected) : null;
  const normal = entries.filter((e) => e.regression_severity === 'NORMAL').length;
  const shown = state.showNormal
    ? entries
    : entries.filter((e) => e.regression_severity !== 'NORMAL');
  for (const e of shown) {
    const unit = unitOf(e.metric_name);
    const tr = document.createElement('tr');
    tr.dataset.key = regressionKey(e);
    tr.dataset.severity = e.regression_severity;
    const isSelected = tr.dataset.key === selectedKey;
    if (isSelected) tr.classList.add('selected');
    const sev = document.createElement('td');
    const badge = document.createElement('span');
    badge.className = `badge ${e.regression_severity}`;
    badge.textContent = e.regression_severity;
    sev.append(badge);
    const metric = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'metric-button';
    button.textContent = e.metric_name;
    button.setAttribute('aria-pressed', String(isSelected));
    button.title = 'Show on the chart, with the change point marked';
    const label = document.createElement('span');
    label.className = 'series-label';
    label.textContent = seriesText(e.series);
    metric.append(button, label);
    const change = document.createElement('td');
    change.className = 'num';
    change.textContent = e.baseline_zero
      ? `${e.change_absolute > 0 ? '+' : ''}${fmt(e.change_absolute, unit)} (from 0)`
      : pct(e.avg_change_percent);
    change.title = `baseline ${fmt(e.baseline_avg, unit, true)} → recent ${fmt(e.recent_avg, unit, true)}; after the change point ${pct(e.shift_percent)}`;
    const shift = document.createElement('td');
    shift.className = 'num';
    shift.textContent = e.change_point ? pct(e.shift_percent) : '—';
    const p95 = document.createElement('td');
    p95.className = 'num';
    p95.textContent = pct(e.p95_change_percent);
    const p = document.createElement('td');
    p.className = 'num';
    p.textContent = pValue(e.p_value);
    const cp = document.createElement('td');
    cp.textContent = e.change_point
      ? `${dateTime(e.change_point)} (${ago(e.change_point)})`
      : 'none found';
    // Labels for the narrow layout, where each row is a block and the header is hidden.
    change.dataset.label = 'Change';
    shift.dataset.label = 'After change point';
    p95.dataset.label = 'p95 change';
    p.dataset.label = 'p-value';
    cp.dataset.label = 'Change point';
    metric.className = 'metric-cell';
    cp.className = 'wide';
    tr.append(sev, metric, change, shift, p95, p, cp);
    body.append(tr);
  }
  $('regressions').hidden = shown.length === 0;
  const empty = $('regressions-empty');
  empty.hidden = shown.length > 0;
  empty.textContent = !r.run
    ? 'Regression detection has not run yet.'
    : normal > 0
      ? 'No regressions: the significant changes of the last run are all NORMAL (small, or for the better).'
      : 'No regressions: nothing changed significantly in the last run.';
  const more = $('regressions-normal');
  more.hidden = normal === 0;
  more.setAttribute('aria-expanded', String(state.showNormal));
  more.textContent = state.showNormal
    ? `Hide the ${normal} NORMAL entries`
    : `Show ${normal} NORMAL ${normal === 1 ? 'entry' : 'entries'} too`;
  $('regressions-run').textContent = r.run
    ? `Run ${ago(r.run.computed_at)}: ${dateTime(r.run.recent.from)} → ${dateTime(r.run.recent.to)} against ${dateTime(r.run.baseline.from)} → ${dateTime(r.run.baseline.to)}; ${r.run.analysed} series and metrics analysed`
    : '';
}

// ---------------------------------------------------------------------------------------------
// Chart controls: metric, resolution, per-series filters

/** How a dimension is filtered: a query parameter, or a tag. */
const DIMENSIONS = {
  agent: [['source_agent_id', null, (s) => s.source_agent_id]],
  instance: [
    ['instance_id', null, (s) => s.instance_id],
    ['tag.instance_id', 'instance_id', (s) => s.tags?.instance_id],
    ['tag.instance', 'instance', (s) => s.tags?.instance],
  ],
  host: [
    ['tag.hostname', 'hostname', (s) => s.tags?.hostname],
    ['tag.host', 'host', (s) => s.tags?.host],
  ],
};

function metricSeries() {
  return state.metricSeries.metric === state.metric ? state.metricSeries.series : [];
}

/** Fetches the first page of the selected metric's series, which the pickers are built from. */
async function loadMetricSeries() {
  const metric = state.metric;
  if (!metric) {
    state.metricSeries = { metric: null, series: [], more: false };
    return;
  }
  const body = await api(`/api/v1/series?${new URLSearchParams({ metric_name: metric })}`);
  // Another metric may have been selected while this one was on its way.
  if (metric === state.metric)
    state.metricSeries = { metric, series: body.series, more: body.next_cursor !== null };
}

/** For each dimension: the first way of filtering it that the metric's series have values for. */
function dimensionsOf(series) {
  const out = {};
  for (const [dim, ways] of Object.entries(DIMENSIONS)) {
    out[dim] = null;
    for (const [param, , get] of ways) {
      const values = [...new Set(series.map(get).filter((v) => v !== null && v !== undefined))];
      if (values.length > 0) {
        out[dim] = { param, get, values: values.map(String).sort() };
        break;
      }
    }
  }
  return out;
}

function option(value, text, selected) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
}

function renderChartControls() {
  const metrics = new Set(summaryNames());
  for (const m of state.metrics?.metrics ?? []) metrics.add(m.metric_name);
  if (state.metric) metrics.add(state.metric);
  const select = /** @type {HTMLSelectElement} */ ($('metric-select'));
  select.replaceChildren(...[...metrics].sort().map((m) => option(m, m, m === state.metric)));

  const rangeMs = RANGES[state.range];
  const allowed = RESOLUTIONS.filter(
    (r) => durationMs(r) <= rangeMs && rangeMs / durationMs(r) <= MAX_POINTS,
  );
  if (state.resolution !== 'auto' && !allowed.includes(state.resolution)) state.resolution = 'auto';
  $('resolution-select').replaceChildren(
    option('auto', `auto (${DEFAULT_RESOLUTION[state.range]})`, state.resolution === 'auto'),
    ...allowed.map((r) => option(r, r, r === state.resolution)),
  );

  const series = metricSeries();
  const { more } = state.metricSeries;
  const dims = dimensionsOf(series);
  for (const dim of Object.keys(DIMENSIONS)) {
    const el = /** @type {HTMLSelectElement} */ ($(`filter-${dim}`));
    const d = dims[dim];
    // A value of a series beyond the first page (a regression's) is kept as one more choice.
    if (d && more && state.filters[dim] && !d.values.includes(state.filters[dim]))
      d.values = [...d.values, state.filters[dim]].sort();
    if (!d || !d.values.includes(state.filters[dim])) state.filters[dim] = '';
    const count = (v) => series.filter((s) => String(d.get(s)) === v).length;
    // With more series than the first page, the values are those of its series only.
    const all = d
      ? `all (${d.values.length}${more ? ` in the first ${series.length} series` : ''})`
      : 'none';
    el.title = more ? `Values of the first ${series.length} series of ${state.metric}` : '';
    el.replaceChildren(
      option('', all, state.filters[dim] === ''),
      ...(d?.values ?? []).map((v) =>
        option(v, `${v} (${count(v)} series)`, v === state.filters[dim]),
      ),
    );
    el.disabled = !d || d.values.length < 2;
  }
}

function chartQuery() {
  const q = new URLSearchParams({ metric_name: state.metric, time_range: state.range });
  if (state.resolution !== 'auto') q.set('resolution', state.resolution);
  const dims = dimensionsOf(metricSeries());
  for (const [dim, value] of Object.entries(state.filters))
    if (value && dims[dim]) q.set(dims[dim].param, value);
  return q;
}

async function loadChart() {
  const el = $('chart');
  const message = $('chart-message');
  if (!state.metric) {
    chart.clear();
    el.dataset.state = 'empty';
    message.textContent = 'No metrics are stored yet.';
    return;
  }
  saveHash();
  const q = chartQuery();
  const seq = ++state.chartSeq;
  el.dataset.state = 'loading';
  let body;
  try {
    body = await api(`/api/v1/time-series?${q}`);
  } catch (err) {
    if (seq !== state.chartSeq) return;
    // A metric gone since the list was made (retention): say so in the chart, not as an outage.
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    chart.clear();
    el.dataset.state = 'empty';
    message.textContent = err.message;
    return;
  }
  if (seq !== state.chartSeq) return;
  const unit = unitOf(state.metric);
  const minute = 60_000;
  const to = Math.floor(Date.now() / minute) * minute + minute;
  const sel = state.selected;
  const changePoint =
    sel && sel.metric_name === state.metric && sel.change_point
      ? Date.parse(sel.change_point)
      : null;
  chart.draw({
    points: body.points,
    unit,
    from: to - RANGES[state.range],
    to,
    resolutionMs: durationMs(body.resolution),
    changePoint,
    label: `Trend of ${state.metric} over ${state.range} at ${body.resolution}: average, p95, min and max`,
  });
  Object.assign(el.dataset, {
    metric: state.metric,
    range: state.range,
    resolution: body.resolution,
    query: q.toString(),
    state: 'ready',
  });
  $('chart-title').textContent = state.metric;
  $('chart-unit').textContent =
    `${UNIT_NAMES[unit]} · ${body.points.length} points at ${body.resolution} over ${state.range}`;
  message.textContent =
    body.points.length === 0 ? 'No data for this metric in this range with these filters.' : '';
}

/** Runs a chart reload started by a control, showing its failure as any other. */
function reloadChart() {
  loadChart().catch(handleError);
}

function selectMetric(metric) {
  if (metric === state.metric) return;
  state.metric = metric;
  if (state.selected?.metric_name !== metric) state.selected = null;
  state.filters = { agent: '', instance: '', host: '' };
  renderSummarySelection();
  renderRegressions();
  renderChartControls();
  loadMetricSeries()
    .then(() => {
      if (metric !== state.metric) return;
      renderChartControls();
      return loadChart();
    })
    .catch(handleError);
}

function renderSummarySelection() {
  for (const tr of document.querySelectorAll('#summary-body tr')) {
    const on = tr.dataset.metric === state.metric;
    tr.classList.toggle('selected', on);
    tr.querySelector('button')?.setAttribute('aria-pressed', String(on));
  }
}

function selectRegression(entry) {
  state.selected = entry;
  state.metric = entry.metric_name;
  state.filters = { agent: '', instance: '', host: '' };
  renderRegressions();
  renderSummarySelection();
  loadMetricSeries()
    .then(() => {
      if (state.selected === entry) showRegression(entry);
    })
    .catch(handleError);
}

/** Sets the pickers to the entry's series and shows its change point, once its series are in. */
function showRegression(entry) {
  if (entry.series) {
    const dims = dimensionsOf(metricSeries());
    for (const dim of Object.keys(DIMENSIONS)) {
      const v = dims[dim]?.get(entry.series);
      if (v !== null && v !== undefined) state.filters[dim] = String(v);
    }
  }
  $('chart-panel').scrollIntoView({ block: 'start' });
  // Widen the range when the change point is before it.
  const cp = entry.change_point ? Date.parse(entry.change_point) : null;
  if (cp !== null && cp < Date.now() - RANGES[state.range]) {
    const wider = Object.keys(RANGES).find((r) => cp >= Date.now() - RANGES[r]) ?? '7d';
    setRange(wider);
    return;
  }
  renderChartControls();
  reloadChart();
}

function setRange(range) {
  state.range = range;
  /** @type {HTMLInputElement} */ ($(`range-${range}`)).checked = true;
  saveHash();
  void refresh();
}

// ---------------------------------------------------------------------------------------------
// Events

for (const input of document.querySelectorAll('input[name="range"]')) {
  if (input.value === state.range) input.checked = true;
  input.addEventListener('change', () => setRange(input.value));
}

$('refresh').addEventListener('click', () => void refresh());

$('token-toggle').addEventListener('click', () => {
  const open = $('token-panel').hidden;
  showTokenPanel(open);
  if (open) $('token').focus();
});

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = /** @type {HTMLInputElement} */ ($('token')).value.trim();
  /** @type {HTMLInputElement} */ ($('token')).value = '';
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('bull-board').hidden = true;
  state.adminCheckedFor = null;
  $('updated').textContent = 'Checking the token…';
  void refresh();
});

$('token-forget').addEventListener('click', () => {
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  $('bull-board').hidden = true;
  state.adminCheckedFor = null;
  void refresh();
});

$('regressions-normal').addEventListener('click', () => {
  state.showNormal = !state.showNormal;
  renderRegressions();
});

$('summary-filter').addEventListener('input', (e) => {
  state.filterText = /** @type {HTMLInputElement} */ (e.target).value;
  renderSummary();
});

document.querySelector('#summary thead').addEventListener('click', (e) => {
  const key = /** @type {HTMLElement} */ (e.target).closest('button')?.dataset.sort;
  if (!key) return;
  state.sort =
    state.sort.key === key
      ? { key, dir: -state.sort.dir }
      : { key, dir: key === 'metric_name' ? 1 : -1 };
  renderSummary();
});

$('summary-body').addEventListener('click', (e) => {
  const tr = /** @type {HTMLElement} */ (e.target).closest('tr[data-metric]');
  if (tr) selectMetric(tr.dataset.metric);
});

$('regressions-body').addEventListener('click', (e) => {
  const tr = /** @type {HTMLElement} */ (e.target).closest('tr[data-key]');
  const entry = tr && state.regressions?.entries.find((x) => regressionKey(x) === tr.dataset.key);
  if (entry) selectRegression(entry);
});

$('metric-select').addEventListener('change', (e) =>
  selectMetric(/** @type {HTMLSelectElement} */ (e.target).value),
);

$('resolution-select').addEventListener('change', (e) => {
  state.resolution = /** @type {HTMLSelectElement} */ (e.target).value;
  reloadChart();
});

for (const dim of Object.keys(DIMENSIONS)) {
  $(`filter-${dim}`).addEventListener('change', (e) => {
    state.filters[dim] = /** @type {HTMLSelectElement} */ (e.target).value;
    reloadChart();
  });
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.lastOk && Date.now() - state.lastOk > REFRESH_MS) void refresh();
});

// The chart's colours come from the theme: redraw when it changes.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  if (state.summary) reloadChart();
});

setInterval(renderAges, 5_000);
void refresh();
