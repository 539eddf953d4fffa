/**
 * {@link runMain}: `asyncio.run` for services — signals become an abort, shutdown is bounded.
 * @module
 */
import { constants } from 'node:os';
import { CancelledError } from './errors.js';
import { checkDuration, describeValue } from './options.js';
import { startTimeout } from './internal/at-once.js';

/**
 * Options of {@link runMain}.
 * @example
 * ```ts
 * await runMain(main, { shutdownTimeout: 30_000, signals: ['SIGTERM'] } satisfies RunMainOptions);
 * ```
 */
export interface RunMainOptions {
  /**
   * Milliseconds `main` gets to finish after the first signal; then the process is forced out.
   * `0`: only what `main` finishes at once (within the microtasks that follow the abort).
   * @default 10_000
   */
  shutdownTimeout?: number | undefined;
  /** Signals that start a graceful shutdown. @default ['SIGINT', 'SIGTERM'] */
  signals?: readonly NodeJS.Signals[] | undefined;
  /**
   * Called with the exit code once the outcome is known. Swap it to embed `runMain` (tests, or a
   * host that exits by itself).
   * @default process.exit
   */
  exit?: ((code: number) => void) | undefined;
}

/**
 * Runs a service's `main(signal)` and ends the process with an exit code that tells what happened:
 * - `main` resolves → `0`; it rejects with the shutdown's own abort reason → `0` too (graceful);
 * - `main` rejects with anything else → the error is printed to stderr, exit `1`;
 * - the first SIGINT/SIGTERM aborts `signal` (reason: a `CancelledError` naming the signal) and
 *   starts the `shutdownTimeout` clock; if `main` is still running when it expires, or a second
 *   signal arrives, the process is forced out with `128 + signal number` (130 for SIGINT, 143 for
 *   SIGTERM).
 *
 * While `main` runs the process stays alive even if nothing else holds it (a service may just await
 * its signal). The signal handlers are removed before `exit` is called. Resolves with the exit code (only
 * observable when `exit` does not end the process).
 *
 * @example
 * ```ts
 * await runMain(async (signal) => {
 *   const broker = new Broker({ url });
 *   const consumer = broker.consume('orders', handle);
 *   await sleep(Infinity, { signal }).catch(() => {}); // until SIGTERM
 *   await consumer.close();
 *   await broker.close();
 * }, { shutdownTimeout: 15_000 });
 * ```
 */
export function runMain(
  main: (signal: AbortSignal) => PromiseLike<void> | void,
  opts?: RunMainOptions,
): Promise<number> {
  if (typeof main !== 'function')
    throw new TypeError(`runMain() main must be a function, got ${describeValue(main)}`);
  const shutdownTimeout = checkDuration(opts?.shutdownTimeout, 'shutdownTimeout', 10_000);
  const signals = opts?.signals ?? (['SIGINT', 'SIGTERM'] as const);
  const exit = opts?.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  let cancelTimer = (): void => {};

  return new Promise<number>((resolve) => {
    // A service that only awaits its signal has no handle keeping Node alive: hold one until the end.
    const keepAlive = setInterval(() => {}, 2_147_483_647);
    let finished = false;
    const end = (code: number, message?: string, error?: unknown): void => {
      if (finished) return;
      finished = true;
      for (const sig of signals) process.off(sig, onSignal);
      cancelTimer();
      clearInterval(keepAlive);
      if (message !== undefined) console.error(message, ...(error === undefined ? [] : [error]));
      process.exitCode = code;
      resolve(code);
      exit(code);
    };
    const onSignal = (sig: NodeJS.Signals): void => {
      if (received !== undefined) {
        end(forcedCode(sig), `runMain: received ${sig} again during shutdown, forcing exit`);
        return;
      }
      received = sig;
      cancelTimer = startTimeout(shutdownTimeout, () =>
        end(
          forcedCode(sig),
          `runMain: main did not finish within ${shutdownTimeout} ms after ${sig}, forcing exit`,
        ),
      );
      controller.abort(new CancelledError(`runMain: received ${sig}, shutting down`));
    };
    for (const sig of signals) process.on(sig, onSignal);

    let running: PromiseLike<void> | void;
    try {
      running = main(controller.signal);
    } catch (err) {
      running = Promise.reject(err);
    }
    Promise.resolve(running).then(
      () => end(0),
      (err: unknown) => {
        if (controller.signal.aborted && err === controller.signal.reason) end(0);
        else end(1, 'runMain: main failed:', err);
      },
    );
  });
}

function forcedCode(sig: NodeJS.Signals): number {
  const n = (constants.signals as Partial<Record<NodeJS.Signals, number>>)[sig];
  return n === undefined ? 1 : 128 + n;
}
