// The leak guard's checks (test/helpers/leaks.ts) against leaks planted here: a database, Redis
// keys and a process of a made-up run, which the checks must name with the file they came from,
// and an open server and timer, which the handle comparison must count. The planted run's token
// is not this run's, so the run's own guard does not see them; they are removed here either way.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  childProcesses,
  describeLeftovers,
  FILE_ENV,
  findLeftovers,
  newRunToken,
  register,
  removeLeftovers,
  removeRegistry,
  removeStale,
  restingResources,
  RUN_ENV,
  settledExtras,
  testDatabaseName,
  testKeyPrefix,
} from '../helpers/leaks.js';

const servers = { pgAdminUrl: inject('pgAdminUrl'), redisUrl: inject('redisUrl') };
const token = newRunToken();
const id = randomBytes(4).toString('hex');
const database = testDatabaseName('leak-probe', token, id);
const prefix = testKeyPrefix('leak-probe', token, id);
let admin: pg.Client;
let redis: Redis;
let child: ChildProcess | undefined;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: servers.pgAdminUrl });
  await admin.connect();
  redis = new Redis(servers.redisUrl, { maxRetriesPerRequest: 2 });
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`);
  await redis.unlink(`${prefix}:buffer`, `${prefix}:series:active`, `${prefix}-open:buffer`);
  await removeRegistry(token);
  await admin.end();
  await redis.quit();
});

describe('findLeftovers', () => {
  it("names the run's databases, key prefixes and processes with their files, then removes them", async () => {
    register(token, { database, prefix, file: 'test/integration/planted.test.ts' });
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
    await redis.set(`${prefix}:buffer`, '1');
    await redis.set(`${prefix}:series:active`, '1');
    // A prefix a test derived from its context's by appending to it.
    await redis.set(`${prefix}-open:buffer`, '1');
    child = spawn('sleep', ['60'], {
      env: { ...process.env, [RUN_ENV]: token, [FILE_ENV]: 'test/e2e/planted.test.ts' },
      stdio: 'ignore',
    });
    // Another run's names: an earlier or concurrent run, judged by that run only.
    const other = newRunToken(Date.now() - 1000);
    const otherPrefix = testKeyPrefix('leak-probe', other, id);
    await redis.set(`${otherPrefix}:buffer`, '1');

    try {
      const found = await findLeftovers(servers, token);
      expect(found).toEqual([
        { kind: 'database', name: database, from: 'test/integration/planted.test.ts' },
        {
          kind: 'redis keys',
          name: prefix,
          count: 2,
          from: 'test/integration/planted.test.ts',
        },
        {
          kind: 'redis keys',
          name: `${prefix}-open`,
          count: 1,
          from: 'test/integration/planted.test.ts',
        },
        {
          kind: 'process',
          name: `${child.pid} sleep 60`,
          from: 'test/e2e/planted.test.ts',
        },
      ]);
      const text = describeLeftovers(found);
      expect(text).toContain(`database ${database} (from test/integration/planted.test.ts)`);
      expect(text).toContain(`2 Redis key(s) under ${prefix}:`);
      expect(text).toContain(`process ${child.pid} sleep 60 (from test/e2e/planted.test.ts)`);

      const exited = new Promise((resolve) => child?.once('exit', resolve));
      await removeLeftovers(servers, found);
      await exited;
      expect(await findLeftovers(servers, token)).toEqual([]);
      expect(await redis.exists(`${otherPrefix}:buffer`)).toBe(1);
    } finally {
      await redis.unlink(`${otherPrefix}:buffer`);
    }
  });

  it('falls back to the label in the name for names the registry does not know', async () => {
    const unregistered = testKeyPrefix('late-data', token, 'abcdef01');
    await redis.set(`${unregistered}:x`, '1');
    try {
      expect(await findLeftovers(servers, token)).toEqual([
        { kind: 'redis keys', name: unregistered, count: 1, from: 'label "late-data"' },
      ]);
    } finally {
      await redis.unlink(`${unregistered}:x`);
    }
  });

  it('removeStale removes the names of runs older than the limit only', async () => {
    const now = Date.now();
    const old = testKeyPrefix('leak-probe', newRunToken(now - 2 * 86_400_000), id);
    const recent = testKeyPrefix('leak-probe', newRunToken(now - 60_000), id);
    await redis.set(`${old}:buffer`, '1');
    await redis.set(`${recent}:buffer`, '1');
    try {
      expect(await removeStale(servers, now, 86_400_000)).toBeGreaterThanOrEqual(1);
      expect(await redis.exists(`${old}:buffer`)).toBe(0);
      expect(await redis.exists(`${recent}:buffer`)).toBe(1);
    } finally {
      await redis.unlink(`${old}:buffer`, `${recent}:buffer`);
    }
  });
});

describe('the per-file handle check', () => {
  it('names an open server, a timer and a child process beyond the baseline, by type', async () => {
    const baseline = {
      resources: await restingResources(),
      children: new Set((await childProcesses()).map((c) => c.pid)),
    };
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const timer = setTimeout(() => {}, 60_000);
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const leaked = await settledExtras(baseline, 200);
      expect(leaked.resources.get('TCPServerWrap')).toBe(1);
      expect(leaked.resources.get('Timeout')).toBe(1);
      expect(leaked.resources.get('ProcessWrap')).toBe(1);
      if (process.platform === 'linux')
        expect(leaked.children).toEqual([{ pid: sleeper.pid, cmd: 'sleep 60' }]);
    } finally {
      clearTimeout(timer);
      await new Promise((resolve) => server.close(resolve));
      sleeper.kill('SIGKILL');
    }
    expect(await settledExtras(baseline, 2_000)).toEqual({ resources: new Map(), children: [] });
  });
});
