// The embedded Redis path: with nothing answering at the probe address, pulse starts a
// redis-server child under the data directory; with no redis-server either, it says how to get one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import {
  ensurePostgres,
  ensureRedis,
  REDIS_INSTALL_HINT,
  redisFor,
} from '../../src/infra/embedded.js';
import { createLogger } from '../../src/infra/logger.js';
import { redisAnswers } from '../../src/infra/redis.js';
import { freePort } from '../helpers/processes.js';

const log = createLogger('silent');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pulse-redis-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('starts a redis-server child when nothing answers, and stops it again', async () => {
  const closed = await freePort();
  const port = await freePort();
  const service = await ensureRedis({
    dataDir: dir,
    port,
    log,
    probeUrl: `redis://127.0.0.1:${closed}`,
  });
  try {
    expect(service.url).toBe(`redis://127.0.0.1:${port}`);
    expect(await redisAnswers(service.url)).toBe(true);
    // A second process finds it running and reuses it instead of starting another.
    const again = await ensureRedis({
      dataDir: dir,
      port,
      log,
      probeUrl: `redis://127.0.0.1:${closed}`,
    });
    expect(again.url).toBe(service.url);
  } finally {
    await service.stop();
  }
  expect(await redisAnswers(service.url)).toBe(false);
});

it('names the install command when there is no redis-server to start', async () => {
  const closed = await freePort();
  const port = await freePort();
  await expect(
    ensureRedis({
      dataDir: dir,
      port,
      log,
      probeUrl: `redis://127.0.0.1:${closed}`,
      redisServer: '/nonexistent/redis-server',
    }),
  ).rejects.toThrow(REDIS_INSTALL_HINT);
  expect(REDIS_INSTALL_HINT).toContain('apt-get install redis-server');
});

it('refuses a REDIS_URL naming a database the server does not have, and takes one it has', async () => {
  // ioredis reports the failed SELECT as an error event and goes on with database 0.
  const url = new URL(inject('redisUrl'));
  const at = (db: string) => {
    url.pathname = `/${db}`;
    return { dataDir: dir, redis: { url: url.toString(), embeddedPort: 0 } };
  };
  await expect(redisFor(at('18'), log)).rejects.toThrow(
    /^REDIS_URL names database 18, which the Redis server does not have \(it has 16: 0 to 15\): ERR DB index is out of range\. Use another database number/,
  );
  await expect(redisFor(at('x'), log)).rejects.toThrow(/a Redis database is a number/);
  const ok = await redisFor(at('15'), log);
  expect(ok.url).toBe(url.toString());
});

it.skipIf(process.getuid?.() !== 0)(
  'as root, says what to change when the postgres user cannot reach DATA_DIR, instead of a stack trace',
  async () => {
    // mkdtemp makes a 0700 directory, as /root is.
    const data = path.join(dir, 'clone', '.data');
    await expect(ensurePostgres({ dataDir: data, port: await freePort(), log })).rejects.toThrow(
      `the embedded PostgreSQL runs as the postgres user (PostgreSQL refuses to run as root), which cannot enter ${dir} (mode 0700) to reach DATA_DIR at ${data}: set DATABASE_URL to a PostgreSQL server, or put pulse and DATA_DIR under a directory every user may enter (e.g. /opt/pulse)`,
    );
  },
);
