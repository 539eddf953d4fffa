/**
 * How the standalone streaming modules (cursor streaming, COPY) borrow a connection: the caller
 * (normally `Database`) passes an {@link AcquireClient} function that hands out a dedicated,
 * non-pipelined `pg.Client` and takes it back.
 * @module
 */
import type { Socket } from 'node:net';
import type pg from 'pg';

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
 * Lends a dedicated connection; must reject with `signal.reason` when `signal` aborts while waiting.
 *
 * @example
 * ```ts
 * const acquire: AcquireClient = async (signal) => {
 *   const lease = await pool.acquire({ signal });
 *   return { client: lease.resource, release: (err) => (err === undefined ? lease.release() : lease.destroy()) };
 * };
 * ```
 */
export type AcquireClient = (signal: AbortSignal | undefined) => Promise<ClientLease>;

/**
 * Internal: settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. The
 * listener is removed either way, so a long-lived signal collects nothing.
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
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
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
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
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
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      socketOf(client)?.destroy();
      resolve();
    }, ms);
  });
  await Promise.race([client.end().catch(() => undefined), late]);
  clearTimeout(timer);
}
