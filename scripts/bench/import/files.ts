// The import benchmark's input: the benchmarks' data set written as an NDJSON and a CSV file
// with the plan's columns, the same rows in the same order, as an export of history would be.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Dataset } from '../data.js';

export type Format = 'ndjson' | 'csv';
export const FORMATS: Format[] = ['ndjson', 'csv'];

const CSV_HEADER = 'timestamp,metric_name,metric_value,tags\n';

function ndjsonRow(data: Dataset, i: number): string {
  const s = data.series[data.seriesIndex[i] as number];
  return `${JSON.stringify({
    timestamp: new Date(data.ts[i] as number).toISOString(),
    metric_name: s?.metricName,
    metric_value: data.value[i],
    tags: s?.tags,
  })}\n`;
}

/** Each series' tags as a quoted CSV cell, made once. */
function csvTags(data: Dataset): string[] {
  return data.series.map((s) => `"${JSON.stringify(s.tags).replace(/"/g, '""')}"`);
}

/** Writes `data` as `format` to `file`; resolves with the bytes written. */
export async function writeFile(file: string, format: Format, data: Dataset): Promise<number> {
  const out = createWriteStream(file);
  const tags = format === 'csv' ? csvTags(data) : [];
  let bytes = 0;
  let chunk = format === 'csv' ? CSV_HEADER : '';
  for (let i = 0; i < data.n; i++) {
    if (format === 'ndjson') chunk += ndjsonRow(data, i);
    else {
      const s = data.seriesIndex[i] as number;
      const iso = new Date(data.ts[i] as number).toISOString();
      chunk += `${iso},${data.series[s]?.metricName},${data.value[i]},${tags[s]}\n`;
    }
    if (chunk.length >= 1 << 20) {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  bytes += Buffer.byteLength(chunk);
  out.end(chunk);
  await finished(out);
  return bytes;
}
