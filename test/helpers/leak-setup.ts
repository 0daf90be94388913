// The leak guard's per-file half (vitest setupFiles): after a file's own afterAll hooks (vitest
// runs after-hooks in reverse order, so this one runs last), the file's worker process must hold
// no more active resources and no more child processes than it did before the file was loaded.
//
// Why these checks: with pool 'forks' every file runs in a worker process of its own that vitest
// ends when the file is done, so a socket, server or timer a file forgets never hangs the run;
// vitest's teardownTimeout only bounds the globalSetup teardown, and the hanging-process reporter
// reports on the main process, not on workers. process.getActiveResourcesInfo() lists what keeps
// a process's event loop alive (ref'd handles and timers; unref'd ones are left out, as they do
// not keep it alive). The worker's own entries (vitest's IPC pipes) are there before the file
// loads, so the check compares per-type counts with that baseline instead of naming types to
// ignore; the baseline is the minimum over 100 ms, leaving out vitest's short-lived timers. Sockets a file closed in its afterAll leave the list a few ticks later, so the check
// waits up to GRACE_MS for the counts to come down before it fails the file.
import path from 'node:path';
import { afterAll, expect, inject } from 'vitest';
import { childProcesses, FILE_ENV, restingResources, RUN_ENV, settledExtras } from './leaks.js';
import { ROOT } from './processes.js';

const GRACE_MS = 2_000;

const file = path.relative(ROOT, expect.getState().testPath ?? '?');
// Every process a test starts with this environment carries them; global-setup.ts looks for them.
process.env[RUN_ENV] = inject('runToken');
process.env[FILE_ENV] = file;

const baseline = {
  resources: await restingResources(),
  children: new Set((await childProcesses()).map((c) => c.pid)),
};

afterAll(async () => {
  const { resources, children } = await settledExtras(baseline, GRACE_MS);
  if (resources.size === 0 && children.length === 0) return;
  const lines = [...resources].map(([type, n]) => `  - ${n} × ${type}`);
  for (const c of children) lines.push(`  - child process ${c.pid}: ${c.cmd}`);
  throw new Error(
    `${file} left handles open after its afterAll hooks (process.getActiveResourcesInfo() beyond the worker's own):\n${lines.join('\n')}`,
  );
});
