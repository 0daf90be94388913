// The API benchmark's child processes: the pulse API (node dist/src/main.js api) and the bare
// Express baseline answering the same bodies.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { envSchema } from '../../../src/config.js';
import {
  checkRunning,
  type Child,
  freePort,
  progress,
  type Resources,
  startChild,
  stopChild,
} from '../env.js';
import { ROOT } from '../report.js';
import { CACHE_TTL } from './paths.js';

async function waitFor(
  url: string,
  p: Child,
  ok: (r: Response) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    checkRunning(p, `before ${what}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      last = `${r.status} ${(await r.text()).slice(0, 200)}`;
      if (ok(r)) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${what} did not happen within 90 s (last: ${last})\n${p.output.show(30)}`);
}

export async function stopNamed(res: Resources, p: Child): Promise<number | null> {
  const r = await stopChild(p.child, 20_000);
  res.children = res.children.filter((c) => c !== p.child);
  if (r.code !== 0)
    progress(
      `the ${p.name} process exited with ${r.code ?? r.signal}${r.timedOut ? ' (killed after 20 s)' : ''}; last output:\n${p.output.show(20)}`,
    );
  return r.code;
}

/**
 * The environment of a pulse child process: the shell's without its config variables, then
 * the benchmark's database, Redis, prefix and port, quiet logs, no samplers, and `extra`.
 */
export function pulseEnv(
  to: { dbUrl: string; redisUrl: string; prefix: string; port: number },
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(envSchema.shape)) delete env[name];
  return Object.assign(env, {
    DATABASE_URL: to.dbUrl,
    REDIS_URL: to.redisUrl,
    PULSE_PREFIX: to.prefix,
    PORT: String(to.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SAMPLERS: 'none',
    ...extra,
  });
}

export interface ApiSetup {
  dbUrl: string;
  redisUrl: string;
  prefix: string;
  adminToken: string;
}

/**
 * Starts the real API (building dist/ first if it is missing) on a free port, with only the
 * benchmark's configuration (config variables from the shell are dropped), and waits until
 * GET /readyz answers 200.
 */
export async function startApi(
  res: Resources,
  setup: ApiSetup,
): Promise<{ api: Child; base: string }> {
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'main.js'))) {
    progress('dist/ is missing: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`npm run build failed (${built.status})`);
  }
  const port = await freePort();
  const env = pulseEnv({ ...setup, port }, { ADMIN_TOKEN: setup.adminToken, CACHE_TTL });
  progress(`starting node dist/src/main.js api (port ${port})`);
  const api = startChild(res, 'api', ['dist/src/main.js', 'api'], env, 'pipe');
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/readyz`, api, (r) => r.status === 200, 'GET /readyz answering 200');
  return { api, base };
}

// The baseline: a bare Express 5 app, plain JavaScript like dist/, each route answering a fixed
// body with the headers the API sets on a cached answer (JSON type, ETag, Cache-Control,
// Last-Modified). Its routes come as JSON on stdin; it prints the port it listens on.
const BASELINE_SERVER = `
import express from 'express';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
const spec = JSON.parse(readFileSync(0, 'utf8'));
const app = express();
app.disable('x-powered-by');
for (const r of spec.routes) {
  app.get(r.path, (_req, res) => {
    res.setHeader('ETag', r.etag);
    res.setHeader('Cache-Control', r.cacheControl);
    res.setHeader('Last-Modified', r.lastModified);
    res.type('application/json').send(r.body);
  });
}
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
`;

export interface BaselineRoute {
  path: string;
  body: string;
  etag: string;
  cacheControl: string;
  lastModified: string;
}

async function spawnBaseline(
  res: Resources,
  routes: BaselineRoute[],
): Promise<Child & { port: number }> {
  const p = startChild(
    res,
    'baseline',
    ['--input-type=module', '-e', BASELINE_SERVER],
    { PATH: process.env.PATH, NODE_ENV: process.env.NODE_ENV },
    'pipe',
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`baseline did not start:\n${p.output.show(20)}`)),
      30_000,
    );
    let seen = '';
    p.child.stdout?.on('data', (c: Buffer) => {
      seen += c.toString('utf8');
      const m = /\{"port":(\d+)\}/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baseline exited (${code}):\n${p.output.show(20)}`));
    });
    p.child.stdin?.end(JSON.stringify({ routes }));
  });
  return { ...p, port };
}

/** Starts the baseline on `routes` and waits until its first route answers 200. */
export async function startBaseline(
  res: Resources,
  routes: BaselineRoute[],
): Promise<{ baseline: Child; base: string }> {
  const baseline = await spawnBaseline(res, routes);
  const base = `http://127.0.0.1:${baseline.port}`;
  await waitFor(
    `${base}${routes[0]?.path ?? '/'}`,
    baseline,
    (r) => r.status === 200,
    'the baseline answering',
  );
  return { baseline, base };
}
