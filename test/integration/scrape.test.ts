// Scraping a target over real HTTP, the bounds: a sample limit (over it, up=0 and nothing
// stored), redirects within the target's origin only, and credentials or query strings in a
// target URL kept out of tags, logs, job data and scheduler ids.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicTarget, scrapeTarget, targetKey } from '../../src/samplers/prometheus.js';
import { SCHEDULER } from '../../src/workers/schedulers.js';
import { startScrapeFixture, type ScrapeFixture } from '../helpers/scrape-fixture.js';

let fixture: ScrapeFixture;
const lines: string[] = [];
const log = pino(
  { level: 'info' },
  new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }),
);

beforeAll(async () => {
  fixture = await startScrapeFixture();
});
afterAll(async () => {
  await fixture?.close();
});

const scrape = (url: string, sampleLimit = 50_000) =>
  scrapeTarget({ url, timeoutMs: 2_000, sampleLimit, log });
const names = (r: Awaited<ReturnType<typeof scrape>>) => r.samples.map((s) => s.name);

describe('scrape bounds', () => {
  it('a target over SCRAPE_SAMPLE_LIMIT is up=0 with the reason, and none of it is stored', async () => {
    const all = await scrape(`${fixture.base}/node`);
    const count = all.samples.length - 2; // up and scrape_duration_seconds
    expect(count).toBeGreaterThan(20);
    const at = await scrape(`${fixture.base}/node`, count);
    expect(at.up).toBe(true);
    const over = await scrape(`${fixture.base}/node`, count - 1);
    expect(over).toMatchObject({
      up: false,
      error: `more than ${count - 1} samples (SCRAPE_SAMPLE_LIMIT): none of this scrape is stored`,
    });
    expect(names(over)).toEqual(['up', 'scrape_duration_seconds']);
  });

  it('follows a redirect within the origin, refuses one to another origin', async () => {
    const same = await scrape(`${fixture.base}/redirect-same`);
    expect(same.up).toBe(true);
    expect(names(same)).toContain('node_load1');
    const other = await scrape(`${fixture.base}/redirect-other`);
    expect(other.up).toBe(false);
    expect(other.error).toMatch(
      /^HTTP 302 redirect to another origin \(http:\/\/localhost:\d+\) refused/,
    );
    expect(names(other)).toEqual(['up', 'scrape_duration_seconds']);
  });

  it('sends URL credentials as Basic auth and keeps them and the query out of tags, logs and ids', async () => {
    const port = new URL(fixture.base).port;
    const url = `http://scraper:s3cret@127.0.0.1:${port}/auth?token=q-secret-7`;
    lines.length = 0;
    const ok = await scrape(url);
    expect(ok.up).toBe(true);
    const shown = `http://127.0.0.1:${port}/auth`;
    expect(publicTarget(url)).toBe(shown);
    expect(new Set(ok.samples.map((s) => s.tags?.target))).toEqual(new Set([shown]));

    const wrong = `http://scraper:not-it@127.0.0.1:${port}/auth?token=q-secret-7`;
    const refused = await scrape(wrong);
    expect(refused).toMatchObject({ up: false, error: 'HTTP 401 Unauthorized' });
    const logged = lines.join('');
    expect(logged).toContain(shown);
    for (const secret of ['s3cret', 'not-it', 'q-secret-7', 'scraper:'])
      expect(logged).not.toContain(secret);

    // Job data and scheduler ids carry the key: the public part and a digest of the rest.
    const key = targetKey(url);
    expect(key).toMatch(new RegExp(`^${shown.replace(/[.]/g, '\\.')}#[0-9a-f]{12}$`));
    expect(targetKey(wrong)).not.toBe(key);
    const id = SCHEDULER.sample({ sampler: 'scrape', target: key });
    for (const secret of ['s3cret', 'q-secret-7']) expect(id).not.toContain(secret);
    // A URL with nothing to hide is its own key.
    expect(targetKey(`${fixture.base}/node`)).toBe(`${fixture.base}/node`);
    expect(targetKey(fixture.base)).toBe(fixture.base);
  });
});
