// The system under test in the end-to-end stage: `node dist/src/main.js <role>` child processes
// per layout, started on the system's defaults, waited for until ready, stopped with SIGTERM,
// with each one's peak RSS.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { envSchema } from '../../../src/config.js';
import {
  checkRunning,
  type Child,
  progress,
  type Resources,
  roleNodeArgs,
  startChild,
  stopChild,
} from '../env.js';
import type { Layout } from './setup.js';

export type Role = 'all' | 'api' | 'worker';

export interface PulseProcess extends Child {
  role: Role;
}

export interface ProcessFigures {
  role: Role;
  /** True for the process that runs the flush worker: the RSS goal applies to it. */
  flushWorker: boolean;
  peakRssMb: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  /** Ignored SIGTERM and was killed. */
  killed: boolean;
  warnLines: number;
}

/** The environment of the pulse processes: their defaults, on the bench's database and Redis. */
export function pulseEnv(
  dbUrl: string,
  redisUrl: string,
  prefix: string,
  port: number,
): NodeJS.ProcessEnv {
  // The system runs on its defaults: config variables inherited from this shell are dropped.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(envSchema.shape)) delete env[name];
  Object.assign(env, {
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    PULSE_PREFIX: prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // Samplers would add their own points to the count this stage waits for.
    SAMPLERS: 'none',
  });
  return env;
}

/**
 * Starts `node dist/src/main.js <role>` with the node options of the role's npm script;
 * cleanup stops it if the run does not.
 */
function startPulse(res: Resources, role: Role, env: NodeJS.ProcessEnv): PulseProcess {
  const args = [...roleNodeArgs(role), 'dist/src/main.js', role];
  return { ...startChild(res, role, args, env, 'ignore'), role };
}

/** Stops one pulse process with SIGTERM (SIGKILL after 20 s) and says how it went. */
async function stopPulse(
  res: Resources,
  p: PulseProcess,
  label: string,
): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  const stopped = await stopChild(p.child, 20_000);
  res.children = res.children.filter((c) => c !== p.child);
  if (stopped.code !== 0) {
    progress(
      `e2e ${label}: the ${p.role} process exited with ${stopped.code ?? stopped.signal}${stopped.timedOut ? ' (killed after 20 s)' : ''}; last output:\n${p.output.show(30)}`,
    );
  } else if (p.output.warnLines > 0) {
    progress(
      `e2e ${label}: the ${p.role} process logged ${p.output.warnLines} warning/error line(s); last output:\n${p.output.show(10)}`,
    );
  }
  return stopped;
}

async function waitReady(base: string, p: PulseProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    checkRunning(p, 'before it was ready');
    try {
      const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3_000) });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(
    `GET /readyz did not answer 200 within 90 s (last: ${last})\n${p.output.show(30)}`,
  );
}

/** Waits until the process's BullMQ flush worker is connected (it names its Redis connection). */
async function waitWorker(queue: Queue, p: PulseProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    checkRunning(p, 'before its flush worker was up');
    if ((await queue.getWorkers()).length > 0) return;
    await sleep(200);
  }
  throw new Error(`no flush worker registered within 90 s\n${p.output.show(30)}`);
}

/** Where a layout's processes run and how the stage sees them. */
export interface LayoutStart {
  res: Resources;
  env: NodeJS.ProcessEnv;
  port: number;
  /** The flush queue, only to see the worker register (getWorkers() reads CLIENT LIST). */
  queue: Queue;
  label: string;
}

/**
 * Starts a layout's processes and waits until the API answers ready and the flush worker is
 * connected; cleanup stops them if this fails.
 */
export async function startLayout(s: LayoutStart, layout: Layout): Promise<PulseProcess[]> {
  const procs: PulseProcess[] = [];
  const base = `http://127.0.0.1:${s.port}`;
  if (layout === 'all') {
    progress(`e2e ${s.label}: starting node dist/src/main.js all (port ${s.port})`);
    const all = startPulse(s.res, 'all', s.env);
    procs.push(all);
    await waitReady(base, all);
    await waitWorker(s.queue, all);
  } else {
    // The worker first, so it is flushing before the first POST, as in a running deployment.
    progress(`e2e ${s.label}: starting node dist/src/main.js worker`);
    const worker = startPulse(s.res, 'worker', s.env);
    procs.push(worker);
    await waitWorker(s.queue, worker);
    progress(`e2e ${s.label}: starting node dist/src/main.js api (port ${s.port})`);
    const api = startPulse(s.res, 'api', s.env);
    procs.push(api);
    await waitReady(base, api);
    checkRunning(worker, 'while the api process started');
  }
  return procs;
}

async function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Each process's peak RSS (VmHWM) in kB, null where /proc does not say; read before stopping. */
export function peakRssKb(procs: PulseProcess[]): Promise<(number | null)[]> {
  return Promise.all(procs.map((p) => procStatusKb(p.pid, 'VmHWM')));
}

/** Stops the processes with SIGTERM and gives their figures, `hwm` being peakRssKb's answer. */
export async function stopLayout(
  res: Resources,
  procs: PulseProcess[],
  hwm: (number | null)[],
  label: string,
): Promise<ProcessFigures[]> {
  // The api first (no new points), then the worker, as one would take a deployment down.
  const processes: ProcessFigures[] = [];
  for (const [i, p] of [...procs.entries()].sort(
    ([, a], [, b]) => Number(a.role !== 'api') - Number(b.role !== 'api'),
  )) {
    const stopped = await stopPulse(res, p, label);
    const kb = hwm[i] ?? null;
    processes.push({
      role: p.role,
      flushWorker: p.role !== 'api',
      peakRssMb: kb === null ? null : kb / 1_024,
      exitCode: stopped.code,
      exitSignal: stopped.signal,
      killed: stopped.timedOut,
      warnLines: p.output.warnLines,
    });
  }
  return processes;
}
