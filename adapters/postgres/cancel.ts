/**
 * Cancels the statement a backend is running, the way libpq's `PQcancel` does: a 16-byte
 * CancelRequest (pid + secret key) on a fresh socket. If that cannot be sent, falls back to
 * `select pg_cancel_backend(pid)` over a fresh connection.
 * @module
 */
import net from 'node:net';
import type pg from 'pg';
import { logDebug } from '../../src/internal/index.js';
import { connect, type ConnectSettings } from './connection.js';

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
  /** `client.host`/`client.port` of the connection whose statement is cancelled. */
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
    socket.setTimeout(timeout, () =>
      socket.destroy(new Error(`CancelRequest timed out after ${timeout} ms`)),
    );
    // Write without our own FIN and wait for the server to close: the postmaster closes only after it
    // has signalled the backend. Half-closing first lets a proxy that mirrors FINs report the cancel
    // done before it was delivered, and a late cancel then hits the connection's next statement.
    socket.once('connect', () => socket.write(packet));
    socket.once('end', () => socket.end());
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (!hadError) resolve();
    });
    socket.resume();
  });
}

/**
 * Cancels whatever `client`'s backend is running right now: CancelRequest first, then
 * `pg_cancel_backend` over a new connection built from `settings`. Never rejects: returns
 * whether a cancel was delivered. NB: the cancel hits the statement running *when it arrives*;
 * callers must only cancel a backend that runs nothing else (a dedicated connection).
 *
 * @example
 * ```ts
 * await cancelBackend(conn.client, settings);
 * ```
 */
export async function cancelBackend(client: pg.Client, settings: ConnectSettings): Promise<boolean> {
  const c = client as unknown as {
    host: string;
    port: number;
    processID: number | null;
    secretKey: number | null;
  };
  if (c.processID === null || c.secretKey === null) return false;
  const details = { target: settings.target, pid: c.processID };
  try {
    await sendCancelRequest({ host: c.host, port: c.port, processID: c.processID, secretKey: c.secretKey });
    logDebug(settings.logger, 'connkit/postgres: cancel sent (CancelRequest)', details);
    return true;
  } catch {
    try {
      const conn = await connect(
        { ...settings, onBroken: undefined },
        AbortSignal.timeout(Math.min(settings.connectTimeout, 30_000)),
      );
      try {
        await conn.client.query('select pg_cancel_backend($1)', [c.processID]);
        logDebug(settings.logger, 'connkit/postgres: cancel sent (pg_cancel_backend)', details);
        return true;
      } finally {
        await conn.close();
      }
    } catch {
      return false;
    }
  }
}
