import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parsePrometheusText,
  PrometheusParseError,
  type PromSample,
} from '../../src/samplers/prometheus-text.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

function find(samples: PromSample[], name: string, labels: Record<string, string> = {}) {
  const keys = Object.keys(labels);
  const hits = samples.filter(
    (s) => s.name === name && keys.every((k) => s.labels[k] === labels[k]),
  );
  expect(hits, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return hits[0]!;
}

describe('node_exporter output (0.0.4)', () => {
  const text = fixture('node_exporter.prom');
  const { samples, errors } = parsePrometheusText(text);

  it('parses every sample line and nothing else', () => {
    expect(errors).toEqual([]);
    expect(samples).toHaveLength(85);
    expect(samples.every((s) => s.timestampMs === undefined)).toBe(true);
    expect(samples[0]).toEqual({
      name: 'backup_duration_seconds_bucket',
      labels: { job: 'nightly', le: '60' },
      value: 0,
    });
    expect(samples.at(-1)).toEqual({
      name: 'promhttp_metric_handler_requests_total',
      labels: { code: '503' },
      value: 0,
    });
  });

  it('reads plain gauges and exponent forms', () => {
    expect(find(samples, 'node_load1')).toEqual({ name: 'node_load1', labels: {}, value: 0.73 });
    expect(find(samples, 'node_load5').value).toBe(0.61);
    expect(find(samples, 'node_load15').value).toBe(0.52);
    expect(find(samples, 'node_memory_MemAvailable_bytes').value).toBe(24_311_369_728);
    expect(find(samples, 'process_virtual_memory_max_bytes').value).toBe(18446744073709552000);
    expect(find(samples, 'process_start_time_seconds').value).toBe(1704792182.35);
    expect(find(samples, 'node_network_receive_bytes_total', { device: 'enp3s0' }).value).toBe(
      9_127_340_517,
    );
  });

  it('keeps summary quantiles as samples with their quantile label', () => {
    const gc = samples.filter((s) => s.name.startsWith('go_gc_duration_seconds'));
    expect(gc.map((s) => [s.name, s.labels.quantile ?? null, s.value])).toEqual([
      ['go_gc_duration_seconds', '0', 2.4209e-5],
      ['go_gc_duration_seconds', '0.25', 3.1837e-5],
      ['go_gc_duration_seconds', '0.5', 3.6473e-5],
      ['go_gc_duration_seconds', '0.75', 4.6859e-5],
      ['go_gc_duration_seconds', '1', 0.000338212],
      ['go_gc_duration_seconds_sum', null, 0.08419574],
      ['go_gc_duration_seconds_count', null, 2046],
    ]);
  });

  it('keeps histogram buckets with le as written, including +Inf', () => {
    expect(find(samples, 'backup_duration_seconds_bucket', { le: '+Inf' })).toEqual({
      name: 'backup_duration_seconds_bucket',
      labels: { job: 'nightly', le: '+Inf' },
      value: 14,
    });
    expect(
      samples.filter((s) => s.name === 'backup_duration_seconds_bucket').map((s) => s.labels.le),
    ).toEqual(['60', '300', '900', '1800', '+Inf']);
    expect(find(samples, 'backup_duration_seconds_sum').value).toBe(8193.4);
  });

  it('reads multi-label series', () => {
    const cpu = samples.filter((s) => s.name === 'node_cpu_seconds_total');
    expect(cpu).toHaveLength(16);
    expect(new Set(cpu.map((s) => s.labels.mode)).size).toBe(8);
    expect(find(samples, 'node_cpu_seconds_total', { cpu: '1', mode: 'user' }).value).toBe(
      19871.04,
    );
    expect(find(samples, 'node_cpu_seconds_total', { cpu: '0', mode: 'idle' }).value).toBe(
      1_273_684.26,
    );
    expect(find(samples, 'node_filesystem_avail_bytes', { mountpoint: '/' })).toEqual({
      name: 'node_filesystem_avail_bytes',
      labels: { device: '/dev/nvme0n1p2', fstype: 'ext4', mountpoint: '/' },
      value: 193_424_265_216,
    });
  });

  it('decodes escaped quotes and backslashes, and leaves # inside values alone', () => {
    expect(find(samples, 'backup_last_error_info').labels).toEqual({
      job: 'nightly',
      message: 'tar: "/srv/data/app.sqlite": file changed as we read it',
      share: '\\\\nas01\\backups',
    });
    expect(find(samples, 'node_systemd_unit_state', { state: 'active' }).labels.name).toBe(
      'dev-disk-by\\x2duuid-3f1c2a9e\\x2d6d2b\\x2d4c1e\\x2d9a51\\x2d0e7c5b2f8d13.swap',
    );
    expect(find(samples, 'node_uname_info').labels.version).toBe(
      '#14~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC Mon Nov 20 18:15:30 UTC 2',
    );
  });

  it('gives the same result with CRLF line endings', () => {
    expect(parsePrometheusText(text.replace(/\n/g, '\r\n'))).toEqual({ samples, errors });
  });
});

describe('OpenMetrics 1.0 text', () => {
  const { samples, errors } = parsePrometheusText(fixture('openmetrics.txt'));

  it('parses every sample line', () => {
    expect(errors).toEqual([]);
    expect(samples).toHaveLength(20);
  });

  it('reads timestamps as seconds and returns milliseconds', () => {
    expect(find(samples, 'http_requests_total', { code: '200' })).toEqual({
      name: 'http_requests_total',
      labels: { route: '/api/orders', code: '200' },
      value: 10842,
      timestampMs: 1_704_845_112_250,
    });
    expect(find(samples, 'queue_depth', { queue: 'emails' }).timestampMs).toBe(1_704_845_112_250);
    expect(find(samples, 'process_cpu_seconds_total').timestampMs).toBeUndefined();
  });

  it('keeps _created samples as ordinary samples', () => {
    expect(find(samples, 'http_requests_created', { code: '500' })).toEqual({
      name: 'http_requests_created',
      labels: { route: '/api/orders', code: '500' },
      value: 1_704_801_000.5,
      timestampMs: 1_704_845_112_250,
    });
    expect(find(samples, 'http_request_duration_seconds_created').value).toBe(1704792182.347);
  });

  it('drops exemplars and keeps the sample they annotate', () => {
    expect(find(samples, 'http_request_duration_seconds_bucket', { le: '0.05' })).toEqual({
      name: 'http_request_duration_seconds_bucket',
      labels: { route: '/api/orders', le: '0.05' },
      value: 9012,
    });
    expect(find(samples, 'http_request_duration_seconds_bucket', { le: '+Inf' }).value).toBe(10845);
  });

  it('reads info, stateset and NaN samples', () => {
    expect(find(samples, 'python_info').labels.version).toBe('3.11.6');
    expect(find(samples, 'feature_flag', { feature_flag: 'legacy_search' }).value).toBe(0);
    expect(find(samples, 'queue_depth', { queue: 'reports' }).value).toBeNaN();
  });

  it('is recognised only by the final # EOF line, trailing blank lines allowed', () => {
    const om = parsePrometheusText('a 1 1.5\n# EOF\n\n');
    expect(om.samples[0]?.timestampMs).toBe(1500);
    const omCrlf = parsePrometheusText('a 1 2\r\n# EOF\r\n');
    expect(omCrlf.samples[0]?.timestampMs).toBe(2000);
    // Without the terminator the same number is 0.0.4 milliseconds, which must be an integer.
    const legacy = parsePrometheusText('a 1 1.5\nb 2 1500\n');
    expect(legacy.samples).toEqual([{ name: 'b', labels: {}, value: 2, timestampMs: 1500 }]);
    expect(legacy.errors).toEqual([
      { line: 1, reason: 'invalid timestamp "1.5": expected integer milliseconds' },
    ]);
    // # EOF in the middle is just a comment.
    expect(parsePrometheusText('# EOF\na 1 1500\n').samples[0]?.timestampMs).toBe(1500);
  });

  it('rounds fractional seconds to the nearest millisecond', () => {
    // 1.005 * 1000 is 1004.9999999999999 in binary floating point.
    expect(parsePrometheusText('a 1 1.005\n# EOF').samples[0]?.timestampMs).toBe(1005);
    expect(parsePrometheusText('a 1 1.7e9\n# EOF').samples[0]?.timestampMs).toBe(1.7e12);
  });

  it('reports malformed exemplars and non-finite timestamps', () => {
    const r = parsePrometheusText(
      [
        'ok 1 # {trace_id="a"} 1',
        'a 1 # trace_id="a" 1',
        'b 1 # {trace_id="a"}',
        'c 1 # {trace_id="a"} x',
        'd 1 # {trace_id="a"} 1 2 3',
        'e 1 NaN',
        '# EOF',
      ].join('\n'),
    );
    expect(r.samples.map((s) => s.name)).toEqual(['ok']);
    expect(r.errors).toEqual([
      { line: 2, reason: 'expected an exemplar label set after "#", found "t"' },
      { line: 3, reason: 'exemplar has no value' },
      { line: 4, reason: 'invalid exemplar value "x"' },
      { line: 5, reason: 'unexpected "3" after the exemplar' },
      { line: 6, reason: 'invalid timestamp "NaN"' },
    ]);
  });
});

describe('prom-client 15 output', () => {
  // Registry#metrics() of prom-client 15 for a counter, a gauge (help with a newline, one
  // value NaN), a histogram with custom buckets, a summary, and three default metrics: each
  // family's lines joined by "\n", families by a blank line, "\n" at the end. Bucket and
  // quantile labels come first; NaN is printed "Nan"; numbers are JavaScript's String(n).
  const families = [
    [
      '# HELP http_requests_total Total HTTP requests',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="GET",status_code="200"} 1027',
      'http_requests_total{method="POST",status_code="201"} 3',
    ],
    [
      '# HELP queue_jobs_waiting Jobs waiting to run,\\nby queue',
      '# TYPE queue_jobs_waiting gauge',
      'queue_jobs_waiting{queue="emails"} 3',
      'queue_jobs_waiting{queue="reports \\"daily\\""} Nan',
    ],
    [
      '# HELP http_request_duration_seconds Request latency',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.005",route="/api/orders"} 0',
      'http_request_duration_seconds_bucket{le="0.01",route="/api/orders"} 2',
      'http_request_duration_seconds_bucket{le="0.1",route="/api/orders"} 9',
      'http_request_duration_seconds_bucket{le="1",route="/api/orders"} 10',
      'http_request_duration_seconds_bucket{le="+Inf",route="/api/orders"} 11',
      'http_request_duration_seconds_sum{route="/api/orders"} 2.9481000000000006',
      'http_request_duration_seconds_count{route="/api/orders"} 11',
    ],
    [
      '# HELP db_query_seconds Query time',
      '# TYPE db_query_seconds summary',
      'db_query_seconds{quantile="0.5"} 0.012',
      'db_query_seconds{quantile="0.9"} 0.048',
      'db_query_seconds{quantile="0.99"} 0.2',
      'db_query_seconds_sum 1.734',
      'db_query_seconds_count 96',
    ],
    [
      '# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.',
      '# TYPE process_cpu_user_seconds_total counter',
      'process_cpu_user_seconds_total 1.2345',
    ],
    [
      '# HELP nodejs_version_info Node.js version info.',
      '# TYPE nodejs_version_info gauge',
      'nodejs_version_info{version="v20.11.1",major="20",minor="11",patch="1"} 1',
    ],
    [
      '# HELP nodejs_gc_duration_seconds Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
      '# TYPE nodejs_gc_duration_seconds histogram',
      'nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} 41',
      'nodejs_gc_duration_seconds_bucket{le="0.01",kind="minor"} 52',
      'nodejs_gc_duration_seconds_bucket{le="0.1",kind="minor"} 52',
      'nodejs_gc_duration_seconds_bucket{le="1",kind="minor"} 52',
      'nodejs_gc_duration_seconds_bucket{le="2",kind="minor"} 52',
      'nodejs_gc_duration_seconds_bucket{le="5",kind="minor"} 52',
      'nodejs_gc_duration_seconds_bucket{le="+Inf",kind="minor"} 52',
      'nodejs_gc_duration_seconds_sum{kind="minor"} 0.07630218699999999',
      'nodejs_gc_duration_seconds_count{kind="minor"} 52',
    ],
  ];
  const text = `${families.map((lines) => lines.join('\n')).join('\n\n')}\n`;
  const { samples, errors } = parsePrometheusText(text);

  it('parses every sample', () => {
    expect(errors).toEqual([]);
    expect(samples).toHaveLength(27);
  });

  it('reads counters and gauges, including Nan and escaped label values', () => {
    expect(find(samples, 'http_requests_total', { method: 'GET' })).toEqual({
      name: 'http_requests_total',
      labels: { method: 'GET', status_code: '200' },
      value: 1027,
    });
    expect(find(samples, 'queue_jobs_waiting', { queue: 'reports "daily"' }).value).toBeNaN();
    expect(find(samples, 'process_cpu_user_seconds_total').value).toBe(1.2345);
    expect(find(samples, 'nodejs_version_info').labels).toEqual({
      version: 'v20.11.1',
      major: '20',
      minor: '11',
      patch: '1',
    });
  });

  it('reads histograms with le first and summaries with quantile first', () => {
    expect(find(samples, 'http_request_duration_seconds_bucket', { le: '+Inf' })).toEqual({
      name: 'http_request_duration_seconds_bucket',
      labels: { le: '+Inf', route: '/api/orders' },
      value: 11,
    });
    expect(find(samples, 'http_request_duration_seconds_sum').value).toBe(2.9481000000000006);
    expect(find(samples, 'nodejs_gc_duration_seconds_bucket', { le: '0.001' }).value).toBe(41);
    expect(find(samples, 'db_query_seconds', { quantile: '0.99' })).toEqual({
      name: 'db_query_seconds',
      labels: { quantile: '0.99' },
      value: 0.2,
    });
    expect(find(samples, 'db_query_seconds_count').value).toBe(96);
  });
});

