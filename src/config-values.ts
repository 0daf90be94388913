// The kinds of value the environment's settings take (durations, sizes, percentages, bounded
// integers, tag values, URLs, tokens, TRUST_PROXY), each a zod schema with its default and a
// message that says what is expected.
import { isIP } from 'node:net';
import { z } from 'zod';
import { formatDuration, parseDuration } from './infra/duration.js';
import { storable } from './metrics/point.js';

/** A duration env var: "5s", "500ms", "90d" or a bare number of milliseconds. */
export function duration(fallback: string, min = 1) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null || ms < min) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 500ms, 5s, 10m, 1h or 90d (at least ${formatDuration(min)})`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

/** A duration env var that may also be "off" (null): what can be switched off. */
export function durationOrOff(fallback: string, min = 1) {
  const inner = duration(fallback, min);
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      if (text.trim().toLowerCase() === 'off') return null;
      const parsed = inner.safeParse(text);
      if (parsed.success) return parsed.data;
      ctx.addIssue({
        code: 'custom',
        message: `expected off, or a duration such as 2d or 7d (at least ${formatDuration(min)})`,
      });
      return z.NEVER;
    });
}

export function percent(fallback: number) {
  return z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const n = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
      if (!(n >= 0 && n <= 1_000)) {
        ctx.addIssue({ code: 'custom', message: 'expected a percentage such as 5 or 12.5' });
        return z.NEVER;
      }
      return n;
    });
}

export function int(fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });
}

/** A value that becomes a tag on sampled points: the ingest rules for tag values apply. */
export function tagValue(fallback: string) {
  return z
    .string()
    .default(fallback)
    .refine((v) => v.length >= 1 && v.length <= 200 && storable(v), {
      message: 'expected 1 to 200 characters (it becomes a tag value), without NUL',
    });
}

export const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_024,
  mb: 1_024 ** 2,
  gb: 1_024 ** 3,
};

/** A size env var: "512kb", "256mb", "1gb" (1 kb = 1,024 bytes) or bytes ("65536b"). */
export function size(fallback: string, min: number) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const m = /^(\d+)(b|kb|mb|gb)$/i.exec(text.trim());
      const n = m ? Number(m[1]) * (SIZE_UNITS[(m[2] as string).toLowerCase()] as number) : NaN;
      if (!Number.isSafeInteger(n) || n < min) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a size such as 64mb or 1gb (at least ${min.toLocaleString('en-US')} bytes)`,
        });
        return z.NEVER;
      }
      return n;
    });
}

export const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

export const url = (protocols: string[]) =>
  optionalText.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

export const token = optionalText.refine((v) => v === undefined || v.length >= 16, {
  message: 'expected at least 16 characters (a guessable token is no protection)',
});

/** The names Express' "trust proxy" takes for address ranges. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY: "false" (default: the peer is the client), "true" (trust every hop: only behind
 * a proxy that overwrites X-Forwarded-For), a hop count, or addresses, CIDR ranges and the names
 * loopback, linklocal, uniquelocal, comma-separated.
 */
export function trustProxy() {
  return z
    .string()
    .trim()
    .default('false')
    .superRefine((v, ctx) => {
      if (v === 'true' || v === 'false' || /^\d{1,2}$/.test(v)) return;
      for (const part of v.split(',').map((x) => x.trim())) {
        if (PROXY_RANGES.has(part)) continue;
        const [addr = '', bits, extra] = part.split('/');
        const family = isIP(addr);
        const maxBits = family === 6 ? 128 : 32;
        const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
        if (family === 0 || !bitsOk || extra !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}" is not an address, a CIDR range or one of loopback, linklocal, uniquelocal (or use true, false or a hop count)`,
          });
          return;
        }
      }
    })
    .transform((v): boolean | number | string[] =>
      v === 'true'
        ? true
        : v === 'false'
          ? false
          : /^\d+$/.test(v)
            ? Number(v)
            : v.split(',').map((x) => x.trim()),
    );
}

/** Addresses only this machine reaches. */
export const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|\[::1\])$/i;
