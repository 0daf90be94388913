// Who can reach pulse, at the network level: without tokens it listens on 127.0.0.1 only (not on
// this machine's other addresses), with both tokens on every interface, and a network HOST
// without tokens stops start-up. TRUST_PROXY decides whose address the failed-login limiter
// counts: the peer, unless the peer is a trusted proxy naming the client.
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { start, type Running } from '../../src/main.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { envWithout, spawnPulse } from '../helpers/processes.js';

let ctx: TestContext;
const running: Running[] = [];
const INGEST = 'ingest-token-exposure-0123';
const READ = 'read-token-exposure-0123456';

/** An IPv4 address of this machine other than loopback (eth0), if it has one. */
const external = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

beforeAll(async () => {
  ctx = await createTestContext('exposure');
});

afterAll(async () => {
  for (const app of running) await app.stop();
  await ctx?.cleanup();
});

/** pulse with HOST unset (the default), PORT 0 and `env` on top. */
async function startWith(env: Record<string, string>): Promise<number> {
  const app = await start(loadConfig({ ...ctx.env(), PORT: '0', ...env }), ctx.log);
  running.push(app);
  return app.port as number;
}

/** Whether a TCP connection to host:port is accepted. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

describe('listening address', () => {
  it.skipIf(external === undefined)(
    'without tokens: answers on 127.0.0.1, not on the machine’s network address',
    async () => {
      const port = await startWith({});
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(await connects(external as string, port)).toBe(false);
    },
  );

  it.skipIf(external === undefined)(
    'with INGEST_TOKEN and READ_TOKEN: answers on the network address, and asks for the token',
    async () => {
      const port = await startWith({ INGEST_TOKEN: INGEST, READ_TOKEN: READ });
      const at = `http://${external as string}:${port}`;
      expect((await fetch(`${at}/healthz`)).status).toBe(200);
      const anonymous = await fetch(`${at}/api/v1/regressions`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({
        status: 401,
        detail: 'an Authorization: Bearer token is required',
      });
      const ok = await fetch(`${at}/api/v1/regressions`, {
        headers: { authorization: `Bearer ${READ}` },
      });
      expect(ok.status).toBe(200);
    },
  );

  it('a network HOST without tokens stops start-up with exit 2 and says what to set', async () => {
    const child = spawnPulse(['api'], {
      ...envWithout(['INGEST_TOKEN', 'READ_TOKEN', 'ALLOW_UNAUTHENTICATED']),
      ...ctx.env(),
      HOST: '0.0.0.0',
      PORT: '0',
      READ_TOKEN: READ,
    });
    const exit = await child.exited;
    expect(exit, child.output()).toEqual({ code: 2, signal: null });
    expect(child.output()).toContain(
      'HOST="0.0.0.0": listening beyond this machine needs INGEST_TOKEN',
    );
    expect(child.output()).not.toContain('    at '); // one clear message, no stack trace
  });
});

describe('TRUST_PROXY and the failed-login limiter', () => {
  const bad = (port: number, forwardedFor?: string) =>
    fetch(`http://127.0.0.1:${port}/api/v1/regressions`, {
      headers: {
        authorization: 'Bearer wrong-token-0123456789',
        ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
      },
    });

  it('unset: the peer is the client, so a made-up X-Forwarded-For does not escape the limiter', async () => {
    const port = await startWith({ INGEST_TOKEN: INGEST, READ_TOKEN: READ, HOST: '127.0.0.1' });
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await bad(port, `198.51.100.${i}`)).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
  });

  it('loopback: each client named by the proxy has its own count', async () => {
    const port = await startWith({
      INGEST_TOKEN: INGEST,
      READ_TOKEN: READ,
      HOST: '127.0.0.1',
      TRUST_PROXY: 'loopback',
    });
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await bad(port, '203.0.113.7')).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
    // Another client behind the same proxy, and the proxy's own address, are not locked out.
    expect((await bad(port, '203.0.113.8')).status).toBe(401);
    expect((await bad(port)).status).toBe(401);
    // A made-up hop before the real client changes nothing: the proxy's entry is the client.
    expect((await bad(port, '10.9.9.9, 203.0.113.7')).status).toBe(429);
  });

  it('refuses a TRUST_PROXY that is not a hop count, an address, a range or a name', () => {
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(
      'TRUST_PROXY="10.0.0.0/33": "10.0.0.0/33" is not an address, a CIDR range or one of loopback, linklocal, uniquelocal (or use true, false or a hop count)',
    );
    expect(() => loadConfig({ TRUST_PROXY: 'loopback, proxy.example' })).toThrow(
      '"proxy.example" is not an address',
    );
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, loopback' }).http.trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
    ]);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({}).http.trustProxy).toBe(false);
  });
});