describe('sample values', () => {
  const cases: [string, number][] = [
    ['NaN', NaN],
    ['nan', NaN],
    ['Nan', NaN],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['Inf', Infinity],
    ['inf', Infinity],
    ['+Infinity', Infinity],
    ['-infinity', -Infinity],
    ['0', 0],
    ['-0', -0],
    ['+12', 12],
    ['007', 7],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['5.', 5],
    ['-.25', -0.25],
    ['1e3', 1000],
    ['1E+3', 1000],
    ['2.5e-3', 0.0025],
    ['1.8446744073709552e+19', 18446744073709552000],
    ['9007199254740993', 9007199254740992],
    ['1e-400', 0],
  ];
  it.each(cases)('reads %s', (text, expected) => {
    const r = parsePrometheusText(`m ${text}\n`);
    expect(r.errors).toEqual([]);
    expect(r.samples[0]?.value).toBe(expected);
  });

  const invalid = [
    '0x10', // JavaScript reads hex; Go's ParseFloat does not without a p exponent
    '0x1p-2', // Go does, Prometheus does not
    '1_000',
    '0b1',
    '+NaN',
    '--1',
    '1e',
    '1e+',
    'e3',
    '.',
    '+',
    '1.2.3',
    'Infinit',
    'infinityy',
    '12abc',
    'true',
  ];
  it.each(invalid)('rejects %s', (text) => {
    const r = parsePrometheusText(`m ${text}\nok 1\n`);
    expect(r.samples).toEqual([{ name: 'ok', labels: {}, value: 1 }]);
    expect(r.errors).toEqual([{ line: 1, reason: `invalid value ${JSON.stringify(text)}` }]);
  });

  it('rejects values that overflow a double, as Go does', () => {
    const r = parsePrometheusText('m 1e400\nn -2e308\nok 1\n');
    expect(r.errors).toEqual([
      { line: 1, reason: 'value "1e400" is out of range' },
      { line: 2, reason: 'value "-2e308" is out of range' },
    ]);
  });
});

