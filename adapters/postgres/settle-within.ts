/**
 * {@link settleWithin}: how long a cleanup may take (closing a cursor, a cancelled statement
 * winding down, a `withClient` fn giving its client back) before the connection is given up.
 * @module
 */
import { startTimer } from '../../src/internal/index.js';

/**
 * Resolves `true` once `promise` settles (either way), or `false` after `ms` (any duration; the
 * timer does not keep the process alive). Never rejects.
 *
 * @example
 * ```ts
 * if (!(await settleWithin(cursor.close(), 5_000))) lease.release(new Error('close hung'));
 * ```
 */
export function settleWithin(promise: PromiseLike<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const stop = startTimer(ms, () => resolve(false), true);
    const settled = (): void => {
      stop();
      resolve(true);
    };
    promise.then(settled, settled);
  });
}
