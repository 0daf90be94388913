// Units from the metric name's suffix, and numbers and times as people read them.

/** @typedef {'bytes'|'seconds'|'percent'|'ratio'|'per_second'|'per_minute'|'total'|'none'} Unit */

const SUFFIXES = /** @type {const} */ ([
  ['_bytes', 'bytes'],
  ['_seconds', 'seconds'],
  ['_percentage', 'percent'],
  ['_ratio', 'ratio'],
  ['_per_second', 'per_second'],
  ['_per_minute', 'per_minute'],
  ['_total', 'total'],
]);

/** @param {string} metric @returns {Unit} */
export function unitOf(metric) {
  for (const [suffix, unit] of SUFFIXES) if (metric.endsWith(suffix)) return unit;
  return 'none';
}

/** What the unit is called, for headings. */
export const UNIT_NAMES = {
  bytes: 'bytes',
  seconds: 'seconds',
  percent: 'percent',
  ratio: 'ratio, shown as percent',
  per_second: 'per second',
  per_minute: 'per minute',
  total: 'count (a counter)',
  none: 'no unit',
};

const formatters = new Map();
function numberFormat(digits) {
  let f = formatters.get(digits);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { maximumSignificantDigits: digits });
    formatters.set(digits, f);
  }
  return f;
}
const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** 1.23 M, 45.6 G: SI prefixes (not en-US's "B" for billion, which reads as bytes). */
function compact(v, digits = 4) {
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1000 && i < SI.length - 1) {
    x /= 1000;
    i++;
  }
  return `${numberFormat(digits).format(x)} ${SI[i]}`;
}
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A plain number: significant digits, compact above a million. */
export function num(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1e6) return compact(v, Math.max(digits, 4));
  return numberFormat(digits).format(v);
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * A value with its unit. `precise` gives more digits (hover and tooltips); the table uses 3.
 * @param {number|null|undefined} v @param {Unit} unit
 */
export function fmt(v, unit, precise = false) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const d = precise ? 5 : 3;
  switch (unit) {
    case 'bytes': {
      let x = v;
      let i = 0;
      while (Math.abs(x) >= 1024 && i < BYTE_UNITS.length - 1) {
        x /= 1024;
        i++;
      }
      return `${numberFormat(d).format(x)} ${BYTE_UNITS[i]}`;
    }
    case 'seconds': {
      const a = Math.abs(v);
      if (a === 0) return '0 s';
      if (a < 1e-3) return `${numberFormat(d).format(v * 1e6)} µs`;
      if (a < 1) return `${numberFormat(d).format(v * 1e3)} ms`;
      if (a < 120) return `${numberFormat(d).format(v)} s`;
      if (a < 7200) return `${numberFormat(d).format(v / 60)} min`;
      return `${numberFormat(d).format(v / 3600)} h`;
    }
    case 'percent':
      return `${numberFormat(d).format(v)} %`;
    case 'ratio':
      return `${numberFormat(d).format(v * 100)} %`;
    case 'per_second':
      return `${num(v, d)} /s`;
    case 'per_minute':
      return `${num(v, d)} /min`;
    case 'total':
      return Math.abs(v) >= 1e9 && !precise ? compact(v) : integer.format(v);
    default:
      return num(v, d);
  }
}

/** A signed percentage such as +41.2 %, or — when there is none (a zero baseline). */
export function pct(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const sign = v > 0 ? '+' : v < 0 ? '−' : '';
  return `${sign}${numberFormat(3).format(Math.abs(v))} %`;
}

const SUPERSCRIPT = {
  '-': '⁻',
  0: '⁰',
  1: '¹',
  2: '²',
  3: '³',
  4: '⁴',
  5: '⁵',
  6: '⁶',
  7: '⁷',
  8: '⁸',
  9: '⁹',
};

/** A p-value: 0.004, or 1.5 × 10⁻⁴⁵ below 0.001. */
export function pValue(p) {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  if (p === 0) return '< 1e-300';
  if (p < 0.001) {
    const [mantissa, exponent] = p.toExponential(1).split('e');
    const sup = [...String(Number(exponent))].map((c) => SUPERSCRIPT[c] ?? c).join('');
    return `${mantissa} × 10${sup}`;
  }
  return p.toFixed(3);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const timeSecFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

/** @param {number|string|Date} t */
export function time(t, seconds = false) {
  return (seconds ? timeSecFmt : timeFmt).format(new Date(t));
}

/** @param {number|string|Date} t */
export function dateTime(t) {
  return dateTimeFmt.format(new Date(t));
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(t, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 90) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** `5m`, `1h`, `7d` → milliseconds. */
export function durationMs(text) {
  const m = /^(\d+)([mhd])$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]];
}
