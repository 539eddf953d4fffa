/**
 * How the standalone streaming modules (cursor streaming, COPY) borrow a connection: the caller
 * (normally `Database`) passes an {@link AcquireClient} function that hands out a dedicated,
 * non-pipelined `pg.Client` and takes it back.
 * @module
 */
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
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
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

/** Internal: resolves after `ms` (unref'd), or with `promise` if it settles first; never rejects. */
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
