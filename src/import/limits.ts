// MAX_SERIES and MAX_SERIES_PER_METRIC during an import, as ingest enforces them: a row whose
// series this import has not seen yet is held until a batch of new series is asked of the
// series registry at once; its answer (admitted or refused) is remembered, bounded.
import type { SeriesRefusal, SeriesRegistry } from '../metrics/series-registry.js';
import type { SeriesDef } from '../metrics/series.js';
import { ImportError } from './input.js';

/** New series asked about in one call to the series registry (rows held meanwhile). */
export const ADMIT_AT_ONCE = 1_000;
/** Series remembered as admitted (or refused) by this import; past it the memory starts over. */
const ADMITTED_MAX = 200_000;

/** A row held until its series is asked about. */
export interface Held {
  def: SeriesDef;
  ts: number;
  value: number;
  line: number;
}

export class ImportLimits {
  private readonly admitted = new Set<string>();
  private readonly refused = new Map<string, SeriesRefusal>();
  private held: Held[] = [];
  private readonly asking = new Map<string, string>();

  constructor(private readonly registry: SeriesRegistry) {}

  /**
   * What becomes of a row: kept, held until its series is asked about, or refused (the series
   * was refused before).
   */
  classify(
    def: SeriesDef,
    ts: number,
    value: number,
    line: number,
  ): 'keep' | 'held' | SeriesRefusal {
    const fp = def.fingerprint;
    // Admitted first: nearly every row is of a series admitted before (no object made for it).
    if (this.admitted.has(fp)) return 'keep';
    const refusal = this.refused.get(fp);
    if (refusal !== undefined) return refusal;
    this.held.push({ def, ts, value, line });
    this.asking.set(fp, def.metricName);
    return 'held';
  }

  /** New series waiting to be asked about. */
  get asked(): number {
    return this.asking.size;
  }

  /** Asks the registry about the held rows' new series; each held row is kept or refused. */
  async admitHeld(
    lastLine: number,
    keep: (row: Held) => void,
    refuse: (line: number, r: SeriesRefusal) => void,
  ): Promise<void> {
    if (this.held.length === 0) return;
    const refs = [...this.asking].map(([fingerprint, metricName]) => ({
      fingerprint,
      metricName,
    }));
    let refusals: SeriesRefusal[];
    try {
      refusals = await this.registry.admit(refs);
    } catch (err) {
      throw new ImportError(
        `checking the series limits for lines up to ${lastLine} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (this.admitted.size > ADMITTED_MAX) this.admitted.clear();
    if (this.refused.size > ADMITTED_MAX) this.refused.clear();
    for (const r of refusals) for (const fp of r.fingerprints) this.refused.set(fp, r);
    for (const fp of this.asking.keys()) if (!this.refused.has(fp)) this.admitted.add(fp);
    for (const h of this.held) {
      const r = this.refused.get(h.def.fingerprint);
      if (r === undefined) keep(h);
      else refuse(h.line, r);
    }
    this.held = [];
    this.asking.clear();
  }
}
