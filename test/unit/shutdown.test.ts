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
