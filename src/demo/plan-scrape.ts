// Scraped targets: a node_exporter on every host, and one app with an HTTP latency histogram.
import { HOUR } from '../infra/time.js';
import type { Tags } from '../metrics/series.js';
import { clamp, gauss, phi, sec, smooth, strHash, u01 } from './noise.js';
import { activity, spike } from './shapes.js';
import { Cumulative } from './counters.js';
import type { Host } from './hosts.js';
import type { Fleet } from './plan-fleet.js';

const SCRAPE_TIMEOUT_S = 5;

interface Scraped {
  metric: string;
  labels?: Tags;
  value: (t: number) => number;
}

const isUp = (k: number, t: number) => u01(k ^ 0x0badf00d, sec(t)) >= 0.002;

/** The middle of hour h: per-hour counter increments take the shapes there. */
const mid = (h: number) => h * HOUR + HOUR / 2;

/** A scrape target: `up`, the scrape's duration, and its metrics when the scrape succeeds. */
function target(fleet: Fleet, url: string, instance: string, k: number, metrics: Scraped[]): void {
  const tt = { instance, target: url };
  fleet.add('up', (t) => (isUp(k, t) ? 1 : 0), tt);
  fleet.add(
    'scrape_duration_seconds',
    (t) =>
      isUp(k, t)
        ? 0.006 + 0.02 * fleet.load(t) + 0.004 * u01(k ^ 1, sec(t))
        : SCRAPE_TIMEOUT_S + 0.003 * u01(k ^ 2, sec(t)),
    tt,
  );
  // A failed scrape stores only `up` and `scrape_duration_seconds`.
  for (const m of metrics)
    fleet.add(m.metric, (t) => (isUp(k, t) ? m.value(t) : undefined), { ...m.labels, ...tt });
}

/** The node_exporter of one host. */
function nodeExporterSpecs(fleet: Fleet, host: Host): void {
  const { seed } = fleet.ctx;
  const k = strHash(`${seed}|node-exporter|${host.name}`);
  const hk = strHash(`${seed}|host-metrics|${host.name}`);
  const util = (t: number) =>
    clamp(0.04 + 0.42 * host.weight * activity(t) * (1 + 0.03 * smooth(hk, t, 6 * HOUR)), 0.01, 1);
  const idle = new Cumulative((h) => 3_600 * (1 - util(mid(h))));
  const user = new Cumulative((h) => 3_600 * 0.7 * util(mid(h)));
  const rx = new Cumulative((h) => 3_600 * (4e4 + 2.5e6 * host.weight * activity(mid(h))));
  const memUsed = (t: number) =>
    host.memTotal *
    clamp(0.3 + 0.22 * host.weight * activity(t) + 0.05 * smooth(hk ^ 1, t, 12 * HOUR), 0.05, 0.99);
  target(fleet, host.nodeExporter.url, host.nodeExporter.instance, k, [
    {
      metric: 'node_load1',
      value: (t) =>
        Math.round(host.cores * util(t) * 115 * (1 + 0.12 * gauss(k ^ 3, sec(t)))) / 100,
    },
    {
      metric: 'node_memory_MemAvailable_bytes',
      value: (t) => Math.round((host.memTotal - memUsed(t)) / 4_096) * 4_096,
    },
    {
      metric: 'node_cpu_seconds_total',
      labels: { cpu: '0', mode: 'idle' },
      value: (t) => Math.round(idle.at(t) * 100) / 100,
    },
    {
      metric: 'node_cpu_seconds_total',
      labels: { cpu: '0', mode: 'user' },
      value: (t) => Math.round(user.at(t) * 100) / 100,
    },
    {
      metric: 'node_network_receive_bytes_total',
      labels: { device: 'eth0' },
      value: (t) => Math.floor(rx.at(t)),
    },
  ]);
}

const SIGMA = 0.9;
const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

/** The app: requests per hour and a log-normal latency whose median follows the load. */
function appSpecs(fleet: Fleet): void {
  const k = strHash(`${fleet.ctx.seed}|app`);
  const requests = (h: number) =>
    3_600 * (3 + 60 * fleet.scale * activity(mid(h)) * (1 + 0.1 * smooth(k, mid(h), 6 * HOUR)));
  const median = (h: number) => 0.035 * (1 + 0.8 * activity(mid(h))) * (1 + spike(k ^ 1, mid(h)));
  const errorShare = (h: number) => 0.002 + 0.03 * spike(k ^ 1, mid(h));
  const labels = { method: 'GET', route: '/api/orders' };
  const counters = BUCKETS.map(
    (le) =>
      new Cumulative((h) =>
        le === '+Inf'
          ? requests(h)
          : requests(h) * phi((Math.log(Number(le)) - Math.log(median(h))) / SIGMA),
      ),
  );
  const sum = new Cumulative((h) => requests(h) * median(h) * Math.exp((SIGMA * SIGMA) / 2));
  const ok = new Cumulative((h) => requests(h) * (1 - errorShare(h)));
  const failed = new Cumulative((h) => requests(h) * errorShare(h));
  target(fleet, 'http://demo-app:8080/metrics', 'demo-app:8080', k, [
    ...BUCKETS.map((le, i) => ({
      metric: 'http_request_duration_seconds_bucket',
      labels: { ...labels, le },
      value: (t: number) => Math.floor((counters[i] as Cumulative).at(t)),
    })),
    {
      metric: 'http_request_duration_seconds_sum',
      labels,
      value: (t) => Math.round(sum.at(t) * 1_000) / 1_000,
    },
    {
      metric: 'http_request_duration_seconds_count',
      labels,
      value: (t) => Math.floor((counters[BUCKETS.length - 1] as Cumulative).at(t)),
    },
    {
      metric: 'http_requests_total',
      labels: { ...labels, status: '200' },
      value: (t) => Math.floor(ok.at(t)),
    },
    {
      metric: 'http_requests_total',
      labels: { ...labels, status: '500' },
      value: (t) => Math.floor(failed.at(t)),
    },
  ]);
}

/** Every scrape target: the hosts' node_exporters, then the app. */
export function scrapeSpecs(fleet: Fleet): void {
  for (const host of fleet.ctx.hosts) nodeExporterSpecs(fleet, host);
  appSpecs(fleet);
}
