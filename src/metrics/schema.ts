// The schema pulse runs on: the SQL migrations in sql/migrations, with the data steps some of
// them need (written in Node because they use the codecs in this folder).
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { applyMigrations, type MigrateOptions } from '../infra/migrate.js';
import { completeMetricRollups } from './metric-rollup-upkeep.js';

// Migration 008's metric-level rows are built by 009's step, which writes them in their final
// form (quantiles included); an installation already on 008 only gets the quantiles there.
const STEPS: MigrateOptions['steps'] = {
  9: (t, log) => completeMetricRollups(t, log),
};

/** Applies every pending migration with its data step; returns the names applied. */
export function migrate(db: Db, log: Logger, opts: Omit<MigrateOptions, 'steps'> = {}) {
  return applyMigrations(db, log, { ...opts, steps: STEPS });
}
