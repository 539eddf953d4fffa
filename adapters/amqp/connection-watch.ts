/**
 * {@link watchConnection}: listens to a fresh amqplib connection from birth — its `'close'` (the
 * end of the connection, with the error that caused it), `'error'`, `'blocked'`/`'unblocked'` —
 * and watches its socket for a broker gone silent ({@link watchSilence}), failing the socket when
 * it is, so that amqplib closes the connection.
 * @module
 */
import type { ChannelModel } from 'amqplib';
import { ConnectionError } from '../../src/internal/index.js';
import { destroySocket, negotiatedHeartbeat, socketOf } from './dial.js';
import { watchSilence } from './silence-watch.js';

/**
 * What happens to a connection, as {@link watchConnection} reports it.
 *
 * @example
 * ```ts
 * const events: ConnectionEvents = { error: console.error, blocked() {}, unblocked() {} };
 * ```
 */
export interface ConnectionEvents {
  error(err: Error): void;
  blocked(reason: string): void;
  unblocked(): void;
}

/**
 * A watched connection: `closed` resolves (with the error, if any) when it ends; `done` is true
 * from then on.
 *
 * @example
 * ```ts
 * const watch = watchConnection(model, events);
 * const error = await watch.closed;
 * ```
 */
export interface ConnectionWatch {
  readonly closed: Promise<Error | undefined>;
  readonly done: boolean;
}

/**
 * Attaches the listeners no error event of the driver may go without, and the silence watch.
 *
 * @example
 * ```ts
 * const watch = watchConnection(await dial(url, opts), { error: report, blocked() {}, unblocked() {} });
 * ```
 */
export function watchConnection(model: ChannelModel, events: ConnectionEvents): ConnectionWatch {
  const socket = socketOf(model);
  const heartbeat = negotiatedHeartbeat(model);
  const stopWatch = socket
    ? watchSilence(socket, heartbeat, (ms) =>
        destroySocket(
          model,
          new ConnectionError(
            `The broker sent nothing for ${ms} ms (heartbeat ${heartbeat} ms): connection taken for dead`,
          ),
        ),
      )
    : () => undefined;
  let done = false;
  const closed = new Promise<Error | undefined>((resolve) => {
    model.on('close', (err?: Error) => {
      stopWatch();
      done = true;
      resolve(err);
    });
  });
  model.on('error', (err: Error) => events.error(err));
  model.on('blocked', (reason: string) => events.blocked(reason));
  model.on('unblocked', () => events.unblocked());
  return {
    closed,
    get done() {
      return done;
    },
  };
}
