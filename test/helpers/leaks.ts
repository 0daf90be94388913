// The leak guard's checks, kept apart from vitest's hooks so test/integration/leak-guard.test.ts
// can run them against leaks it plants. global-setup.ts judges what a whole run left on the
// servers (databases, Redis keys, processes); leak-setup.ts judges each file's own process
// (active handles, child processes).
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/** The env variables every process a test starts carries: the run's token and the test file. */
export const RUN_ENV = 'PULSE_TEST_RUN';
export const FILE_ENV = 'PULSE_TEST_FILE';

/**
 * A per-run token: the start time in seconds (6 base-36 digits until 2059) and 4 random hex
 * digits. It goes into every database name and key prefix a test creates, so a run judges only
 * its own names, not an earlier killed run's or a concurrent run's on the same servers.
 */
export function newRunToken(now = Date.now()): string {
  return (
    Math.floor(now / 1000)
      .toString(36)
      .padStart(6, '0') + randomBytes(2).toString('hex')
  );
}

const TOKEN = '[0-9a-z]{6}[0-9a-f]{4}';

/** When the run with this token started, in ms since the epoch. */
export function runTokenTime(token: string): number {
  return parseInt(token.slice(0, 6), 36) * 1000;
}

/** `pulse_t_<label>_<token>_<id>`: the database a test context creates. */
export function testDatabaseName(label: string, token: string, id: string): string {
  return `pulse_t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${token}_${id}`;
}

/** `pulse-t-<label>-<token>-<id>`: the Redis key prefix a test context uses. */
export function testKeyPrefix(label: string, token: string, id: string): string {
  return `pulse-t-${label}-${token}-${id}`;
}

const DATABASE_NAME = new RegExp(`^pulse_t_(.+)_(${TOKEN})_[0-9a-f]{8}$`);
// A context's prefix, and anything a test derives from it by appending (`<prefix>-open`).
const KEY_PREFIX = new RegExp(`^(pulse-t-(.+)-(${TOKEN})-[0-9a-f]{8})`);

/** Where createTestContext records which file created which database and prefix. */
export function registryPath(token: string): string {
  return path.join(os.tmpdir(), `pulse-test-run-${token}.ndjson`);
}

export interface Registered {
  database: string;
  prefix: string;
  file: string;
}

export function register(token: string, entry: Registered): void {
  appendFileSync(registryPath(token), `${JSON.stringify(entry)}\n`);
}

async function readRegistry(token: string): Promise<Registered[]> {
  const text = await readFile(registryPath(token), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Registered);
}

export interface Leftover {
  kind: 'database' | 'redis keys' | 'process';
  /** The database name, the key prefix, or `<pid> <command line>`. */
  name: string;
  /** The test file that created it, when known; else the label from the name. */
  from: string;
  /** For keys: how many there are under the prefix. */
  count?: number;
}

export interface Servers {
  pgAdminUrl: string;
  redisUrl: string;
}

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true });
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    await redis.quit();
  }
}

/** Every key under `pulse-t-*` with the prefix it belongs to and that prefix's token. */
async function testKeys(redis: Redis): Promise<{ key: string; prefix: string; token: string }[]> {
  const found: { key: string; prefix: string; token: string }[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'pulse-t-*', 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const m = KEY_PREFIX.exec(key);
      if (!m) continue;
      // The part before the first ':': a prefix derived by appending (`<prefix>-open`) is its own.
      const colon = key.indexOf(':');
      found.push({ key, prefix: colon < 0 ? key : key.slice(0, colon), token: m[3] as string });
    }
  } while (cursor !== '0');
  return found;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmd: string;
}

