// Rejected rows of an import: counted, the first MAX_REPORTED printed as file:line: field:
// reason, and kept for the result.
import type { FieldIssue } from './rows.js';
import { count, type Output, type Progress, type Stats } from './progress.js';

/** Rejected rows printed in full; the rest are only counted. */
export const MAX_REPORTED = 100;

export interface RejectedRow {
  /** 1-based physical line in the file; for CSV the line where the record starts. */
  line: number;
  errors: FieldIssue[];
}

export class Rejections {
  /** The first MAX_REPORTED rejected rows, in file order. */
  readonly rows: RejectedRow[] = [];

  constructor(
    private readonly stats: Stats,
    private readonly out: Output,
    private readonly progress: Progress,
    private readonly name: string,
  ) {}

  reject(line: number, errors: FieldIssue[]): void {
    this.stats.rejected += 1;
    if (this.rows.length >= MAX_REPORTED) return;
    this.rows.push({ line, errors });
    this.progress.clear();
    this.out.write(
      `${this.name}:${line}: ${errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}\n`,
    );
  }

  /** Says how many rejected rows were not printed, if any. */
  finish(): void {
    if (this.stats.rejected > this.rows.length) {
      this.out.write(
        `${this.name}: ${count(this.stats.rejected - this.rows.length)} more rejected rows not shown (the first ${MAX_REPORTED} are above)\n`,
      );
    }
  }
}
