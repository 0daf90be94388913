// Starting real pulse processes from tests, as ops would: `node src/main.ts <role>`.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { FILE_ENV, RUN_ENV } from './leaks.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Child {
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Environment without the variables a test wants unset (URLs, so the defaults are used). */
export function envWithout(names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !names.includes(k)) env[k] = v;
  return env;
}

export function spawnPulse(
  args: string[],
  env: Record<string, string>,
  command = process.execPath,
): Child {
  const argv = command === process.execPath ? ['--import', 'tsx', 'src/main.ts', ...args] : args;
  // The run's token and the test file (leak-setup.ts sets them) even where `env` starts empty:
  // the leak guard finds the processes a run leaves by them.
  const marks: Record<string, string> = {};
  for (const k of [RUN_ENV, FILE_ENV]) if (process.env[k] !== undefined) marks[k] = process.env[k];
  const proc = spawn(command, argv, {
    cwd: ROOT,
    env: { ...env, ...marks },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, output: () => out, exited };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
