// The cache's invalidation patterns: only `*` is a wildcard, and matching never backtracks
// without bound (a pattern like `*a*a*a…b` reaches every API process).
import { describe, expect, it } from 'vitest';
import { globMatches } from '../../src/cache/dashboard-cache.js';

/** The obvious definition, for short strings: a regular expression. */
function reference(pattern: string, name: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`).test(name);
}

describe('globMatches', () => {
  it.each([
    ['summary:*', 'summary:24h', true],
    ['summary:*', 'trend:cpu:24h', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['trend:cpu:*:5m:*', 'trend:cpu:24h:5m:-', true],
    ['trend:cpu:*:5m:*', 'trend:cpu:24h:1h:-', false],
    ['a?b', 'a?b', true],
    ['a?b', 'axb', false],
    ['a.b', 'axb', false],
    ['*b', 'aab', true],
    ['*b', 'aba', false],
    ['a**b', 'ab', true],
  ])('%j against %j is %s', (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it('agrees with a regular expression on 20,000 random short pairs', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const word = (alphabet: string, max: number) =>
      Array.from({ length: Math.floor(rand() * max) }, () =>
        alphabet.charAt(Math.floor(rand() * alphabet.length)),
      ).join('');
    for (let i = 0; i < 20_000; i++) {
      const pattern = word('ab*', 7);
      const name = word('ab', 9);
      expect(globMatches(pattern, name), `${pattern} / ${name}`).toBe(reference(pattern, name));
    }
  });

  it('answers a pattern that makes a regular expression backtrack for ever', () => {
    // `^(.*a){30}.*b$` against 100 a's: a backtracking engine tries ~C(100, 30) splits.
    expect(globMatches(`${'*a'.repeat(30)}*b`, 'a'.repeat(100))).toBe(false);
    expect(globMatches(`${'*a'.repeat(30)}*b`, `${'a'.repeat(100)}b`)).toBe(true);
  });
});
