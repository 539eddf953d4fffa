/**
 * {@link failureAction}: what a failed delivery calls for — a retry, the dead-letter queue at once,
 * or a requeue — from what the handler threw, the attempt and the consumer's `retryIf`. The
 * `FailurePolicy` then carries it out. One function, so the outcome table of
 * `ConsumeOptions` has one implementation.
 * @module
 */
import type { RetryPredicate } from './consume-options.js';
import { NonRetryableError, RequeueError } from './errors.js';
import type { Message } from './message.js';

/**
 * What becomes of a failed delivery.
 *
 * @example
 * ```ts
 * const action: FailureAction = failureAction(err, msg, 3, undefined, report); // 'retry'
 * ```
 */
export type FailureAction = 'retry' | 'dead-letter' | 'requeue';

/**
 * Decides what a failure calls for. `msg` is `undefined` when the delivery could not even be
 * decoded (it never gets better); `attempts` is the consumer's tries in all; a `retryIf` that throws
 * is `report`ed and counts as "retry", the default it refines.
 *
 * @example
 * ```ts
 * failureAction(new NonRetryableError('poison'), msg, 5, undefined, report); // 'dead-letter'
 * failureAction(new RequeueError(), msg, 1, undefined, report); // 'requeue'
 * ```
 */
export function failureAction(
  err: unknown,
  msg: Message | undefined,
  attempts: number,
  retryIf: RetryPredicate | undefined,
  report: (err: unknown) => void,
): FailureAction {
  if (err instanceof RequeueError) return 'requeue';
  if (msg === undefined || err instanceof NonRetryableError || msg.attempt >= attempts) {
    return 'dead-letter';
  }
  if (retryIf === undefined) return 'retry';
  try {
    return retryIf(err, msg) ? 'retry' : 'dead-letter';
  } catch (predicateError) {
    report(predicateError);
    return 'retry';
  }
}
