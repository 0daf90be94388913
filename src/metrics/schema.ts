// The schema pulse runs on: the SQL migrations in sql/migrations, with the data steps some of
// them need (written in Node because they use the codecs in this folder).
import type { Db } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { applyMigrations, type MigrateOptions } from '../infra/migrate.js';
import { buildMetricRollupsForStoredData } from './metric-rollup.js';

const STEPS: MigrateOptions['steps'] = {
  8: (t, log) => buildMetricRollupsForStoredData(t, log),
};

/** Applies every pending migration with its data step; returns the names applied. */
export function migrate(db: Db, log: Logger, opts: Omit<MigrateOptions, 'steps'> = {}) {
  return applyMigrations(db, log, { ...opts, steps: STEPS });
}
