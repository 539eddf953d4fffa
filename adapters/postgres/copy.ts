/**
 * Bulk transfer with COPY (`pg-copy-streams`): {@link copyFrom} loads a stream of bytes into a
 * table, {@link copyTo} reads one out as an async iterable of byte chunks.
 * @module
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFromStream, to as copyToStream } from 'pg-copy-streams';
import {
  checkDuration,
  checkSignal,
  Deadline,
  describeValue,
  InvalidStateError,
  type WaitOptions,
} from '../../src/internal/index.js';
import { type CallLimits, callScope, readCallLimits, refusedAtOnce } from './call-limits.js';
import type { ConnectionLease, LendConnection } from './connection-lease.js';
import { settleWithin } from './settle-within.js';
import { isConnectionError, toDatabaseError } from './errors.js';
import type { QueryLike } from './query-input.js';

/**
 * Options of {@link copyFrom} and `db.copyFrom()`.
 *
 * @example
 * ```ts
 * await db.copyFrom('copy t from stdin', rows(), { timeout: 60_000, signal });
 * ```
 */
export interface CopyFromOptions extends WaitOptions {
  /**
   * Milliseconds for the whole load (waiting for a connection included); on expiry the COPY is
   * rolled back and the call rejects with `TimeoutError`. `0` always rejects (a COPY always waits
   * for the server), before a connection is taken. @default Infinity
   */
  timeout?: number | undefined;
}

/**
 * Options of {@link copyTo} and `db.copyTo()`.
 *
 * @example
 * ```ts
 * db.copyTo('copy t to stdout', { signal, timeout: 30_000 });
 * ```
 */
export interface CopyToOptions extends WaitOptions {
  /**
   * Milliseconds the whole transfer may take, from the first `next()` (waiting for a connection
   * included); on expiry the COPY is cancelled and the next step rejects with `TimeoutError`. `0`
   * always rejects, before a connection is taken. @default Infinity
   */
  timeout?: number | undefined;
}

/**
 * What {@link copyFrom} reads: byte or text chunks (not necessarily row-aligned), or a Readable.
 *
 * @example
 * ```ts
 * const source: CopySource = fs.createReadStream('users.csv');
 * ```
 */
export type CopySource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array> | Readable;

/** How long stopping a COPY TO early (cancel + drain) may take before the connection is destroyed. */
const CLEANUP_MS = 5_000;

function readCopySql(query: unknown, fn: string): string {
  if (typeof query === 'string') return query;
  const q = query as Partial<QueryLike> | null;
  if (q !== null && typeof q === 'object' && typeof q.text === 'string' && Array.isArray(q.values)) {
    // COPY cannot take bind parameters; sql fragments such as sql.id() are fine.
    if (q.values.length > 0)
      throw new TypeError(`${fn}: COPY takes no parameters, got values ${describeValue(q.values)}`);
    return q.text;
  }
  throw new TypeError(`${fn}: copySql must be a string or a SqlQuery, got ${describeValue(query)}`);
}

function checkPipelined(lease: ConnectionLease, fn: string): void {
  if (lease.conn.client.pipeline) {
    throw new InvalidStateError(`${fn} needs a dedicated, non-pipelined connection`);
  }
}

/** Releases healthy unless `err` says the connection itself is gone. */
function releaseAfter(lease: ConnectionLease, err: unknown): void {
  if (err !== undefined && isConnectionError(err)) lease.release(err);
  else lease.release();
}

/**
 * Runs `COPY … FROM STDIN` and feeds it `source`; resolves with the number of rows copied.
 * The data is committed when this resolves (or with the surrounding transaction).
 *
 * On abort, timeout or a failing source, the COPY is stopped with CopyFail: the server rolls it back
 * (nothing is loaded) and the connection is left healthy and released for reuse; only a connection
 * error destroys it. A `Readable` source is destroyed on failure. An abort that lands after the last
 * byte was sent may still commit. Rejects with `signal.reason`, `TimeoutError`, `DatabaseError`
 * (bad data, missing table) or the source's error.
 *
 * @example
 * ```ts
 * async function* rows() { for (const u of users) yield `${u.id}\t${u.name}\n`; }
 * const n = await copyFrom(lend, sql`copy ${sql.id('users')} (id, name) from stdin`, rows());
 * ```
 */
export function copyFrom(
  lend: LendConnection,
  copySql: string | QueryLike,
  source: CopySource,
  opts?: CopyFromOptions,
): Promise<number> {
  const text = readCopySql(copySql, 'copyFrom()');
  if (source === null || typeof source !== 'object' || !isSource(source)) {
    throw new TypeError(
      `copyFrom(): source must be an (async) iterable or a Readable, got ${describeValue(source)}`,
    );
  }
  const limits = readCallLimits(opts, Infinity, 'copyFrom()');
  if (limits instanceof Promise) return limits;
  return load(lend, text, source, limits);
}

