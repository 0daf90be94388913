// Timing what a stage spends inside the domain objects it drives, without subclassing them.
import { performance } from 'node:perf_hooks';

/** Time spent inside some async methods of one object, summed per method (ms). */
export interface CallTimes<K extends string> {
  ms: Record<K, number>;
  reset(): void;
}

/**
 * Times the calls to `methods` of `target` (what a benchmark's stage spends in the buffer or
 * the store) without changing what they do: each method is wrapped on the instance, so the
 * object stays the domain class itself rather than a subclass of it.
 */
export function timeCalls<T extends object, K extends keyof T & string>(
  target: T,
  methods: readonly K[],
): CallTimes<K> {
  const ms = Object.fromEntries(methods.map((m) => [m, 0])) as Record<K, number>;
  for (const m of methods) {
    const original = target[m] as unknown as (...args: unknown[]) => Promise<unknown>;
    const timed = async (...args: unknown[]): Promise<unknown> => {
      const started = performance.now();
      try {
        return await original.apply(target, args);
      } finally {
        ms[m] += performance.now() - started;
      }
    };
    Object.defineProperty(target, m, { value: timed, configurable: true, writable: true });
  }
  return {
    ms,
    reset() {
      for (const m of methods) ms[m] = 0;
    },
  };
}
