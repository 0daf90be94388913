// Rows of one import batch that repeat the series and millisecond of an earlier row.

/** Growable column of numbers (a typed array, doubled when full). */
class Column {
  data = new Float64Array(1024);

  set(i: number, v: number): void {
    if (i >= this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[i] = v;
  }
}

/**
 * Finds a row repeating the series and millisecond of an earlier row of the batch, as ingest
 * does within a request. Holds one batch; across batches a repeat meets the primary key and
 * counts as already stored. A series is a slot number the batch gives it. While every series'
 * times only grow (history is mostly written in time order) a row is new when it is later
 * than its series' last one, and nothing is looked up; the first row that is not switches the
 * batch to one map of times per series.
 */
export class RepeatWindow {
  private rows = 0;
  private readonly slots = new Column();
  private readonly times = new Column();
  private readonly lines = new Column();
  private readonly values = new Column();
  private last = new Column();
  private slotCount = 0;
  private seen: Map<number, number>[] | null = null;

  /** A new series slot, numbered from 0 in the order they come. */
  addSlot(): number {
    this.last.set(this.slotCount, -Infinity);
    this.seen?.push(new Map());
    return this.slotCount++;
  }

  /** The earlier row with this slot and time: its index, or -1 (this row is then recorded). */
  check(slot: number, ts: number, line: number, value: number): number {
    if (this.seen === null) {
      if (ts > (this.last.data[slot] as number)) {
        this.last.data[slot] = ts;
        this.record(slot, ts, line, value);
        return -1;
      }
      this.index();
    }
    const times = (this.seen as Map<number, number>[])[slot] as Map<number, number>;
    const earlier = times.get(ts);
    if (earlier !== undefined) return earlier;
    times.set(ts, this.rows);
    this.record(slot, ts, line, value);
    return -1;
  }

  lineOf(row: number): number {
    return this.lines.data[row] as number;
  }

  valueOf(row: number): number {
    return this.values.data[row] as number;
  }

  /** A new batch. */
  clear(): void {
    this.rows = 0;
    this.slotCount = 0;
    this.seen = null;
  }

  private record(slot: number, ts: number, line: number, value: number): void {
    const i = this.rows++;
    this.slots.set(i, slot);
    this.times.set(i, ts);
    this.lines.set(i, line);
    this.values.set(i, value);
  }

  /** From now on, a map of times per slot, filled with the rows so far. */
  private index(): void {
    const seen = Array.from({ length: this.slotCount }, () => new Map<number, number>());
    for (let i = 0; i < this.rows; i++)
      (seen[this.slots.data[i] as number] as Map<number, number>).set(
        this.times.data[i] as number,
        i,
      );
    this.seen = seen;
  }
}
