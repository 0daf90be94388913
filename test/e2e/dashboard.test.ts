// The web dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a
// running pulse API with demo data: the token prompt, a table row per metric, the chart's points
// against the API, a range switch, picking a metric and one of its series, a regression row
// marking its change point, a wrong token and a stopped API. Screenshots go to test/artifacts/ (ignored by git).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, type DemoResult } from '../../src/demo/run.js';
import { regression, type RegressionRun } from '../../src/jobs/regression.js';
import { start, type Running } from '../../src/main.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { ROOT } from '../helpers/processes.js';
import { MINUTE } from '../../src/infra/time.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test/artifacts');
const READ = 'dashboard-read-token-0123';
const ADMIN = 'dashboard-admin-token-0123';

// Without Chromium the test can only skip on a developer's machine; CI must run it (and fails
// at launch, saying the executable is missing, if .ci/run did not install it).
const skipReason =
  !existsSync(CHROMIUM) && !process.env.CI
    ? `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run it`
    : undefined;
if (skipReason) console.warn(`dashboard e2e test skipped: ${skipReason}`);

interface TrendAnswer {
  resolution: string;
  points: unknown[];
}
interface RegressionEntry {
  metric_name: string;
  regression_severity: string;
  change_point: string | null;
  series: { id: number } | null;
}

let ctx: TestContext;
let demo: DemoResult;
let run: RegressionRun;
let api: Running | undefined;
let base: string;
let profile: string;
let browser: BrowserContext | undefined;
let page: Page;
const problems: string[] = [];
/** Every GET /api/v1/series the page made. */
const seriesRequests: URL[] = [];

async function get<T>(pathAndQuery: string): Promise<T> {
  const res = await fetch(`${base}${pathAndQuery}`, {
    headers: { authorization: `Bearer ${READ}` },
  });
  expect(res.status, pathAndQuery).toBe(200);
  return (await res.json()) as T;
}

/** The chart's data attributes (what it drew), once it has drawn for `range`. */
async function chartReady(range: string, selector = '') {
  const chart = page.locator(`#chart[data-state="ready"][data-range="${range}"]${selector}`);
  await chart.waitFor({ timeout: 15_000 });
  const attr = async (name: string) => (await chart.getAttribute(`data-${name}`)) ?? '';
  return {
    metric: await attr('metric'),
    query: await attr('query'),
    points: Number(await attr('points')),
    resolution: await attr('resolution'),
    changePoint: await attr('change-point'),
    changePointX: Number(await attr('change-point-x')),
    width: (await chart.boundingBox())?.width ?? 0,
  };
}

const shot = (name: string, fullPage = false) =>
  page.screenshot({ path: path.join(ARTIFACTS, name), fullPage });

