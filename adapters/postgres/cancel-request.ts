/**
 * The two ways to interrupt a backend: the protocol's CancelRequest, the way libpq's `PQcancel`
 * sends it (16 bytes — length, code, the backend's pid and secret key — on a fresh socket to the
 * server), and `pg_cancel_backend(pid)` over a fresh connection ({@link cancelBackend}). Leaves:
 * `PgConnection.cancel()` decides when to send which and what to do if they fail.
 * @module
 */
import net from 'node:net';
import type pg from 'pg';
import { Deadline, logDebug, type Logger, startTimer } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { backendKey } from './pg-internals.js';
import type { QueryInput } from './query-input.js';

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

/**
 * Where cancels are logged (debug): the logger, and the `host:port/database` they went to.
 *
 * @example
 * ```ts
 * const log: CancelLog = { logger: settings.logger, target: conn.endpoint.target };
 * ```
 */
export interface CancelLog {
  logger: Logger | undefined;
  target: string;
}

/**
 * A CancelRequest for whatever `client`'s backend runs now, on the host and port the client reached;
 * resolves true once the server has taken it, false when it could not be sent within `timeout` ms.
 * Never rejects.
 *
 * @example
 * ```ts
 * if (!(await requestCancel(conn.client, 5_000, log))) await cancelBackendOf(…);
 * ```
 */
export async function requestCancel(client: pg.Client, timeout: number, log: CancelLog): Promise<boolean> {
  const key = backendKey(client);
  if (key === undefined) return false;
  try {
    await sendCancelRequest({ host: client.host, port: client.port, ...key }, timeout);
  } catch {
    return false;
  }
  logDebug(log.logger, 'connkit/postgres: cancel sent (CancelRequest)', {
    target: log.target,
    pid: key.processID,
  });
  return true;
}

/**
 * {@link cancelBackend} for `client`'s backend, over a side connection `open` makes — to the same
 * host: another host of a multi-host URL has other backends under the same pids — within
 * `timeout` ms. Resolves once it was answered (true) or could not be sent (false); never rejects.
 *
 * @example
 * ```ts
 * await cancelBackendOf(conn.client, (limits) => PgConnection.open(sameHost, limits), 5_000, log);
 * ```
 */
export async function cancelBackendOf(
  client: pg.Client,
  open: (limits: CallLimits) => Promise<SideConnection>,
  timeout: number,
  log: CancelLog,
): Promise<boolean> {
  const key = backendKey(client);
  if (key === undefined) return false;
  const limits = { signal: undefined, deadline: Deadline.after(timeout) };
  if (!(await cancelBackend(open, key.processID, limits))) return false;
  logDebug(log.logger, 'connkit/postgres: cancel sent (pg_cancel_backend)', {
    target: log.target,
    pid: key.processID,
  });
  return true;
}

/**
 * What {@link cancelBackend} needs from the fresh connection it opens (a `PgConnection`).
 *
 * @example
 * ```ts
 * const side: SideConnection = await PgConnection.open(settings, limits);
 * ```
 */
export interface SideConnection {
  readonly processID: number | undefined;
  run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult>;
  close(): Promise<void>;
}

/**
 * `select pg_cancel_backend(pid)` over a connection `open` makes (to the same host), closed after.
 * Resolves true when the statement was sent, false when that failed; never rejects.
 *
 * Behind a pooler (PgBouncer) the pid a client is told in BackendKeyData is the pooler's own random
 * key, not a backend's: cancelling that pid could hit someone else's statement. The side connection
 * tells: a pooler gives it a key whose pid is not its own backend's either, and then nothing is cancelled.
 *
 * @example
 * ```ts
 * await cancelBackend((limits) => PgConnection.open(settings, limits), pid, { signal: undefined, deadline });
 * ```
 */
export async function cancelBackend(
  open: (limits: CallLimits) => Promise<SideConnection>,
  pid: number,
  limits: CallLimits,
): Promise<boolean> {
  try {
    const side = await open(limits);
    try {
      const text = 'select pg_cancel_backend($1) where pg_backend_pid() = $2';
      await side.run({ text, values: [pid, side.processID ?? -1] }, limits);
      return true;
    } finally {
      await side.close();
    }
  } catch {
    return false;
  }
}
