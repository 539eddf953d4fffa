/**
 * Internal: the one convention for failures that happen in the background (a dropped idle
 * connection, a reconnect attempt that failed, a cleanup that could not finish), where there is no
 * caller to reject: they go to the owner's `'error'` event when someone listens to it, else to its
 * logger's `warn`, else nowhere — never to an `'error'` event nobody hears, which would crash the
 * process. Owners also count them in their `stats()`.
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import { toError } from './to-error.js';

/**
 * Where an owner's background failures go.
 *
 * @example
 * ```ts
 * const sink: BackgroundSink = { emitter: this, logger: opts.logger };
 * ```
 */
export interface BackgroundSink {
  /** The owner, when it is an EventEmitter with an `'error'` event. */
  emitter?: EventEmitter | undefined;
  logger?: Logger | undefined;
}

/**
 * Reports `err` (any thrown value, made an `Error`) as described in this module; `message` says
 * what failed, `details` add context for the log line.
 *
 * @example
 * ```ts
 * reportBackground(sink, 'connkit/amqp: consumer failed to subscribe', err, { queue });
 * ```
 */
export function reportBackground(
  sink: BackgroundSink,
  message: string,
  err: unknown,
  details?: Record<string, unknown>,
): void {
  const error = toError(err);
  if (sink.emitter !== undefined && sink.emitter.listenerCount('error') > 0) {
    sink.emitter.emit('error', error);
    return;
  }
  sink.logger?.warn({ ...details, err: error }, message);
}

/**
 * Logs an event that is not a failure (a reconnect, a pool that grew) at `info`, when the logger
 * has that level.
 *
 * @example
 * ```ts
 * logInfo(logger, 'connkit/amqp: reconnected', { url });
 * ```
 */
export function logInfo(logger: Logger | undefined, message: string, details: Record<string, unknown>): void {
  logger?.info?.(details, message);
}

/**
 * Logs a detail for someone debugging (a slow acquire, a cancel sent), when the logger has `debug`.
 *
 * @example
 * ```ts
 * logDebug(logger, 'connkit/postgres: cancelling statement', { pid });
 * ```
 */
export function logDebug(
  logger: Logger | undefined,
  message: string,
  details: Record<string, unknown>,
): void {
  logger?.debug?.(details, message);
}
