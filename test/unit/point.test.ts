import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/metrics/buffer.js';
import {
  acceptedTimestamp,
  canonicalIsoMs,
  validateBatch,
  validateOne,
  type Point,
} from '../../src/metrics/point.js';
import { seriesDef } from '../../src/metrics/series.js';

const now = Date.parse('2026-01-10T12:00:00Z');
const opts = { now, maxPoints: 10, acceptMs: 90 * 86_400_000 };

describe('validateBatch', () => {
  it('normalises the plan fields: metric_value for value, ISO and epoch ms timestamps, integer agent ids', () => {
    const r = validateBatch(
      {
        points: [
          {
            metric_name: 'cpu_usage_percentage',
            metric_value: 12.5,
            timestamp: '2026-01-10T11:00:00.250Z',
            source_agent_id: 7,
          },
          {
            metric_name: 'mem',
            value: -0.5,
            timestamp: now - 1000,
            tags: { hostname: 'a' },
            instance_id: 'i-1',
          },
          { metric_name: 'x:y.z', value: 1 },
        ],
      },
      opts,
    );
    expect(r).toEqual({
      ok: true,
      points: [
        {
          metricName: 'cpu_usage_percentage',
          value: 12.5,
          ts: Date.parse('2026-01-10T11:00:00.250Z'),
          tags: {},
          sourceAgentId: '7',
          instanceId: null,
        },
        {
          metricName: 'mem',
          value: -0.5,
          ts: now - 1000,
          tags: { hostname: 'a' },
          sourceAgentId: null,
          instanceId: 'i-1',
        },
        { metricName: 'x:y.z', value: 1, ts: now, tags: {}, sourceAgentId: null, instanceId: null },
      ],
    });
  });

  it('names the index, field and pointer of every bad field', () => {
    const r = validateBatch(
      {
        points: [
          { metric_name: 'ok', value: 1 },
          { metric_name: '1bad', value: '3', extra: 1 },
        ],
      },
      opts,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      {
        index: 1,
        field: 'extra',
        pointer: '/points/1/extra',
        reason: expect.stringContaining('not a known field') as string,
      },
      {
        index: 1,
        field: 'metric_name',
        pointer: '/points/1/metric_name',
        reason: 'must match [a-zA-Z_:][a-zA-Z0-9_:.]*',
      },
      {
        index: 1,
        field: 'value',
        pointer: '/points/1/value',
        reason: 'must be a number, got string',
      },
    ]);
  });

  it('escapes tag names in JSON pointers', () => {
    const r = validateBatch(
      { points: [{ metric_name: 'a', value: 1, tags: { 'a/b~c': 'x' } }] },
      opts,
    );
    expect(!r.ok && r.errors[0]?.pointer).toBe('/points/0/tags/a~1b~0c');
  });

  it('rejects batches over the point limit and empty batches', () => {
    const many = { points: Array.from({ length: 11 }, () => ({ metric_name: 'a', value: 1 })) };
    expect(validateBatch(many, opts)).toMatchObject({
      ok: false,
      errors: [{ field: 'points', reason: 'holds 11 points; at most 10 per request' }],
    });
    expect(validateBatch({ points: [] }, opts)).toMatchObject({
      ok: false,
      errors: [{ field: 'points' }],
    });
  });
});

