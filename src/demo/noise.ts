// Deterministic noise: pure functions of a key and a time, never a stream of random numbers, so
// the value of a series at a timestamp is the same whatever range or order it is generated in.
import { SECOND } from '../infra/time.js';

export function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export function hash(key: number, i: number): number {
  return mix(key ^ mix((i ^ 0x9e3779b9) + Math.floor(i / 4_294_967_296)));
}

/** Uniform in [0, 1). */
export function u01(key: number, i: number): number {
  return hash(key, i) / 4_294_967_296;
}

/** Roughly standard normal, bounded to ±3.5 (a sum of four uniforms). */
export function gauss(key: number, i: number): number {
  return (
    (u01(key, i) +
      u01(key ^ 0x1b873593, i) +
      u01(key ^ 0x2c1b3c6d, i) +
      u01(key ^ 0x297a2d39, i) -
      2) *
    1.732
  );
}

export function strHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return mix(h >>> 0);
}

/** Smooth noise in [-1, 1] that wanders over `period` (value noise, smoothstep between knots). */
export function smooth(key: number, t: number, period: number): number {
  const x = t / period;
  const i = Math.floor(x);
  const f = x - i;
  const s = f * f * (3 - 2 * f);
  const k = key ^ period;
  const a = u01(k, i) * 2 - 1;
  return a + (u01(k, i + 1) * 2 - 1 - a) * s;
}

/** The whole second of t: per-tick noise is keyed by it. */
export const sec = (t: number) => Math.floor(t / SECOND);

export const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
export function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const k = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * k - 1.453152027) * k + 1.421413741) * k - 0.284496736) * k + 0.254829592) *
      k *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
