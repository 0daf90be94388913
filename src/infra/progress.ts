// Progress of a long command on stderr: a bar redrawn in place on a terminal, otherwise a line
// at most every 5 s (and at the end), so a log file is not flooded. Elapsed time and the time
// left, estimated from the pace so far.
import { performance } from 'node:perf_hooks';

const BAR_WIDTH = 30;
const LINE_EVERY_MS = 5_000;

/** `label` prefixes the log lines; `unit` names what is counted (`hours`, `batches`). */
export function progressLine(
  label: string,
  unit: string,
  out: NodeJS.WriteStream = process.stderr,
): (done: number, total: number, detail?: string) => void {
  const started = performance.now();
  let lastLine = -Infinity;
  return (done, total, detail) => {
    const now = performance.now();
    const elapsed = (now - started) / 1_000;
    const eta = done > 0 && done < total ? ((total - done) * elapsed) / done : NaN;
    const text =
      `${done}/${total} ${unit}${detail === undefined ? '' : `, ${detail}`}, ` +
      `${elapsed.toFixed(0)} s elapsed${Number.isFinite(eta) ? `, ~${eta.toFixed(0)} s left` : ''}`;
    if (out.isTTY) {
      const filled = total > 0 ? Math.round((BAR_WIDTH * done) / total) : BAR_WIDTH;
      out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${text}  `);
      if (done === total) out.write('\n');
    } else if (now - lastLine > LINE_EVERY_MS || done === total) {
      lastLine = now;
      out.write(`${label}: ${text}\n`);
    }
  };
}
