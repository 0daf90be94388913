import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has working defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.role).toBe('all');
    expect(c.http.port).toBe(3000);
    expect(c.postgres.url).toBeUndefined();
    expect(c.redis.url).toBeUndefined();
    expect(c.flush.intervalMs).toBe(5_000);
    expect(c.retention.rawMs).toBe(90 * 86_400_000);
    expect(c.retention.compressAfterMs).toBe(2 * 86_400_000);
    expect(c.shutdownTimeoutMs).toBe(10_000);
  });

  it('parses durations and numbers', () => {
    const c = loadConfig({
      FLUSH_INTERVAL: '250ms',
      RAW_RETENTION: '7d',
      PORT: '8080',
      FLUSH_BATCH: '500',
    });
    expect([c.flush.intervalMs, c.retention.rawMs, c.http.port, c.flush.batchPoints]).toEqual([
      250,
      7 * 86_400_000,
      8080,
      500,
    ]);
  });

  it('takes COMPRESS_AFTER as a duration of at least a day, or off', () => {
    expect(loadConfig({ COMPRESS_AFTER: '7d' }).retention.compressAfterMs).toBe(7 * 86_400_000);
    expect(loadConfig({ COMPRESS_AFTER: 'off' }).retention.compressAfterMs).toBeNull();
    for (const bad of ['12h', 'soon'])
      expect(() => loadConfig({ COMPRESS_AFTER: bad })).toThrow(
        `COMPRESS_AFTER="${bad}": expected off, or a duration such as 2d or 7d (at least 1d)`,
      );
  });

  it('names every bad variable, its value and what is allowed, and hides secrets', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'http',
        FLUSH_INTERVAL: '5 seconds',
        DATABASE_URL: 'mysql://u:secret@h/db',
        INGEST_TOKEN: 'short',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT="http": expected a whole number from 0 to 65535');
    expect(message).toContain('FLUSH_INTERVAL="5 seconds": expected a duration');
    expect(message).toContain(
      'DATABASE_URL="mysql://u:***@h/db": expected a URL starting with postgres:// or postgresql://',
    );
    expect(message).toContain('INGEST_TOKEN="***": expected at least 16 characters');
    expect(message).not.toContain('secret');
  });

  it('refuses settings that cannot work together or would break every sampled point', () => {
    const message = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return 'ok';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(message({ BUFFER_MAX_POINTS: '5000' })).toContain(
      'BUFFER_MAX_POINTS="5000": must be at least INGEST_MAX_POINTS (10000)',
    );
    expect(message({ BUFFER_MAX_POINTS: '5000', INGEST_MAX_POINTS: '5000' })).toBe('ok');
    expect(message({ FLUSH_CLAIM_IDLE: '1s' })).toContain(
      'FLUSH_CLAIM_IDLE="1s": expected a duration',
    );
    expect(message({ ENVIRONMENT: 'x'.repeat(201) })).toContain('ENVIRONMENT=');
    expect(message({ SCRAPE_TARGETS: `http://h/${'p'.repeat(200)}` })).toContain(
      'longer than 200 characters',
    );
    expect(message({ SCRAPE_TARGETS: 'ftp://h/metrics' })).toContain(
      'is not an http:// or https:// URL',
    );
    expect(message({ SAMPLERS: 'host,disk' })).toContain('unknown sampler(s) disk');
    expect(message({ SAMPLE_INTERVAL: '7s' })).toContain('divide a minute');
  });

  it('listens on 127.0.0.1 without both tokens, and refuses another HOST then unless told', () => {
    const T = { INGEST_TOKEN: 'ingest-token-0123456789', READ_TOKEN: 'read-token-0123456789' };
    expect(loadConfig({}).http).toMatchObject({ host: '127.0.0.1', loopbackForLackOfTokens: true });
    expect(loadConfig({ INGEST_TOKEN: T.INGEST_TOKEN }).http.host).toBe('127.0.0.1');
    expect(loadConfig(T).http).toMatchObject({ host: '0.0.0.0', openToNetwork: false });
    expect(loadConfig({ HOST: '::1' }).http.host).toBe('::1');
    expect(() => loadConfig({ HOST: '0.0.0.0', READ_TOKEN: T.READ_TOKEN })).toThrow(
      'HOST="0.0.0.0": listening beyond this machine needs INGEST_TOKEN (without, anyone who reaches the port can write and read metrics): set it, or ALLOW_UNAUTHENTICATED=true to accept that',
    );
    expect(() => loadConfig({ HOST: '10.0.0.5' })).toThrow(/needs INGEST_TOKEN and READ_TOKEN/);
    expect(loadConfig({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: 'true' }).http).toMatchObject({
      host: '0.0.0.0',
      openToNetwork: true,
    });
  });
});
