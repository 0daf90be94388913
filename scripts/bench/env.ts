// What the benchmarks share around their measurements: a scratch database and Redis prefixes,
// the pulse child processes, cleanup of all of it on failure and Ctrl-C, progress lines and the
// main() that ties them together.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { createDb, type Db } from '../../src/infra/db.js';
import type { Logger } from '../../src/infra/logger.js';
import { createRedis, redisAnswers } from '../../src/infra/redis.js';
import { migrate } from '../../src/metrics/schema.js';
import { parentPid } from './cpu.js';
import { ROOT } from './report.js';

// ---------------------------------------------------------------------------------------------
// Small utilities

const t0 = performance.now();
export function progress(message: string): void {
  process.stderr.write(
    `[bench ${((performance.now() - t0) / 1_000).toFixed(1).padStart(6)}s] ${message}\n`,
  );
}

/**
 * Runs `tick` every `ms` until the returned stop() is awaited; a tick never overlaps the next.
 * A failing tick is reported as a `what` error and the loop goes on.
 */
export function every(
  ms: number,
  tick: () => Promise<void> | void,
  what = 'sampler',
): () => Promise<void> {
  const stop = new AbortController();
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await sleep(ms, undefined, { signal: stop.signal });
      } catch {
        break; // aborted: stop() was called
      }
      try {
        await tick();
      } catch (err) {
        progress(`(${what} error: ${(err as Error).message})`);
      }
    }
  })();
  return async () => {
    stop.abort();
    await loop;
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when `pid` is a process on this machine whose name starts with `name`. */
export function localProcess(pid: number, name: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith(name);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Everything the run creates, so cleanup can undo it whatever happened.

export interface Resources {
  admin?: pg.Client;
  database?: string;
  db?: Db;
  redis?: Redis;
  prefixes: string[];
  /** Child processes started and not yet stopped. */
  children: ChildProcess[];
  /** Extra connections (COPY streams and the like). */
  clients: pg.Client[];
}

export async function stopChild(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode, timedOut: false };
  }
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  child.kill('SIGTERM');
  const first = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
  if (first) return { ...first, timedOut: false };
  child.kill('SIGKILL');
  return { ...(await exited), timedOut: true };
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

let cleaning: Promise<void> | undefined;
/** Undoes `res` (once, however often it is called); `clientName` names the extra connections. */
export function cleanup(res: Resources, clientName = 'client'): Promise<void> {
  cleaning ??= (async () => {
    const step = async (name: string, run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (err) {
        progress(`cleanup: ${name} failed: ${(err as Error).message}`);
      }
    };
    await Promise.all(
      res.children.map((child) =>
        step(`stop child ${child.pid}`, async () => {
          const r = await stopChild(child, 15_000);
          if (r.timedOut) progress(`cleanup: child ${child.pid} ignored SIGTERM; killed`);
        }),
      ),
    );
    res.children = [];
    await Promise.all(res.clients.map((c) => step(`close ${clientName}`, () => c.end())));
    res.clients = [];
    if (res.redis) {
      const redis = res.redis;
      for (const prefix of res.prefixes) {
        await step(`delete Redis keys ${prefix}:*`, async () => {
          const n = await deleteKeys(redis, prefix);
          progress(`cleanup: deleted ${n} Redis keys under ${prefix}:`);
        });
      }
      await step('close Redis', () => redis.quit());
    }
    if (res.db) await step('close pool', () => res.db?.$pool.end() ?? Promise.resolve());
    if (res.admin && res.database) {
      const { admin, database } = res;
      await step(`drop database ${database}`, async () => {
        // pg's pool.end() resolves before its connections have closed; terminating them under
        // it (WITH FORCE) would raise an unhandled error, so give them a moment to go first.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          const { rows } = await admin.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [database],
          );
          if ((rows[0]?.n ?? 0) === 0) break;
          await sleep(50);
        }
        // A connection still open now (say, one a failed stage left checked out, or a statement
        // interrupted by Ctrl-C) is terminated; its client then reports 57P01, which is expected
        // here and must not crash the cleanup.
        process.on('uncaughtException', (err: Error & { code?: string }) => {
          if (err.code === '57P01') return;
          throw err;
        });
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
        progress(`cleanup: dropped database ${database}`);
      });
    }
    if (res.admin)
      await step('close admin connection', () => res.admin?.end() ?? Promise.resolve());
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// The scratch database and Redis connection

export interface BenchEnv {
  /** The connection to the server's maintenance database (as `res.admin`). */
  admin: pg.Client;
  db: Db;
  dbUrl: string;
  redis: Redis;
  pgVersion: string;
  redisVersion: string;
  /** This process, and the PostgreSQL and Redis servers where they run on this machine. */
  roles: { bench: number; postgres?: number; redis?: number };
}

/**
 * Checks that Redis answers, creates and migrates `database` (then runs `prepare` on it, say to
 * add partitions) and connects to Redis; each piece goes into `res` as soon as it exists.
 */
export async function openEnv(
  opts: { databaseUrl: string; redisUrl: string },
  res: Resources,
  database: string,
  log: Logger,
  prepare?: (db: Db) => Promise<unknown>,
): Promise<BenchEnv> {
  if (!(await redisAnswers(opts.redisUrl, 3_000)))
    throw new Error(`Redis at ${redactUrl(opts.redisUrl)} does not answer PING`);
  const admin = new pg.Client({
    connectionString: opts.databaseUrl,
    application_name: 'pulse-bench-admin',
  });
  res.admin = admin;
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  res.database = database;
  const dbUrl = withDatabase(opts.databaseUrl, database);
  progress(
    `created database ${database}; Redis prefix${res.prefixes.length > 1 ? 'es' : ''} ${res.prefixes.join(', ')}`,
  );

  const db = createDb(dbUrl, 10, 'pulse-bench');
  res.db = db;
  await migrate(db, log);
  await prepare?.(db);
  const redis = createRedis(opts.redisUrl, 'pulse-bench', 'command');
  res.redis = redis;
  redis.on('error', (err) => progress(`redis: ${err.message}`));
  const pgVersion = (await db.one<{ v: string }>("SELECT current_setting('server_version') AS v"))
    .v;
  const redisInfo = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? 'unknown';

  // Whose CPU is whose: PostgreSQL's postmaster (parent of our backend) and redis-server, when
  // they run on this machine; everything not ours counts as "other" (a shared machine's noise).
  const backend = (await db.one<{ pid: number }>('SELECT pg_backend_pid() AS pid')).pid;
  const redisPid = Number(/process_id:(\d+)/.exec(redisInfo)?.[1] ?? NaN);
  const roles: BenchEnv['roles'] = { bench: process.pid };
  if (localProcess(backend, 'postgres')) roles.postgres = parentPid(backend) ?? undefined;
  if (localProcess(redisPid, 'redis')) roles.redis = redisPid;
  return { admin, db, dbUrl, redis, pgVersion, redisVersion, roles };
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** The child's output, kept short: the last lines, and how many were warnings or worse. */
export class OutputTail {
  lines: string[] = [];
  warnLines = 0;
  private partial = '';
  push(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (/"level":(4|5|6)\d/.test(line) || !line.startsWith('{'))
        this.warnLines += line.trim() ? 1 : 0;
      this.lines.push(line);
      if (this.lines.length > 200) this.lines.shift();
    }
  }
  show(n: number): string {
    return this.lines.slice(-n).join('\n');
  }
}

export interface Child {
  name: string;
  child: ChildProcess;
  pid: number;
  output: OutputTail;
}

/** The npm script that starts each pulse role (`npm start` runs `all`). */
const ROLE_SCRIPT = { all: 'start', api: 'api', worker: 'worker' } as const;

/**
 * The node options the role's npm script starts `dist/src/main.js` with (the V8 heap settings
 * among them), read from package.json: a benchmark runs a pulse process as ops start it.
 */
export function roleNodeArgs(role: keyof typeof ROLE_SCRIPT): string[] {
  const name = ROLE_SCRIPT[role];
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string | undefined>;
  };
  const words = (pkg.scripts[name] ?? '').trim().split(/\s+/);
  const node = words.indexOf('node');
  const main = words.indexOf('dist/src/main.js');
  if (node < 0 || main < node)
    throw new Error(`npm script "${name}" does not run node … dist/src/main.js`);
  return words.slice(node + 1, main);
}

/** Starts `node <args>` in the repository root; cleanup stops it if the run does not. */
export function startChild(
  res: Resources,
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: 'ignore' | 'pipe',
): Child {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  res.children.push(child);
  const output = new OutputTail();
  child.stdout?.on('data', (c: Buffer) => output.push(c));
  child.stderr?.on('data', (c: Buffer) => output.push(c));
  if (child.pid === undefined) throw new Error(`could not start the ${name} process`);
  return { name, child, pid: child.pid, output };
}

function exited(p: Child): boolean {
  return p.child.exitCode !== null || p.child.signalCode !== null;
}

export function checkRunning(p: Child, when: string): void {
  if (exited(p))
    throw new Error(
      `the ${p.name} process exited (${p.child.exitCode ?? p.child.signalCode}) ${when}:\n${p.output.show(30)}`,
    );
}

/**
 * Parses the options (exit 2 with `usage` if they are wrong), runs the benchmark and cleans up
 * after it, also on SIGINT / SIGTERM (a second one exits at once). Exits 1 when it failed, or
 * when a goal was missed and the options say to fail on that. and the options say to fail on that.
 */
export async function benchMain<O extends { failOnGoal: boolean }>(
  name: string,
  usage: string,
  parseOptions: (argv: string[]) => O,
  run: (opts: O, res: Resources) => Promise<boolean>,
  clientName?: string,
): Promise<void> {
  let opts: O;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  const res: Resources = { prefixes: [], children: [], clients: [] };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress(`${signal}: cleaning up (send again to exit at once)`);
    void cleanup(res, clientName).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 0;
  try {
    const allPassed = await run(opts, res);
    if (!allPassed && opts.failOnGoal) code = 1;
  } catch (err) {
    if (interrupted) console.error(`${name}: interrupted`);
    else console.error(`${name} failed: ${(err as Error).stack ?? String(err)}`);
    code = 1;
  } finally {
    await cleanup(res, clientName);
  }
  process.exit(code);
}
