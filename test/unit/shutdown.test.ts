import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { createShutdown } from '../../src/infra/shutdown.js';

describe('createShutdown', () => {
  it('runs every step once, in order, even when one fails, and reports it', async () => {
    const ran: string[] = [];
    const shutdown = createShutdown(
      [
        { name: 'a', run: () => void ran.push('a') },
        {
          name: 'b',
          run: () => {
            ran.push('b');
            throw new Error('boom');
          },
        },
        { name: 'c', run: () => Promise.resolve().then(() => void ran.push('c')) },
      ],
      createLogger('silent'),
    );
    const [first, second] = await Promise.all([shutdown(), shutdown()]);
    expect(await shutdown()).toBe(false);
    expect([first, second]).toEqual([false, false]);
    expect(ran).toEqual(['a', 'b', 'c']);
  });
});

describe('a forced exit', () => {
  it('runs the steps marked always that have not run yet, without waiting for a stuck one', async () => {
    const ran: string[] = [];
    const steps = [
      { name: 'http', run: () => new Promise<void>(() => undefined) }, // never ends
      { name: 'embedded postgres', run: () => void ran.push('postgres'), always: true },
      { name: 'pool', run: () => void ran.push('pool') },
    ];
    const shutdown = createShutdown(steps, createLogger('silent'));
    void shutdown();
    await shutdown.forced(1_000);
    expect(ran).toEqual(['postgres']);
    // Not twice.
    await shutdown.forced(1_000);
    expect(ran).toEqual(['postgres']);
  });
});

describe('a forced exit with a step marked first', () => {
  it('runs it to its end before the other always steps start', async () => {
    const ran: string[] = [];
    const steps = [
      { name: 'stuck', run: () => new Promise<void>(() => undefined) },
      {
        name: 'release jobs',
        run: () =>
          new Promise<void>((r) => setTimeout(r, 50)).then(() => void ran.push('release done')),
        always: true,
        first: true,
      },
      { name: 'embedded postgres', run: () => void ran.push('postgres'), always: true },
      { name: 'embedded redis', run: () => void ran.push('redis'), always: true },
    ];
    const shutdown = createShutdown(steps, createLogger('silent'));
    void shutdown();
    await shutdown.forced(1_000);
    expect(ran).toEqual(['release done', 'postgres', 'redis']);
  });
});