describe('label sets', () => {
  const one = (line: string) => {
    const r = parsePrometheusText(`${line}\nok 1\n`);
    return { sample: r.samples.length === 2 ? r.samples[0] : undefined, errors: r.errors };
  };

  it('accepts empty braces, a trailing comma, and blanks around tokens', () => {
    expect(one('a{} 1').sample).toEqual({ name: 'a', labels: {}, value: 1 });
    expect(one('a{x="1",} 1').sample?.labels).toEqual({ x: '1' });
    expect(one('a { x = "1" , y="2" , } 1').sample?.labels).toEqual({ x: '1', y: '2' });
    expect(one('a{x="1"}2').sample?.value).toBe(2);
    expect(one('\t  a\t3  ').sample).toEqual({ name: 'a', labels: {}, value: 3 });
  });

  it('decodes \\\\, \\" and \\n, and keeps other escapes as written', () => {
    expect(one('a{v="C:\\\\temp\\\\",q="say \\"hi\\"",n="two\\nlines"} 1').sample?.labels).toEqual({
      v: 'C:\\temp\\',
      q: 'say "hi"',
      n: 'two\nlines',
    });
    expect(one('a{v="tab\\there"} 1').sample?.labels.v).toBe('tab\\there');
    expect(one('a{v=""} 1').sample?.labels.v).toBe('');
    expect(one('a{v="{},=# 1"} 1').sample?.labels.v).toBe('{},=# 1');
    expect(one('a{v="ünïcødé ✓"} 1').sample?.labels.v).toBe('ünïcødé ✓');
  });

  it('accepts colons in metric names and reserved-looking label names', () => {
    expect(one('job:http_requests:rate5m{__name__x="1",_a="2"} 1').sample).toEqual({
      name: 'job:http_requests:rate5m',
      labels: { __name__x: '1', _a: '2' },
      value: 1,
    });
  });

  it('keeps a label called __proto__ as an own property', () => {
    const labels = one('a{__proto__="x",constructor="y"} 1').sample?.labels;
    expect(Object.keys(labels ?? {})).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(labels, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
  });

  it('reports duplicate label names', () => {
    expect(one('a{x="1",y="2",x="3"} 1')).toEqual({
      sample: undefined,
      errors: [{ line: 1, reason: 'duplicate label name x' }],
    });
  });

  it.each([
    ['a{x="1" 1', 'expected "," or "}" after label x, found "1"'],
    ['a{x="1"', 'unterminated label set: missing "}"'],
    ['a{x="1 2', 'unterminated label value: missing closing quote'],
    ['a{x="1\\"} 2', 'unterminated label value: missing closing quote'],
    ['a{x=1} 2', 'expected a quoted value for label x, found "1"'],
    ['a{x} 2', 'expected "=" after label name x, found "}"'],
    ['a{1x="1"} 2', 'expected a label name, found "1"'],
    ['a{,} 2', 'expected a label name, found ","'],
    ['a{x="1",,} 2', 'expected a label name, found ","'],
    ['a{x.y="1"} 2', 'expected "=" after label name x, found "."'],
    ['a{x:y="1"} 2', 'expected "=" after label name x, found ":"'],
    ['a{x="1"}', 'metric a has no value'],
    ['a', 'metric a has no value'],
    ['a.b 1', 'unexpected "." after metric name a'],
    ['1a 1', 'expected a metric name, found "1"'],
    ['{x="1"} 1', 'expected a metric name, found "{"'],
    ['a 1 2 3', 'unexpected "3" after the timestamp'],
  ])('reports %s', (line, reason) => {
    expect(one(line)).toEqual({ sample: undefined, errors: [{ line: 1, reason }] });
  });
});

describe('timestamps (0.0.4)', () => {
  it('reads integer milliseconds, signed or not', () => {
    const r = parsePrometheusText('a 1 1704845112250\nb 2 -1000\nc 3 +5\n');
    expect(r.samples.map((s) => s.timestampMs)).toEqual([1_704_845_112_250, -1000, 5]);
  });

  it('rejects fractions, exponents and integers beyond 2^53', () => {
    const r = parsePrometheusText('a 1 1e3\nb 1 99999999999999999\nc 1 12x\nok 1\n');
    expect(r.errors).toEqual([
      { line: 1, reason: 'invalid timestamp "1e3": expected integer milliseconds' },
      { line: 2, reason: 'timestamp "99999999999999999" is out of range' },
      { line: 3, reason: 'invalid timestamp "12x": expected integer milliseconds' },
    ]);
  });
});

describe('comments and blank lines', () => {
  it('skips HELP, TYPE, UNIT, other comments and blank lines', () => {
    const text = [
      '',
      '# HELP a Help with \\\\ and \\n escapes.',
      '# TYPE a counter',
      '#   some free comment',
      '#',
      '   ',
      '  # indented comment',
      'a 1',
      '',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual({
      samples: [{ name: 'a', labels: {}, value: 1 }],
      errors: [],
    });
  });

  it('reports a TYPE or HELP line it cannot make sense of, without giving up', () => {
    const r = parsePrometheusText(
      ['# TYPE a countr', '# TYPE b', '# HELP', '# TYPE c.d gauge', '# TYPE e gauge x', 'a 1'].join(
        '\n',
      ),
    );
    expect(r.samples).toHaveLength(1);
    expect(r.errors).toEqual([
      { line: 1, reason: 'invalid metric type "countr" in # TYPE' },
      { line: 2, reason: 'invalid metric type "" in # TYPE' },
      { line: 3, reason: '# HELP without a metric name' },
      { line: 4, reason: 'invalid metric name "c.d" in # TYPE' },
      { line: 5, reason: 'invalid metric type "gauge x" in # TYPE' },
    ]);
  });

  it('returns nothing, without throwing, for empty or comment-only bodies', () => {
    for (const text of ['', '\n\n', '# HELP a x\n# TYPE a gauge\n', '# EOF\n', '\ufeff']) {
      expect(parsePrometheusText(text)).toEqual({ samples: [], errors: [] });
    }
    // A malformed comment alone is reported, not thrown: the target exposes no samples.
    expect(parsePrometheusText('# TYPE a nope\n').errors).toHaveLength(1);
  });

  it('skips a leading byte order mark', () => {
    expect(parsePrometheusText('\ufeffa 1\n').samples).toEqual([
      { name: 'a', labels: {}, value: 1 },
    ]);
  });
});

describe('malformed bodies', () => {
  it('reports a bad line by its 1-based number and keeps the rest', () => {
    const text = fixture('node_exporter.prom').replace('node_load5 0.61', 'node_load5 0,61');
    const lineNo = text.split('\n').indexOf('node_load5 0,61') + 1;
    const r = parsePrometheusText(text);
    expect(lineNo).toBeGreaterThan(1);
    expect(r.errors).toEqual([{ line: lineNo, reason: 'invalid value "0,61"' }]);
    expect(r.samples).toHaveLength(84);
    expect(r.samples.some((s) => s.name === 'node_load5')).toBe(false);
    expect(find(r.samples, 'node_load15').value).toBe(0.52);
  });

  it.each([
    ['<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n', 'HTML'],
    ['\n  <html>\n<body>metric 1</body>\n', 'HTML'],
    ['<?xml version="1.0"?><error/>', 'HTML or XML'],
    ['\u001f\u008b\u0008\u0000\u0000\u0000', 'control character 0x1f'],
    ['J\n\u0016go_gc_duration_seconds\u0012\u0010A summary', 'control character 0x16'],
  ])('throws for a body that is not exposition text: %j', (text, message) => {
    expect(() => parsePrometheusText(text)).toThrow(PrometheusParseError);
    expect(() => parsePrometheusText(text)).toThrow(message);
  });

  it('throws when no sample line parses, naming the first bad line', () => {
    const json = '{"status":"error","errorType":"unavailable"}\n';
    expect(() => parsePrometheusText(json)).toThrow(
      'no sample line could be parsed (1 malformed); line 1: expected a metric name, found "{"',
    );
    const prose = '# served by nginx\nService Temporarily Unavailable\nTry again later.\n';
    expect(() => parsePrometheusText(prose)).toThrow(
      /^no sample line could be parsed \(2 malformed\); line 2: invalid value "Temporarily"$/,
    );
    try {
      parsePrometheusText('Forbidden');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PrometheusParseError);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('PrometheusParseError');
    }
  });

  it('lists the first 100 bad lines and counts the rest', () => {
    const lines = Array.from({ length: 250 }, (_, i) => `bad line ${i}`);
    lines.push('ok 1');
    const r = parsePrometheusText(lines.join('\n'));
    expect(r.samples).toHaveLength(1);
    expect(r.errors).toHaveLength(101);
    expect(r.errors[99]).toEqual({ line: 100, reason: 'invalid value "line"' });
    expect(r.errors[100]).toEqual({
      line: 101,
      reason: '150 more malformed lines from here on, not listed',
    });
  });

  it('quotes only the start of a huge bad token', () => {
    const r = parsePrometheusText(`a ${'9'.repeat(100_000)}x\nok 1\n`);
    expect(r.errors[0]?.reason).toBe(`invalid value "${'9'.repeat(40)}…"`);
  });
});

describe('maxSamples', () => {
  const text = 'a 1\nb 2\n# comment\nbad\nc 3\nd 4\n';

  it('stops at the first sample beyond the limit and says where', () => {
    const r = parsePrometheusText(text, { maxSamples: 2 });
    expect(r.samples.map((s) => s.name)).toEqual(['a', 'b']);
    expect(r.errors).toEqual([
      { line: 4, reason: 'metric bad has no value' },
      {
        line: 5,
        reason: 'sample limit of 2 reached: this line and the rest of the body were not parsed',
      },
    ]);
  });

  it('is silent when the body fits exactly', () => {
    const r = parsePrometheusText('a 1\nb 2\n', { maxSamples: 2 });
    expect(r).toEqual({
      samples: [
        { name: 'a', labels: {}, value: 1 },
        { name: 'b', labels: {}, value: 2 },
      ],
      errors: [],
    });
  });

  it('rejects a nonsensical limit', () => {
    expect(() => parsePrometheusText(text, { maxSamples: -1 })).toThrow(RangeError);
    expect(() => parsePrometheusText(text, { maxSamples: NaN })).toThrow(RangeError);
  });
});

describe('large bodies', () => {
  it('parses 20k series in one pass', () => {
    const lines = ['# HELP req_total Requests.', '# TYPE req_total counter'];
    for (let i = 0; i < 20_000; i++) {
      lines.push(`req_total{pod="api-${i % 50}",path="/v1/item/${i}",code="200"} ${i}.5`);
    }
    const started = performance.now();
    const { samples, errors } = parsePrometheusText(lines.join('\n'));
    const elapsed = performance.now() - started;
    expect(errors).toEqual([]);
    expect(samples).toHaveLength(20_000);
    expect(samples[12_345]).toEqual({
      name: 'req_total',
      labels: { pod: 'api-45', path: '/v1/item/12345', code: '200' },
      value: 12345.5,
    });
    // Generous: a few milliseconds in practice. Only a quadratic slip should trip this.
    expect(elapsed).toBeLessThan(2_000);
  });
});
