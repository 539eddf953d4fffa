/**
 * The protocol's CancelRequest, the way libpq's `PQcancel` sends it: 16 bytes (length, code, the
 * backend's pid and secret key) on a fresh socket to the server. A protocol leaf: it knows nothing
 * of connections; `PgConnection.cancel()` decides when to send one and what to do if it fails.
 * @module
 */
import net from 'node:net';
import { startTimer } from '../../src/internal/index.js';

/** Protocol code of CancelRequest: 1234 << 16 | 5678. */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * How to reach the server and which backend to interrupt.
 *
 * @example
 * ```ts
 * await sendCancelRequest({ host: '127.0.0.1', port: 5432, processID: 4242, secretKey: 99 });
 * ```
 */
export interface CancelTarget {
  /** `client.host`/`client.port` of the connection whose statement is cancelled (a path for a Unix socket). */
  host: string;
  port: number;
  processID: number;
  secretKey: number;
}

/**
 * Sends a CancelRequest and resolves once the server closed the socket (it answers nothing).
 * Rejects on socket errors or after `timeout` ms.
 *
 * @example
 * ```ts
 * await sendCancelRequest({ host: client.host, port: client.port, processID, secretKey });
 * ```
 */
export function sendCancelRequest(target: CancelTarget, timeout = 5_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const packet = Buffer.allocUnsafe(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    packet.writeInt32BE(target.processID, 8);
    packet.writeInt32BE(target.secretKey, 12);
    const socket = target.host.startsWith('/')
      ? net.connect(`${target.host}/.s.PGSQL.${target.port}`)
      : net.connect(target.port, target.host);
    const stop = startTimer(timeout, () =>
      socket.destroy(new Error(`CancelRequest timed out after ${timeout} ms`)),
    );
    // Write without our own FIN and wait for the server to close: the postmaster closes only after it
    // has signalled the backend. Half-closing first lets a proxy that mirrors FINs report the cancel
    // done before it was delivered, and a late cancel then hits the connection's next statement.
    socket.once('connect', () => socket.write(packet));
    socket.once('end', () => socket.end());
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      stop();
      if (!hadError) resolve();
    });
    socket.resume();
  });
}