describe('buffer entry encoding', () => {
  it('round-trips points and shares series between points', () => {
    const points: Point[] = [
      {
        metricName: 'a',
        value: 0.1,
        ts: now,
        tags: { b: '2', a: '1' },
        sourceAgentId: null,
        instanceId: null,
      },
      {
        metricName: 'a',
        value: 1e300,
        ts: now + 1,
        tags: { a: '1', b: '2' },
        sourceAgentId: null,
        instanceId: null,
      },
      {
        metricName: 'a',
        value: -5e-324,
        ts: now + 2,
        tags: {},
        sourceAgentId: '3',
        instanceId: 'x',
      },
    ];
    const d = decodeEntry(encodeEntry(points));
    expect(d.series).toHaveLength(2);
    expect([...d.seriesIndex]).toEqual([0, 0, 1]);
    expect([...d.ts]).toEqual([now, now + 1, now + 2]);
    expect([...d.value]).toEqual([0.1, 1e300, -5e-324]);
    expect(d.series[0]?.fingerprint).toBe(seriesDef(points[0]!).fingerprint);
  });

  it('tag order does not change the fingerprint; any field does', () => {
    const base = { metricName: 'a', sourceAgentId: null, instanceId: null };
    const fp = (tags: Record<string, string>, extra = {}) =>
      seriesDef({ ...base, tags, ...extra }).fingerprint;
    expect(fp({ a: '1', b: '2' })).toBe(fp({ b: '2', a: '1' }));
    expect(fp({ a: '1' })).not.toBe(fp({ a: '2' }));
    expect(fp({})).not.toBe(fp({}, { instanceId: 'x' }));
    expect(fp({})).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});

describe('values PostgreSQL cannot store, and points that would be taken for re-deliveries', () => {
  const check = (point: Record<string, unknown>) => {
    const r = validateBatch({ points: [point] }, opts);
    return r.ok ? 'ok' : `${r.errors[0]?.field}: ${r.errors[0]?.reason}`;
  };
  it.each([
    [
      { metric_name: 'a', value: 1, tags: { host: 'a\u0000b' } },
      'tags.host: must not contain NUL characters or unpaired surrogates',
    ],
    [
      { metric_name: 'a', value: 1, tags: { host: 'x\ud800' } },
      'tags.host: must not contain NUL characters or unpaired surrogates',
    ],
    [
      { metric_name: 'a', value: 1, instance_id: '\udc00y' },
      'instance_id: must not contain NUL characters or unpaired surrogates',
    ],
    [
      { metric_name: 'a', value: 1, tags: JSON.parse('{"__proto__": "x"}') as object },
      'tags.__proto__: __proto__ is reserved and cannot be a tag name',
    ],
    [
      { metric_name: 'a', value: 1, timestamp: '2026-01-09T24:00:00Z' },
      'timestamp: is not a real date and time (e.g. February 30th)',
    ],
    [
      { metric_name: 'a', value: 1, timestamp: '2025-02-29T00:00:00Z' },
      'timestamp: is not a real date and time (e.g. February 30th)',
    ],
    [{ metric_name: 'a', value: 1, tags: { host: 'emoji \ud83d\ude00 ok' } }, 'ok'],
    [{ metric_name: 'a', value: 1, timestamp: '2026-01-09T23:59:59.999+01:00' }, 'ok'],
  ])('%o → %s', (point, expected) => {
    expect(check(point)).toBe(expected);
  });

  it('refuses two points of one series at the same millisecond, and allows other series then', () => {
    const r = validateBatch(
      {
        points: [
          { metric_name: 'a', value: 1, tags: { h: '1', z: '2' } },
          { metric_name: 'a', value: 2, tags: { h: '2' } },
          { metric_name: 'b', value: 3 },
          { metric_name: 'a', value: 4, tags: { z: '2', h: '1' } },
        ],
      },
      opts,
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors).toEqual([
      {
        index: 3,
        field: 'timestamp',
        pointer: '/points/3/timestamp',
        reason: expect.stringContaining('repeats point 0') as string,
      },
    ]);
  });
});

describe('timestamps read without the regular expression', () => {
  it('canonicalIsoMs gives what Date.parse gives for toISOString text, and NaN for the rest', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(
        Date.UTC(1000, 0, 1) + rand() * (Date.UTC(9999, 11, 31) - Date.UTC(1000, 0, 1)),
      );
      const iso = new Date(ms).toISOString();
      expect(canonicalIsoMs(iso)).toBe(ms);
      const whole = `${iso.slice(0, 19)}Z`;
      expect(canonicalIsoMs(whole)).toBe(Date.parse(whole));
      expect(canonicalIsoMs(`"${iso}"`, 1, 25)).toBe(ms);
    }
    for (const leap of ['2024-02-29T00:00:00Z', '2000-02-29T23:59:59.999Z'])
      expect(canonicalIsoMs(leap)).toBe(Date.parse(leap));
    for (const bad of [
      '2025-02-29T00:00:00Z', // not a leap year
      '1900-02-29T00:00:00Z',
      '2025-04-31T00:00:00.000Z',
      '2025-01-01T24:00:00Z',
      '2025-01-01T00:60:00Z',
      '2025-01-01T00:00:60Z',
      '2025-13-01T00:00:00Z',
      '2025-00-01T00:00:00Z',
      '2025-01-00T00:00:00Z',
      '0999-01-01T00:00:00Z',
      '2025-01-01T00:00:00.00Z', // other fractions take the full rule
      '2025-01-01T00:00:00+00:00',
      '2025-01-01 00:00:00.000Z',
      '2025-01-01T00:00:00.000z',
      '2025-01-01T0a:00:00.000Z',
      '',
    ])
      expect(canonicalIsoMs(bad), bad).toBeNaN();
  });

  it('acceptedTimestamp applies the same rules as a point does', () => {
    const check = (t: unknown) => {
      const r = validateBatch({ points: [{ metric_name: 'a', value: 1, timestamp: t }] }, opts);
      return r.ok ? r.points[0]?.ts : undefined;
    };
    const texts = [
      '2026-01-10T11:00:00.250Z',
      '2026-01-10T11:00:00Z',
      '2026-01-10T11:00:00.250+01:00',
      '2026-01-10T11:00Z',
      '2026-01-10T13:00:00.001Z', // more than 1 h ahead
      '2025-01-10T11:00:00.000Z', // older than acceptMs
      '2026-02-30T11:00:00.000Z',
      'yesterday',
    ];
    for (const t of texts) {
      expect(acceptedTimestamp(t, opts, 0, t.length), t).toBe(check(t));
      expect(acceptedTimestamp(`x${t}y`, opts, 1, t.length + 1), t).toBe(check(t));
    }
    for (const n of [now, now - 1.5, now + 3_600_001, now - 91 * 86_400_000, NaN, Infinity])
      expect(acceptedTimestamp(n, opts), String(n)).toBe(check(n));
  });

  it('validateOne answers as validateBatch does for a request of one point', () => {
    const good = { metric_name: 'a', value: 1, timestamp: now, tags: { h: 'x' } };
    const one = validateBatch({ points: [good] }, opts);
    expect(validateOne(good, opts)).toEqual(one.ok && one.points[0]);
    const bad = { metric_name: 'a b', value: 'x', host: 1 };
    const many = validateBatch({ points: [bad] }, opts);
    expect(validateOne(bad, opts)).toEqual(!many.ok && many.errors);
    expect(validateOne([1], opts)).toEqual([
      { index: 0, field: 'point', pointer: '/points/0', reason: 'must be an object, got array' },
    ]);
  });
});
