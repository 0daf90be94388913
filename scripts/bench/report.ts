// How the benchmarks report: number formatting, text and Markdown tables, and the results files
// (bench/results/*.json and a section of bench/RESULTS.md per benchmark).
import os from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS_MD = path.join(ROOT, 'bench', 'RESULTS.md');

/** One goal of a benchmark: what it must reach, what the run measured, and whether it did. */
export interface Goal {
  name: string;
  target: string;
  actual: string;
  pass: boolean;
}

/** What every run summary starts with: when, where, and how many series. */
export interface RunHeader {
  date: string;
  machine: ReturnType<typeof machineInfo>;
  series: number;
}

/** A table as both the text and the Markdown reports print it. */
export interface Table {
  header: string[];
  right: number[];
  rows: string[][];
}

export const verdict = (g: Pick<Goal, 'pass'>): string => (g.pass ? 'pass' : 'FAIL');

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fixed = (n: number, digits: number): string => n.toFixed(digits);

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** A plain-text table with columns padded to their widest cell; `right` lists right-aligned columns. */
export function textTable(header: string[], rows: string[][], right: number[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => {
        const w = widths[c] as number;
        return right.includes(c) ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Prints each table as text on stdout, a blank line after each. */
export function printTables(
  tables: { header: string[]; rows: string[][]; right?: number[] }[],
): void {
  for (const t of tables) console.log(`${textTable(t.header, t.rows, t.right)}\n`);
}

/** bench/results/NAME.json. */
export const resultsJsonPath = (name: string): string =>
  path.join(ROOT, 'bench', 'results', `${name}.json`);

/** A Table in Markdown. */
export const tableMarkdown = (t: Table): string => markdownTable(t.header, t.rows, t.right);

/** The stage table, the note on its baseline, and the detail table, as Markdown lines. */
export const stagesMarkdown = (stage: Table, note: string, detail: Table): string[] => [
  tableMarkdown(stage),
  '',
  note,
  '',
  tableMarkdown(detail),
  '',
];

export function markdownTable(header: string[], rows: string[][], right: number[] = []): string {
  const esc = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, c) => (right.includes(c) ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * Puts `section` (which starts with its own "## Title" line) into `doc`: in place of the
 * existing section with that title (up to the next "## " heading), or appended at the end.
 */
export function replaceSection(doc: string, title: string, section: string): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  const body = section.trimEnd().split('\n');
  if (start === -1) {
    const head = doc.trimEnd();
    return `${head}${head ? '\n\n' : ''}${body.join('\n')}\n`;
  }
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end === -1) end = lines.length;
  const after = lines.slice(end);
  const out = [...lines.slice(0, start), ...body, ...(after.length > 0 ? ['', ...after] : [])];
  return `${out.join('\n').trimEnd()}\n`;
}

const RESULTS_PREAMBLE = [
  '# Benchmark results',
  '',
  'Absolute figures depend on the machine, so each benchmark measures its own baseline in the',
  'same run, on the same machine and database server, and states its results as ratios to that',
  'baseline; the goals are set on those ratios. Raw figures are kept for context only.',
  'Each section is rewritten by the benchmark that owns it; machine-readable results are in',
  '`bench/results/`.',
  '',
].join('\n');

/** Writes `report` to `jsonPath` (numbers through `round`) and `markdown` as RESULTS.md's `title` section. */
export async function writeResultFiles(
  jsonPath: string,
  title: string,
  report: Record<string, unknown>,
  markdown: string,
  round: (key: string, v: unknown) => unknown,
): Promise<void> {
  await mkdir(path.dirname(jsonPath), { recursive: true });
  await writeFile(jsonPath, `${JSON.stringify(report, round, 2)}\n`);
  let doc: string;
  try {
    doc = await readFile(RESULTS_MD, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    doc = RESULTS_PREAMBLE;
  }
  await writeFile(RESULTS_MD, replaceSection(doc, title, markdown));
}

/**
 * Parses the options (exit 2 with `usage` if they are wrong), runs the benchmark and cleans up
 * after it, also on SIGINT / SIGTERM (a second one exits at once). Exits 1 when it failed, or

/** The machine a run measured on, as every results file records it. */
export function machineInfo(versions: Record<string, string>): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Number((os.totalmem() / 1_073_741_824).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ...versions,
  };
}
