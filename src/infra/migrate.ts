// Applies sql/migrations/NNN_name.sql in order, once, recording each in pulse_migrations.
// An advisory lock makes concurrent start-ups migrate once; landed files are never edited.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ITask } from 'pg-promise';
import { pgp, type Db } from './db.js';
import type { Logger } from './logger.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/migrations/', import.meta.url));

// Any constant works; this one spells "pulse" so it is recognisable in pg_locks.
const MIGRATION_LOCK = 0x70756c7365;

const FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

interface Migration {
  id: number;
  name: string;
  file: string;
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return names.map((name, i) => {
    const match = FILE.exec(name);
    if (!match) throw new Error(`migration file ${name} does not match NNN_name.sql`);
    const id = Number(match[1]);
    if (id !== i + 1) throw new Error(`migration ${name} is out of sequence: expected ${i + 1}`);
    return { id, name, file: path.join(dir, name) };
  });
}

/**
 * A migration's data step: code that runs in the migration's transaction right after its SQL,
 * for what SQL alone cannot do (for example converting stored data with the codecs in Node).
 */
export type DataStep = (t: ITask<unknown>, log: Logger) => Promise<void>;

export interface MigrateOptions {
  dir?: string;
  /** Data steps by migration number. */
  steps?: Record<number, DataStep>;
  /** Stop after this migration (tests that start from an older schema). */
  upTo?: number;
}

/** Runs every pending migration; returns the names applied by this call. */
export async function applyMigrations(
  db: Db,
  log: Logger,
  opts: MigrateOptions = {},
): Promise<string[]> {
  const migrations = (await listMigrations(opts.dir)).filter(
    (m) => opts.upTo === undefined || m.id <= opts.upTo,
  );
  return db.task('migrate', async (t) => {
    await t.any('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await t.none(`CREATE TABLE IF NOT EXISTS pulse_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set(
        (await t.manyOrNone<{ id: number }>('SELECT id FROM pulse_migrations')).map((r) => r.id),
      );
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.id)) continue;
        const sql = new pgp.QueryFile(m.file, { minify: false, noWarnings: true });
        if (sql.error) throw sql.error;
        await t.tx(`migration ${m.name}`, async (tx) => {
          await tx.multi(sql);
          await opts.steps?.[m.id]?.(tx, log);
          await tx.none('INSERT INTO pulse_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
        });
        log.info({ migration: m.name }, 'migration applied');
        applied.push(m.name);
      }
      return applied;
    } finally {
      await t.any('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  });
}

/** True when every migration file has been applied (what /readyz checks). */
export async function migrationsDone(db: Db, dir = MIGRATIONS_DIR): Promise<boolean> {
  const migrations = await listMigrations(dir);
  const row = await db.oneOrNone<{ n: number }>(
    `SELECT count(*)::int AS n FROM pulse_migrations WHERE id = ANY($1::int[])`,
    [migrations.map((m) => m.id)],
  );
  return (row?.n ?? 0) === migrations.length;
}
