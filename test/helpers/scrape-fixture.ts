// A scrape-target fixture served over real HTTP: node_exporter output, a live prom-client
// registry, and targets that hang, answer garbage or answer 500, redirect (to their own origin
// or another), or want Basic credentials.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import client from 'prom-client';
import { ROOT } from './processes.js';

export interface ScrapeFixture {
  base: string;
  registry: client.Registry;
  close(): Promise<void>;
}

export async function startScrapeFixture(): Promise<ScrapeFixture> {
  const nodeExporter = await readFile(path.join(ROOT, 'test/fixtures/node_exporter.prom'), 'utf8');
  const registry = new client.Registry();
  new client.Counter({
    name: 'fixture_requests_total',
    help: 'requests',
    labelNames: ['route'],
    registers: [registry],
  }).inc({ route: '/x' }, 42);
  new client.Gauge({
    name: 'fixture_temperature_celsius',
    help: 'temperature',
    registers: [registry],
  }).set(21.5);
  const h = new client.Histogram({
    name: 'fixture_latency_seconds',
    help: 'latency',
    buckets: [0.1, 1],
    registers: [registry],
  });
  for (const v of [0.05, 0.5, 0.7, 3]) h.observe(v);
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    const url = new URL(req.url ?? '/', 'http://fixture');
    switch (url.pathname) {
      case '/redirect-same':
        res.writeHead(302, { location: '/node' }).end();
        return;
      case '/redirect-other':
        // Same server, other origin (a name instead of the address).
        res.writeHead(302, { location: `http://localhost:${port}/node` }).end();
        return;
      case '/auth': {
        const expected = `Basic ${Buffer.from('scraper:s3cret').toString('base64')}`;
        if (req.headers.authorization !== expected) res.writeHead(401).end('who are you');
        else res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(nodeExporter);
        return;
      }
      case '/node':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(nodeExporter);
        return;
      case '/app':
        void registry
          .metrics()
          .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
        return;
      case '/hang':
        hanging.add(res);
        return;
      case '/garbage':
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<html><body><h1>Welcome to nginx!</h1></body></html>');
        return;
      default:
        res.writeHead(500).end('internal error');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
