/**
 * {@link BrokerEvents}: the events a `Broker` emits, by name, with their arguments — so that
 * `broker.on('connect', ({ url }) => …)` is type-checked.
 * @module
 */

/**
 * The events of a `Broker` (`Broker extends EventEmitter<BrokerEvents>`). A listener that throws
 * is the application's bug, not the Broker's: keep listeners short and non-throwing.
 *
 * @example
 * ```ts
 * broker.on('connect', ({ url }) => log.info({ url }, 'broker connected')); // url: password redacted
 * broker.on('disconnect', (err) => log.warn({ err }, 'broker connection lost'));
 * broker.on('blocked', (reason) => log.warn({ reason }, 'broker blocks publishers'));
 * broker.on('unblocked', () => log.info('broker takes publishes again'));
 * broker.on('error', (err) => log.error({ err }, 'broker background failure'));
 * ```
 */
export interface BrokerEvents {
  /** Connected (the first time and after every reconnect), topology declared; `url` is redacted. */
  connect: [info: { url: string }];
  /** The connection was lost (`error` is why, when known) or closed. Reconnecting follows unless closing. */
  disconnect: [error: Error | undefined];
  /** The broker stopped reading from this connection (a memory or disk alarm): publishes wait. */
  blocked: [reason: string];
  /** The broker reads again. */
  unblocked: [];
  /**
   * A background failure nobody awaits (a lost connection, a consumer that could not subscribe, a
   * channel error). With no listener it goes to `logger.warn` instead: an unheard `'error'` never
   * crashes the process.
   */
  error: [error: Error];
}
