// What a sampler produces: named values with their own tags. The sample job stamps them with
// the time and the plan's tags (hostname, instance_id, environment) and buffers them.
import type { Tags } from '../metrics/series.js';

export interface Sample {
  name: string;
  value: number;
  /** Tags of this sample; pulse's own tags fill in those it does not set. */
  tags?: Tags;
  /** Epoch ms, when the source says when it measured (a scrape target's timestamp). */
  ts?: number;
}