describe.skipIf(skipReason !== undefined)('the web dashboard in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium when it is`);
    ctx = await createTestContext('dashboard');
    demo = await runDemo({ db: ctx.db, config: ctx.config(), days: 3, stepMs: 10 * MINUTE });
    const config = ctx.config({ REGRESSION_BASELINE: '2d', REGRESSION_RECENT: '1d' });
    run = await regression(
      { db: ctx.db, log: ctx.log, config: { ...config.regression, minSegmentMinutes: 60 } },
      { reason: 'manual' },
    );
    api = await start(
      ctx.config({ PULSE_ROLE: 'api', READ_TOKEN: READ, ADMIN_TOKEN: ADMIN }),
      ctx.log,
    );
    base = `http://127.0.0.1:${api.port}`;
    await mkdir(ARTIFACTS, { recursive: true });
    profile = await mkdtemp(path.join(os.tmpdir(), 'pulse-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1280, height: 800 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    // Script errors and CSP violations fail the test; a refused request (401) is expected.
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.pathname === '/api/v1/series') seriesRequests.push(u);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
        problems.push(`console: ${msg.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await api?.stop();
    await ctx?.cleanup();
  });

  it('asks for the token, then shows a row per metric of the summary', async () => {
    await page.goto(base);
    await expect.poll(() => page.locator('#error').textContent()).toContain('needs a token');
    expect(await page.locator('#main').isVisible()).toBe(false);
    await page.getByLabel('Token', { exact: true }).fill(READ);
    await page.getByRole('button', { name: 'Use token' }).click();
    await chartReady('24h');
    const summary = await get<{ metrics: { metric_name: string }[] }>(
      '/api/v1/metrics/summary?time_range=24h',
    );
    const rows = page.locator('#summary-body tr');
    expect(await rows.count()).toBe(summary.metrics.length);
    const names = await Promise.all(
      (await rows.all()).map((row) => row.getAttribute('data-metric')),
    );
    expect(names.sort()).toEqual(summary.metrics.map((m) => m.metric_name).sort());
    expect(await page.locator('#error').isVisible()).toBe(false);
    // Rows get their sparkline when they scroll into view.
    await page.locator('#summary').scrollIntoViewIfNeeded();
    await page.locator('#summary-body svg.spark').first().waitFor();
    // The filter box narrows the table.
    await page.getByLabel('Filter').fill('redis_');
    const filtered = summary.metrics.filter((m) => m.metric_name.includes('redis_')).length;
    expect(filtered).toBeGreaterThan(0);
    await expect.poll(() => rows.count()).toBe(filtered);
    await page.getByLabel('Filter').fill('');
    await expect.poll(() => rows.count()).toBe(summary.metrics.length);
  });

  it('draws as many points as the API returns for the same query', async () => {
    const chart = await chartReady('24h');
    const answer = await get<TrendAnswer>(`/api/v1/time-series?${chart.query}`);
    expect(answer.points.length).toBeGreaterThan(100);
    expect(chart.points).toBe(answer.points.length);
    expect(await page.locator('#chart canvas').count()).toBe(1);
    // Hovering shows exact values with their unit (the metric name ends in _percentage).
    expect(chart.metric).toBe('cpu_usage_percentage');
    const avg = page.locator('#chart .u-legend .u-series').nth(1).locator('.u-value');
    await page.locator('#chart .u-over').hover({ position: { x: 200, y: 100 } });
    await expect.poll(() => avg.textContent()).toMatch(/^\d[\d.,]* %$/);
    const at = await page
      .locator('#chart .u-legend .u-series')
      .first()
      .locator('.u-value')
      .textContent();
    expect(at).not.toBe('—');
    // The keyboard reads values too: End goes to the latest point and says what it is.
    await page.locator('#chart').focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.locator('#chart + .sr-only').textContent()).toMatch(/average \d/);
    await page.locator('#chart .u-over').hover({ position: { x: 200, y: 100 } });
    await page.locator('#chart-panel').scrollIntoViewIfNeeded();
    await shot('dashboard-1280x800-hover.png');
  });

  it('switching the range to 1 h and back changes the chart', async () => {
    await page.getByText('1 h', { exact: true }).click();
    const hour = await chartReady('1h');
    const hourAnswer = await get<TrendAnswer>(`/api/v1/time-series?${hour.query}`);
    expect(hour.points).toBe(hourAnswer.points.length);
    expect(hour.resolution).toBe('1m');
    await page.getByText('24 h', { exact: true }).click();
    const day = await chartReady('24h');
    expect(day.resolution).toBe('5m');
    expect(day.points).not.toBe(hour.points);
    expect(day.points).toBeGreaterThan(hour.points);
  });

  it("picking a metric loads that metric's series: the host picker lists their hosts, and a host narrows the chart", async () => {
    const metric = 'memory_usage_percentage';
    const metrics = await get<{ metrics: { metric_name: string; series: number }[] }>(
      '/api/v1/metrics',
    );
    const listed = metrics.metrics.find((m) => m.metric_name === metric);
    expect(listed?.series).toBe(demo.hosts.length);
    expect(demo.hosts.length).toBeGreaterThan(1);
    const before = seriesRequests.length;
    await page.locator('#metric-select').selectOption(metric);
    const chart = await chartReady('24h', `[data-metric="${metric}"]`);
    expect(chart.query).toBe(`metric_name=${metric}&time_range=24h`);
    // The page asked for this metric's series, and never for every series.
    const asked = seriesRequests.slice(before);
    expect(asked.map((u) => u.searchParams.get('metric_name'))).toContain(metric);
    expect(seriesRequests.every((u) => u.searchParams.has('metric_name'))).toBe(true);
    const { series } = await get<{ series: { tags: Record<string, string> }[] }>(
      `/api/v1/series?metric_name=${metric}`,
    );
    const hosts = [...new Set(series.map((s) => s.tags.hostname as string))].sort();
    expect(hosts).toEqual([...demo.hosts].sort());
    const options = page.locator('#filter-host option');
    await expect.poll(() => options.count()).toBe(hosts.length + 1);
    expect(
      await options.evaluateAll((els: unknown[]) => els.map((o) => (o as { value: string }).value)),
    ).toEqual(['', ...hosts]);
    expect(await options.first().textContent()).toBe(`all (${hosts.length})`);
    expect(await options.nth(1).textContent()).toBe(`${hosts[0]} (1 series)`);
    expect(await page.locator('#filter-host').isDisabled()).toBe(false);
    // One host: the chart's query carries its tag, and draws what the API answers for it.
    const host = hosts[1] as string;
    await page.locator('#filter-host').selectOption(host);
    const narrowed = await chartReady(
      '24h',
      `[data-query="${new URLSearchParams({ metric_name: metric, time_range: '24h', 'tag.hostname': host }).toString()}"]`,
    );
    const answer = await get<TrendAnswer>(`/api/v1/time-series?${narrowed.query}`);
    expect(answer.points.length).toBeGreaterThan(100);
    expect(narrowed.points).toBe(answer.points.length);
    await page.locator('#chart-panel').scrollIntoViewIfNeeded();
    await shot('dashboard-1280x800-metric-host.png');
  });

  it('lists the regressions, worst first, and selecting one marks its change point', async () => {
    const report = await get<{ entries: RegressionEntry[] }>('/api/v1/regressions');
    expect(report.entries.length).toBe(run.entries.length);
    const listed = report.entries.filter(
      (e) => e.regression_severity !== 'NORMAL' && e.change_point !== null,
    );
    expect(listed.length, 'a regression with a change point is listed').toBeGreaterThan(0);
    // CRITICAL and WARNING rows only, until the NORMAL ones are asked for.
    const rows = page.locator('#regressions-body tr');
    const bad = report.entries.filter((e) => e.regression_severity !== 'NORMAL').length;
    expect(await rows.count()).toBe(bad);
    expect(await rows.first().getAttribute('data-severity')).toBe(
      report.entries.some((e) => e.regression_severity === 'CRITICAL') ? 'CRITICAL' : 'WARNING',
    );
    if (bad < report.entries.length) {
      await page.getByRole('button', { name: /NORMAL entr/ }).click();
      await expect.poll(() => rows.count()).toBe(report.entries.length);
      await page.getByRole('button', { name: /NORMAL entr/ }).click();
      await expect.poll(() => rows.count()).toBe(bad);
    }
    // The demo's regression (×1.4, 12 h before its last point) when it is listed. On a weekend
    // morning the weekly drop can hide it; the weekend's drop in throughput is listed then.
    const demoMetrics = demo.regression.series.map((s) => s.metric);
    const e = listed.find((x) => demoMetrics.includes(x.metric_name)) ?? listed[0];
    if (e === undefined) throw new Error('no regression with a change point');
    const key = `${e.metric_name}|${e.series?.id ?? ''}`;
    await page.locator(`#regressions-body tr[data-key="${key}"] button`).click();
    const chart = await chartReady('24h', `[data-change-point="${e.change_point}"]`);
    expect(chart.metric).toBe(e.metric_name);
    expect(Number(chart.changePointX)).toBeGreaterThan(0);
    expect(Number(chart.changePointX)).toBeLessThan(chart.width);
    await page.locator('#chart-panel').scrollIntoViewIfNeeded();
    await shot('dashboard-1280x800-regression.png');
    await page.evaluate('window.scrollTo(0, 0)');
    await shot('dashboard-1280x800.png');
    await shot('dashboard-1280-full.png', true);
  });

  it('fits a phone screen, and has a dark theme', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate('window.scrollTo(0, 0)');
    await expect
      .poll(() => page.evaluate<number>('document.documentElement.scrollWidth'))
      .toBeLessThanOrEqual(390);
    await shot('dashboard-390x844.png');
    await shot('dashboard-390-full.png', true);
    await page
      .locator('section', { has: page.locator('#regressions') })
      .screenshot({ path: path.join(ARTIFACTS, 'dashboard-390-regressions.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('#chart[data-state="ready"]').waitFor();
    await shot('dashboard-1280x800-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it("opens Bull Board with the token given to the browser's own login, not with a wrong one", async () => {
    // A 401 offers Basic in its own, first WWW-Authenticate header: Chromium reads only the first
    // challenge of a header, and with "Bearer …, Basic …" in one it never sent credentials.
    const other = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      for (const [password, status] of [
        [ADMIN, 200],
        [READ, 200],
        ['wrong-admin-token-0123', 401],
      ] as const) {
        const context = await other.newContext({
          httpCredentials: { username: 'admin', password },
        });
        const tab = await context.newPage();
        const res = await tab.goto(`${base}/admin/queues`);
        expect(res?.status(), password).toBe(status);
        // The board's own requests carry the same credentials: it lists pulse's queues.
        if (status === 200) await tab.getByText('flush').first().waitFor({ timeout: 15_000 });
        if (password === ADMIN)
          await tab.screenshot({ path: path.join(ARTIFACTS, 'bull-board.png') });
        await context.close();
      }
    } finally {
      await other.close();
    }
  });

  it('says so when the token is wrong, instead of showing empty charts', async () => {
    await page.getByRole('button', { name: 'Token' }).click();
    await page.getByLabel('Token', { exact: true }).fill('wrong-token-0123456789');
    await page.getByRole('button', { name: 'Use token' }).click();
    await expect
      .poll(() => page.locator('#error').textContent())
      .toContain('The token was refused');
    expect(await page.locator('#main').isVisible()).toBe(false);
    await shot('dashboard-wrong-token.png');
    // The admin token reads too, and shows the link to Bull Board.
    await page.getByLabel('Token', { exact: true }).fill(ADMIN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#main').waitFor({ state: 'visible' });
    await page.getByRole('link', { name: 'Bull Board' }).waitFor();
    expect(await page.locator('#error').isVisible()).toBe(false);
  });

  it('refreshes by itself, and says so when the API is down', async () => {
    // A 5 s poll (#refresh=5); the token stays in the tab's session storage across the reload.
    await page.goto(`${base}/#refresh=5`);
    await page.reload();
    await chartReady('24h');
    const updated = await page.locator('#updated').textContent();
    await expect
      .poll(() => page.locator('#updated').textContent(), { timeout: 10_000 })
      .not.toBe(updated);
    await api?.stop();
    api = undefined;
    await expect
      .poll(() => page.locator('#error').textContent(), { timeout: 10_000 })
      .toContain('The pulse API is down or unreachable');
    expect(await page.locator('#main').isVisible()).toBe(true);
    await shot('dashboard-api-down.png');
    expect(problems).toEqual([]);
  });
});
