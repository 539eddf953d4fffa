/**
 * Internal: how a {@link Pool} closes — queued and creating callers reject at once, lent resources
 * are waited for (then reclaimed), idle ones destroyed, and every factory call awaited.
 * @module
 */
import { PoolClosedError, TimeoutError } from '../errors.js';
import type { PoolCore } from './pool-core.js';
import { startTimer } from './timer.js';

/**
 * Shuts the pool down; `timeout` (ms) bounds each of the two waits (lent resources, factory calls).
 * Rejects with `TimeoutError` if factory calls are still running after the second.
 *
 * @example
 * ```ts
 * close(opts) { return (this.#closing ??= shutdown(this.#core, timeout)); }
 * ```
 */
export async function shutdown<T>(core: PoolCore<T>, timeout: number): Promise<void> {
  core.closing = true;
  const closed = core.closedError();
  core.closeController.abort(closed);
  for (const acq of core.pending) acq.abort(closed);
  core.queue.failAll(closed);
  if (!(await quiet(core, timeout, false))) {
    core.reclaim.abort(new PoolClosedError(`Pool "${core.cfg.name}" closed: lent resources reclaimed`));
    for (const lease of core.leases) {
      if (!lease.revoke()) continue;
      core.leases.delete(lease);
      core.store.destroy(lease.resource, 'pool closed');
      core.releaseSlot();
    }
  }
  await core.store.close();
  if (!(await quiet(core, timeout, true))) {
    throw new TimeoutError(
      `Pool "${core.cfg.name}" close() timed out after ${timeout} ms waiting for the factory ` +
        `(${core.cfg.max - core.sem.value} slots held, ${core.ops.size} destroys pending)`,
    );
  }
}

/** Resolves true once every slot is free (and, with `ops`, every factory call settled), false at the deadline. */
function quiet<T>(core: PoolCore<T>, ms: number, ops: boolean): Promise<boolean> {
  const done = (): boolean => core.sem.value === core.cfg.max && (!ops || core.ops.size === 0);
  if (done()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const cancel = startTimer(ms, () => {
      core.onQuiet = undefined;
      resolve(false);
    });
    core.onQuiet = () => {
      if (!done()) return;
      cancel();
      core.onQuiet = undefined;
      resolve(true);
    };
  });
}
