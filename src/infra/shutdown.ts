// Graceful shutdown that is safe to call twice and never skips a step: each step runs in
// its own try/catch, in order. A second signal, or the timeout, forces the exit.
import type { Logger } from './logger.js';

export interface Step {
  name: string;
  run(): Promise<void> | void;
  /**
   * Run even when the exit is forced (a second signal, the timeout): the embedded services this
   * process started, which would otherwise outlive it as orphans.
   */
  always?: boolean;
  /**
   * With `always`: on a forced exit this step runs, and ends, before the other `always` steps
   * start (jobs handed back through Redis before an embedded Redis stops).
   */
  first?: boolean;
}

export interface Shutdown {
  /** The graceful shutdown: every step in order; resolves whether all went well. */
  (): Promise<boolean>;
  /**
   * On a forced exit: the `always` steps that have not run yet (those marked `first`, then the
   * others at once), at most `budgetMs` in all.
   */
  forced(budgetMs?: number): Promise<void>;
}

export function createShutdown(steps: Step[], log: Logger): Shutdown {
  let running: Promise<boolean> | undefined;
  const started = new Set<Step>();
  const runStep = async (step: Step): Promise<boolean> => {
    started.add(step);
    const t0 = Date.now();
    try {
      await step.run();
      log.debug({ step: step.name, ms: Date.now() - t0 }, 'shutdown step done');
      return true;
    } catch (err) {
      log.error({ err, step: step.name }, 'shutdown step failed; going on with the next');
      return false;
    }
  };
  const shutdown = (() => {
    running ??= (async () => {
      let clean = true;
      for (const step of steps) if (!started.has(step)) clean = (await runStep(step)) && clean;
      return clean;
    })();
    return running;
  }) as Shutdown;
  shutdown.forced = async (budgetMs = 5_000) => {
    const left = steps.filter((s) => s.always === true && !started.has(s));
    if (left.length === 0) return;
    log.warn(
      { steps: left.map((s) => s.name) },
      'forced exit: stopping the embedded services first',
    );
    const firsts = left.filter((s) => s.first === true);
    const rest = left.filter((s) => s.first !== true);
    await Promise.race([
      (async () => {
        for (const step of firsts) await runStep(step);
        await Promise.all(rest.map(runStep));
      })(),
      new Promise((r) => setTimeout(r, budgetMs).unref()),
    ]);
  };
  return shutdown;
}

/** SIGTERM/SIGINT: first one shuts down gracefully (exit 0), a second or the timeout forces it. */
export function onSignals(shutdown: Shutdown, log: Logger, timeoutMs: number): void {
  let signalled = false;
  let forcing = false;
  const force = () => {
    if (forcing) process.exit(1);
    forcing = true;
    void shutdown.forced().finally(() => process.exit(1));
  };
  const handle = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      force();
      return;
    }
    signalled = true;
    log.info({ signal, timeoutMs }, 'shutting down gracefully (send the signal again to force)');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'graceful shutdown took too long: exiting now');
      force();
    }, timeoutMs);
    timer.unref();
    void shutdown().then((clean) => {
      clearTimeout(timer);
      // A forced exit under way decides the exit (1) itself once the services are stopped.
      if (forcing) return;
      log.info({ clean }, 'stopped');
      log.flush?.();
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