async function load(
  lend: LendConnection,
  text: string,
  source: CopySource,
  limits: CallLimits,
): Promise<number> {
  using scope = callScope(limits, 'copyFrom()');
  try {
    const lease = await lend(scope.signal, scope.deadline);
    let failure: unknown;
    try {
      checkPipelined(lease, 'copyFrom()');
      const stream = lease.conn.start(copyFromStream(text));
      await pipeline(source, stream, { signal: scope.signal });
      return stream.rowCount;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      releaseAfter(lease, failure);
    }
  } catch (err) {
    throw scope.aborted ? scope.reason : toDatabaseError(err);
  }
}

function isSource(value: object): boolean {
  return (
    Symbol.asyncIterator in value ||
    Symbol.iterator in value ||
    typeof (value as Readable).pipe === 'function'
  );
}

/**
 * Runs `COPY … TO STDOUT` and yields the output as byte chunks (several rows per chunk, not
 * row-aligned). Lazy: the connection is acquired when iteration starts and released when it ends.
 * Breaking out early, aborting or timing out stops the transfer: the COPY is cancelled on the server
 * and the rest of its output drained, so the connection is reused; if that does not finish in time
 * the connection is destroyed (the COPY owns the socket until it ends; the server stops when the
 * socket closes). An SQL error rejects with `DatabaseError` and keeps the connection.
 *
 * @example
 * ```ts
 * for await (const chunk of copyTo(lend, 'copy (select * from orders) to stdout with (format csv)')) {
 *   file.write(chunk);
 * }
 * ```
 */
export function copyTo(
  lend: LendConnection,
  copySql: string | QueryLike,
  opts?: CopyToOptions,
): AsyncIterable<Uint8Array> {
  const text = readCopySql(copySql, 'copyTo()');
  const signal = checkSignal(opts?.signal);
  const timeout = checkDuration(opts?.timeout, 'timeout', Infinity);
  return { [Symbol.asyncIterator]: () => iterateCopyTo(lend, text, signal, timeout) };
}

async function* iterateCopyTo(
  lend: LendConnection,
  text: string,
  signal: AbortSignal | undefined,
  timeout: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (timeout === 0) throw refusedAtOnce('copyTo()');
  signal?.throwIfAborted();
  using scope = callScope({ signal, deadline: Deadline.after(timeout) }, 'copyTo()');
  const lease = await lend(signal, scope.deadline);
  let outcome = 'stopped' as 'complete' | 'failed' | 'stopped';
  let failure: unknown;
  try {
    checkPipelined(lease, 'copyTo()');
    const stream = lease.conn.start(copyToStream(text));
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      for (;;) {
        if (scope.aborted) throw scope.reason;
        let step: IteratorResult<Buffer>;
        try {
          step = await scope.race(chunks.next());
        } catch (err) {
          if (!(scope.aborted && err === scope.reason)) {
            outcome = 'failed';
            failure = err;
            throw toDatabaseError(err);
          }
          throw err;
        }
        if (step.done) break;
        yield step.value;
        if (scope.aborted) throw scope.reason;
      }
      outcome = 'complete';
    } finally {
      if (outcome === 'stopped') {
        if (await cancelAndDrain(chunks, lease)) outcome = 'complete';
        else stream.destroy();
      }
    }
  } finally {
    if (outcome === 'complete') lease.release();
    else if (outcome === 'failed') releaseAfter(lease, failure);
    // Stopped mid-transfer and not drained: pg-copy-streams still holds the socket, so the connection
    // cannot be reused.
    else lease.release(scope.aborted ? scope.reason : new Error('COPY TO stopped before its end'));
  }
}

/**
 * Stops a COPY TO early without losing the connection: cancel the statement on the server while
 * reading (and dropping) what is still in flight, until the server's error or the end hands the
 * socket back to `pg`. True when the connection is healthy again.
 */
async function cancelAndDrain(chunks: AsyncIterator<Buffer>, lease: ConnectionLease): Promise<boolean> {
  // Drain first: the COPY owns the socket, so the server's answer to the cancel is only read by us.
  const drained = (async () => {
    while (!(await chunks.next()).done);
  })().then(
    () => 'ended' as const,
    (err: unknown) => (isConnectionError(err) ? ('dead' as const) : ('cancelled' as const)),
  );
  const ok = await settleWithin(Promise.all([drained, lease.conn.cancel()]), CLEANUP_MS);
  return ok && (await drained) !== 'dead';
}
