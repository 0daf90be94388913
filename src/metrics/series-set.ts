// A set of series of one metric, as a bitmap of their ordinals (series.ordinal numbers a
// metric's series 0, 1, 2, …). Rollup tiers keep one per row, so "how many series reported in
// this range" is an OR of a few bitmaps and a popcount, exact at any range.

export class SeriesSet {
  private bits = new Uint8Array(0);

  add(ordinal: number): void {
    const byte = ordinal >>> 3;
    if (byte >= this.bits.length) this.grow(byte + 1);
    (this.bits[byte] as number) |= 1 << (ordinal & 7);
  }

  /** Adds every member of a stored set (the bytes `encode` gave). */
  mergeEncoded(buf: Uint8Array): void {
    if (buf.length > this.bits.length) this.grow(buf.length);
    for (let i = 0; i < buf.length; i++) (this.bits[i] as number) |= buf[i] as number;
  }

  /** Adds every set of a concatenation of (int32 big-endian length, bitmap) pairs. */
  mergeEncodedAll(buf: Uint8Array): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let at = 0; at < buf.length;) {
      const n = view.getInt32(at);
      this.mergeEncoded(buf.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
  }

  merge(other: SeriesSet): void {
    this.mergeEncoded(other.bits);
  }

  get size(): number {
    let n = 0;
    for (let i = 0; i < this.bits.length; i++) {
      let b = this.bits[i] as number;
      while (b !== 0) {
        b &= b - 1;
        n += 1;
      }
    }
    return n;
  }

  /** The bitmap's bytes, without trailing empty ones. */
  encode(): Buffer {
    let end = this.bits.length;
    while (end > 0 && this.bits[end - 1] === 0) end -= 1;
    return Buffer.from(this.bits.subarray(0, end));
  }

  private grow(bytes: number): void {
    const next = new Uint8Array(Math.max(bytes, this.bits.length * 2));
    next.set(this.bits);
    this.bits = next;
  }
}