/** Live (not zombie) processes from /proc, with their environment; [] where there is no /proc. */
async function liveProcesses(withEnviron: boolean): Promise<(ProcInfo & { environ: string[] })[]> {
  if (!existsSync('/proc/self/stat')) return [];
  const found: (ProcInfo & { environ: string[] })[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The fields after the parenthesised command name: state, ppid, …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat === '' || fields[0] === 'Z') continue;
    const cmd = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''))
      .replace(/\0+$/, '')
      .replace(/\0/g, ' ')
      .slice(0, 120);
    const environ = withEnviron
      ? (await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '')).split('\0')
      : [];
    found.push({ pid: Number(entry), ppid: Number(fields[1]), cmd, environ });
  }
  return found;
}

/** Live processes (Linux) whose environment carries `PULSE_TEST_RUN=<token>`. */
export async function processesOfRun(
  token: string,
): Promise<{ pid: number; file: string; cmd: string }[]> {
  return (await liveProcesses(true))
    .filter((p) => p.pid !== process.pid && p.environ.includes(`${RUN_ENV}=${token}`))
    .map((p) => ({
      pid: p.pid,
      cmd: p.cmd,
      file: p.environ.find((v) => v.startsWith(`${FILE_ENV}=`))?.slice(FILE_ENV.length + 1) ?? '?',
    }));
}

/**
 * What the run with `token` left behind: its databases, its Redis key prefixes (with a count)
 * and its processes still running. Names from other runs are not looked at.
 */
export async function findLeftovers(servers: Servers, token: string): Promise<Leftover[]> {
  const registry = await readRegistry(token);
  const fileOf = (match: (r: Registered) => boolean, label: string) =>
    registry.find(match)?.file ?? `label "${label}"`;
  const leftovers: Leftover[] = [];

  const databases = await withAdmin(servers.pgAdminUrl, (c) =>
    c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'pulse\\_t\\_%' ORDER BY datname`,
    ),
  );
  for (const { datname } of databases.rows) {
    const m = DATABASE_NAME.exec(datname);
    if (!m || m[2] !== token) continue;
    leftovers.push({
      kind: 'database',
      name: datname,
      from: fileOf((r) => r.database === datname, m[1] as string),
    });
  }

  const counts = new Map<string, number>();
  for (const k of await withRedis(servers.redisUrl, testKeys))
    if (k.token === token) counts.set(k.prefix, (counts.get(k.prefix) ?? 0) + 1);
  for (const [prefix, count] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    const label = KEY_PREFIX.exec(prefix)?.[2] ?? prefix;
    leftovers.push({
      kind: 'redis keys',
      name: prefix,
      count,
      from: fileOf((r) => prefix.startsWith(r.prefix), label),
    });
  }

  for (const p of await processesOfRun(token))
    leftovers.push({ kind: 'process', name: `${p.pid} ${p.cmd}`, from: p.file });
  return leftovers;
}

export function describeLeftovers(leftovers: Leftover[]): string {
  const lines = leftovers.map((l) => {
    const what =
      l.kind === 'redis keys' ? `${l.count} Redis key(s) under ${l.name}:` : `${l.kind} ${l.name}`;
    return `  - ${what} (from ${l.from})`;
  });
  return `the test run left ${leftovers.length} thing(s) behind:\n${lines.join('\n')}`;
}

/**
 * Kills the processes listed (first, so none writes again), then drops the databases and
 * deletes the keys (SCAN + UNLINK) listed.
 */
export async function removeLeftovers(servers: Servers, leftovers: Leftover[]): Promise<void> {
  for (const l of leftovers.filter((l) => l.kind === 'process')) {
    try {
      process.kill(Number(l.name.split(' ')[0]), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  const databases = leftovers.filter((l) => l.kind === 'database').map((l) => l.name);
  if (databases.length > 0)
    await withAdmin(servers.pgAdminUrl, async (c) => {
      for (const name of databases)
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
    });
  const prefixes = leftovers.filter((l) => l.kind === 'redis keys').map((l) => l.name);
  if (prefixes.length > 0)
    await withRedis(servers.redisUrl, async (redis) => {
      for (const prefix of prefixes) await unlinkMatching(redis, `${prefix}*`);
    });
}

async function unlinkMatching(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Removes databases and keys of runs that started more than `olderThanMs` ago: a run killed
 * before its teardown leaves them, and no run lasts that long. Returns how many were removed.
 */
export async function removeStale(
  servers: Servers,
  now: number,
  olderThanMs: number,
): Promise<number> {
  // A time before the token format existed means the name only looks like one of these.
  const stale = (token: string) =>
    runTokenTime(token) > Date.UTC(2026, 0, 1) && runTokenTime(token) < now - olderThanMs;
  const databases = await withAdmin(servers.pgAdminUrl, (c) =>
    c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'pulse\\_t\\_%'`,
    ),
  );
  const leftovers: Leftover[] = [];
  for (const { datname } of databases.rows) {
    const m = DATABASE_NAME.exec(datname);
    if (m && stale(m[2] as string)) leftovers.push({ kind: 'database', name: datname, from: '' });
  }
  const prefixes = new Set<string>();
  for (const k of await withRedis(servers.redisUrl, testKeys))
    if (stale(k.token)) prefixes.add(k.prefix);
  for (const prefix of prefixes) leftovers.push({ kind: 'redis keys', name: prefix, from: '' });
  await removeLeftovers(servers, leftovers);
  return leftovers.length;
}

