/**
 * How the standalone streaming modules (cursor streaming, COPY) borrow a connection: the caller
 * (normally `Database`) passes an {@link AcquireClient} function that hands out a dedicated,
 * non-pipelined `pg.Client` and takes it back.
 * @module
 */
import type { Socket } from 'node:net';
import type pg from 'pg';
import { type Deadline, delay, startTimer, unwatchAbort, watchAbort } from '../../src/internal/index.js';

/**
 * A dedicated connection lent to one stream.
 *
 * @example
 * ```ts
 * const lease: ClientLease = { client, release: (err) => (err === undefined ? pool.put(client) : client.end()) };
 * ```
 */
export interface ClientLease {
  /** A connected, non-pipelined client that runs nothing else while leased. */
  readonly client: pg.Client;
  /**
   * Gives the connection back. Called exactly once. With an argument, the connection may be in an
   * unknown protocol state (an abort mid-statement, a socket error): destroy it, don't reuse it.
   */
  release(err?: unknown): void;
  /**
   * Optional: cancels the statement the backend runs right now (protocol CancelRequest). When given,
   * an abort while the server is working cancels the statement and keeps the connection healthy;
   * without it such an abort destroys the connection instead.
   */
  cancel?(): Promise<unknown>;
}

/**
 * Lends a dedicated connection; must reject with `signal.reason` when `signal` aborts while waiting,
 * and should give up waiting at `deadline`.
 *
 * @example
 * ```ts
 * const acquire: AcquireClient = async (signal) => {
 *   const lease = await pool.acquire({ signal });
 *   return { client: lease.resource, release: (err) => (err === undefined ? lease.release() : lease.destroy()) };
 * };
 * ```
 */
export type AcquireClient = (signal: AbortSignal | undefined, deadline?: Deadline) => Promise<ClientLease>;

/**
 * Internal: settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. The
 * signal is watched through the kit's one shared listener per signal, so many concurrent waits on
 * one signal add one listener, and none is left behind.
 *
 * @example
 * ```ts
 * const rows = await untilAborted(cursor.read(100), signal);
 * ```
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    // Nobody will await `promise` any more: its later rejection must not go unhandled.
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const watcher = { giveUp: reject };
    watchAbort(signal, watcher);
    promise.then(
      (value) => {
        unwatchAbort(signal, watcher);
        resolve(value);
      },
      (err: unknown) => {
        unwatchAbort(signal, watcher);
        reject(err);
      },
    );
  });
}

/**
 * Internal: resolves `true` once `promise` settles (either way), or `false` after `ms` (timer
 * unref'd). Never rejects.
 *
 * @example
 * ```ts
 * if (!(await settleWithin(cursor.close(), 5_000))) lease.release(new Error('close hung'));
 * ```
 */
export function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const stop = startTimer(ms, () => resolve(false), true);
    const settled = (): void => {
      stop();
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

/**
 * Internal: the socket under a `pg.Client` (to pause it for backpressure or destroy it).
 *
 * @example
 * ```ts
 * socketOf(client)?.pause();
 * ```
 */
export function socketOf(client: pg.Client): Socket | undefined {
  return (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
}

/**
 * Internal: ends a client gracefully, destroying its socket if the peer does not answer within
 * `ms`. Never rejects.
 *
 * @example
 * ```ts
 * await endClient(client); // LISTEN connection of a closed Subscription
 * ```
 */
export async function endClient(client: pg.Client, ms = 5_000): Promise<void> {
  client.on('error', () => undefined);
  const ended = await Promise.race([
    client.end().then(
      () => true,
      () => true,
    ),
    delay(ms).then(() => false),
  ]);
  if (!ended) socketOf(client)?.destroy();
}
