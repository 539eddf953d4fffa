/**
 * Internal: {@link toError}, for the places where anything may have been thrown but an `Error` is
 * needed (an `'error'` event, a log line, a `cause`).
 * @module
 */
import { describeValue } from '../options.js';

/**
 * `value` itself when it is an `Error`, else an `Error` whose message describes it.
 *
 * @example
 * ```ts
 * emitter.emit('error', toError(thrown));
 * toError('boom').message; // 'Non-error thrown: "boom"'
 * ```
 */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`Non-error thrown: ${describeValue(value)}`);
}