export async function removeRegistry(token: string): Promise<void> {
  await rm(registryPath(token), { force: true });
}

/** Resource types (process.getActiveResourcesInfo()) in `after` beyond their count in `before`. */
export function extraResources(before: string[], after: string[]): Map<string, number> {
  const count = (list: string[]) => {
    const m = new Map<string, number>();
    for (const t of list) m.set(t, (m.get(t) ?? 0) + 1);
    return m;
  };
  const was = count(before);
  const extra = new Map<string, number>();
  for (const [type, n] of count(after))
    if (n > (was.get(type) ?? 0)) extra.set(type, n - (was.get(type) ?? 0));
  return extra;
}

/** Live child processes of `ppid` with their command lines (Linux; [] elsewhere). */
export async function childProcesses(ppid = process.pid): Promise<{ pid: number; cmd: string }[]> {
  return (await liveProcesses(false))
    .filter((p) => p.ppid === ppid)
    .map((p) => ({ pid: p.pid, cmd: p.cmd }));
}

/**
 * The process's resources at rest: the per-type minimum of samples taken over `ms`, so a
 * short-lived timer or request that happens to be there at one sample (vitest batches its
 * reports to the main process on timers) does not count as the process's own.
 */
export async function restingResources(ms = 100): Promise<string[]> {
  let min: Map<string, number> | undefined;
  const deadline = Date.now() + ms;
  for (;;) {
    const sample = new Map<string, number>();
    for (const t of process.getActiveResourcesInfo()) sample.set(t, (sample.get(t) ?? 0) + 1);
    if (!min) min = sample;
    else for (const [t, n] of min) min.set(t, Math.min(n, sample.get(t) ?? 0));
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return [...min].flatMap(([t, n]) => Array<string>(n).fill(t));
}

/**
 * Waits up to `graceMs` for the process to hold no resources and no child processes beyond
 * `baseline` (handles closed a moment ago leave the list a few ticks later); returns what is
 * still beyond it then, empty when nothing is.
 */
export async function settledExtras(
  baseline: { resources: string[]; children: Set<number> },
  graceMs: number,
): Promise<{ resources: Map<string, number>; children: { pid: number; cmd: string }[] }> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const resources = extraResources(baseline.resources, process.getActiveResourcesInfo());
    const children = (await childProcesses()).filter((c) => !baseline.children.has(c.pid));
    if ((resources.size === 0 && children.length === 0) || Date.now() > deadline)
      return { resources, children };
    await new Promise((r) => setTimeout(r, 50));
  }
}
