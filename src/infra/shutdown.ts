// Graceful shutdown that is safe to call twice and never skips a step: each step runs in
// its own try/catch, in order. A second signal, or the timeout, forces the exit.
import type { Logger } from './logger.js';

export interface Step {
  name: string;
  run(): Promise<void> | void;
}

export function createShutdown(steps: Step[], log: Logger): () => Promise<boolean> {
  let running: Promise<boolean> | undefined;
  return () => {
    running ??= (async () => {
      let clean = true;
      for (const step of steps) {
        try {
          await step.run();
        } catch (err) {
          clean = false;
          log.error({ err, step: step.name }, 'shutdown step failed; going on with the next');
        }
      }
      return clean;
    })();
    return running;
  };
}

/** SIGTERM/SIGINT: first one shuts down gracefully (exit 0), a second or the timeout forces it. */
export function onSignals(shutdown: () => Promise<boolean>, log: Logger, timeoutMs: number): void {
  let signalled = false;
  const handle = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    log.info({ signal, timeoutMs }, 'shutting down gracefully (send the signal again to force)');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'graceful shutdown took too long: exiting now');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void shutdown().then((clean) => {
      clearTimeout(timer);
      log.info({ clean }, 'stopped');
      log.flush?.();
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
