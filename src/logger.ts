/**
 * {@link Logger}: the one logger interface of the whole kit — the `Pool`, `Database`, `Broker`,
 * subscriptions and relays all report to a logger of this shape.
 * @module
 */

/**
 * Details first, then the message — the signature of pino (and bunyan), so a pino logger plugs in
 * as it is (pino drops a details object passed *after* the message). `console` works too. Only
 * `warn` is required; `error` falls back to `warn`, and `info`/`debug` are used when present.
 *
 * connkit logs what it cannot throw: connections lost and restored, reconnect attempts, slow
 * cleanups, errors in background work. Details carry the error as `err` (pino's convention) and
 * never a password, a bound value or a message body.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const db = new Database({ url, logger: pino() });
 * const broker = new Broker({ url: amqpUrl, logger: console });
 * ```
 */
export interface Logger {
  warn(details: Record<string, unknown>, message: string): void;
  error?(details: Record<string, unknown>, message: string): void;
  info?(details: Record<string, unknown>, message: string): void;
  debug?(details: Record<string, unknown>, message: string): void;
}
