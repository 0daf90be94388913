// Dead letters: buffer entries the flush could not store are kept aside, at most
// DEAD_LETTER_MAX, counted in /metrics, and listed, put back or deleted with
// `npm run dead-letters`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelemetry } from '../../src/infra/telemetry.js';
import { flush } from '../../src/jobs/flush.js';
import { encodeEntry, PointBuffer } from '../../src/metrics/buffer.js';
import type { Point } from '../../src/metrics/point.js';
import { PointStore } from '../../src/metrics/store.js';
import { parseDeadLetterArgs, runDeadLetters } from '../../scripts/dead-letters.js';
import { UsageError } from '../../src/infra/usage-error.js';
import { countPoints, createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
let buffer: PointBuffer;

function points(n: number, metric: string): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    metricName: metric,
    value: i,
    ts: Date.now() - 600_000 + i,
    tags: { hostname: 'h' },
    sourceAgentId: null,
    instanceId: null,
  }));
}

const storeAll = () =>
  flush(
    {
      buffer,
      store: new PointStore(ctx.db),
      log: ctx.log,
      consumer: 'c1',
      readEntries: 10,
      claimIdleMs: 60_000,
    },
    { reason: 'manual' },
  );

async function cli(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const opts = parseDeadLetterArgs(argv);
  if (opts === 'help') throw new Error('help');
  const lines: string[] = [];
  const code = await runDeadLetters(buffer, opts, (l) => lines.push(l));
  return { code, lines };
}

beforeAll(async () => {
  ctx = await createTestContext('dead-letters');
  buffer = new PointBuffer(ctx.redis, ctx.keys, 2_000_000, 3);
  await buffer.ensureGroup();
});
afterAll(async () => {
  await ctx?.cleanup();
});

describe('dead letters', () => {
  it('keeps at most DEAD_LETTER_MAX, the newest, and counts them in /metrics', async () => {
    for (let i = 0; i < 5; i++) {
      const e = encodeEntry(points(2, `dead_${i}`));
      await buffer.deadLetter(
        { id: `0-${i + 1}`, ...e, series: Buffer.from(e.series) },
        `reason ${i}`,
      );
    }
    expect(await buffer.deadLetterCount()).toBe(3);
    expect((await buffer.deadLetters()).map((d) => d.reason)).toEqual([
      'reason 2',
      'reason 3',
      'reason 4',
    ]);
    const telemetry = createTelemetry({
      bufferDepth: () => buffer.depth(),
      deadLetters: () => buffer.deadLetterCount(),
    });
    expect(await telemetry.registry.metrics()).toMatch(/^pulse_dead_letter_entries 3$/m);
    expect((await cli(['drop', '--all'])).lines).toEqual(['deleted 3 dead letters']);
  });

  it('lists them with their metrics and reason, puts one back to be stored, drops another', async () => {
    // One entry that cannot be decoded, and one stored aside after a transient refusal.
    await ctx.redis.xadd(
      ctx.keys.bufferStream,
      '*',
      'n',
      '4',
      's',
      '[[not json',
      'p',
      Buffer.alloc(96),
    );
    await ctx.redis.incrby(ctx.keys.bufferDepth, 4);
    expect(await storeAll()).toMatchObject({ deadLettered: 4 });
    const good = encodeEntry(points(5, 'came_back'));
    await buffer.deadLetter(
      { id: '0-9', ...good, series: Buffer.from(good.series) },
      'refused by PostgreSQL: connection reset',
    );

    const list = await cli(['list']);
    expect(list.code).toBe(0);
    expect(list.lines[0]).toBe('2 dead letters');
    expect(list.lines[1]).toMatch(
      /^\d+-\d+ {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}4 points {2}\(entry series are not valid JSON\) {2}entry series are not valid JSON$/,
    );
    expect(list.lines[2]).toMatch(
      / {2}5 points {2}came_back {2}refused by PostgreSQL: connection reset$/,
    );
    const [poisoned, transient] = await buffer.deadLetters();

    expect((await cli(['replay', '--id', transient!.deadId])).lines).toEqual([
      'put 1 dead letter (5 points) back into the buffer',
    ]);
    expect(await buffer.depth()).toBe(5);
    expect(await storeAll()).toMatchObject({ inserted: 5, deadLettered: 0 });
    expect(await countPoints(ctx.db)).toBe(5);

    expect((await cli(['drop', '--id', poisoned!.deadId])).lines).toEqual([
      'deleted 1 dead letter',
    ]);
    expect(await buffer.deadLetterCount()).toBe(0);
    expect(await cli(['replay', '--id', poisoned!.deadId])).toEqual({
      code: 1,
      lines: [`no dead letter ${poisoned!.deadId}`],
    });
  });

  it.each([
    [[], 'a command is required: list, replay or drop'],
    [['fix'], 'unknown command "fix": expected list, replay or drop'],
    [['drop'], 'drop deletes for good: name them with --id, or say --all'],
    [['drop', '--all', '--id', '1-0'], '--all and --id exclude each other'],
    [['list', '--limit', '0'], '--limit "0": expected a whole number ≥ 1'],
    [['replay', '--id', 'x'], '--id "x": expected an id from list (like 1732950000000-0)'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseDeadLetterArgs(argv)).toThrow(new UsageError(message));
  });
});
