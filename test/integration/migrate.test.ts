// Several processes starting together migrate once (advisory lock + ledger).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb } from '../../src/infra/db.js';
import { listMigrations, migrationsDone } from '../../src/infra/migrate.js';
import { migrate } from '../../src/metrics/schema.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext('migrate');
});
afterAll(async () => {
  await ctx?.cleanup();
});

it('applies each migration once when five processes migrate at the same time', async () => {
  // The context migrated already; start again from an empty schema.
  await ctx.db.none('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  const pools = Array.from({ length: 5 }, (_, i) => createDb(ctx.dbUrl, 2, `migrate-${i}`));
  try {
    const applied = await Promise.all(pools.map((db) => migrate(db, ctx.log)));
    const files = await listMigrations();
    expect(applied.flat().sort()).toEqual(files.map((f) => f.name).sort());
    expect(await migrationsDone(ctx.db)).toBe(true);
    const ledger = await ctx.db.one<{ n: number }>(
      'SELECT count(*)::int AS n FROM pulse_migrations',
    );
    expect(ledger.n).toBe(files.length);
  } finally {
    await Promise.all(pools.map((db) => db.$pool.end()));
  }
});

it('creates partitions once when five processes ask for the same new days at the same time', async () => {
  const { ensurePartitions } = await import('../../src/metrics/partitions.js');
  const pools = Array.from({ length: 5 }, (_, i) => createDb(ctx.dbUrl, 2, `partitions-${i}`));
  try {
    // Days far enough ahead that no partition exists yet.
    const at = Date.now() + 400 * 86_400_000;
    const created = await Promise.all(pools.map((db) => ensurePartitions(db, at, 3)));
    expect(created.reduce((a, b) => a + b, 0)).toBe(5);
    const tables = await ctx.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'points'::regclass`,
    );
    expect(tables.n).toBeGreaterThanOrEqual(5 + 1);
  } finally {
    await Promise.all(pools.map((db) => db.$pool.end()));
  }
});

it('opens connections with JIT compilation off (it cost more than pulse’s short queries gain)', async () => {
  expect(await ctx.db.one<{ jit: string }>('SHOW jit')).toEqual({ jit: 'off' });
});
