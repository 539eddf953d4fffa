/**
 * Row streaming over a server-side cursor (`pg-cursor`): constant memory for any result size.
 * @module
 */
import Cursor from 'pg-cursor';
import {
  checkDuration,
  checkInteger,
  checkSignal,
  Deadline,
  InvalidStateError,
  Scope,
} from '../../src/internal/index.js';
import { callScope, refusedAtOnce } from './call-limits.js';
import type { ConnectionLease, LendConnection } from './connection-lease.js';
import { settleWithin } from './settle-within.js';
import { isConnectionError, toDatabaseError } from './errors.js';
import { readQuery, type QueryLike } from './query-input.js';

/**
 * Options of {@link streamRows} and `db.stream()`.
 *
 * @example
 * ```ts
 * db.stream('select * from events', [], { batchSize: 1000, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export interface StreamOptions {
  /** Rows fetched per round trip; memory holds at most one batch. @default 100 */
  batchSize?: number | undefined;
  /** Aborting it stops the stream: the next step rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Stream from a healthy read replica (`Database` `replicas`), else from the primary. @default false */
  readOnly?: boolean | undefined;
  /**
   * Milliseconds the whole stream may take, from the first `next()` (waiting for a connection
   * included) to its end; on expiry the running batch is cancelled, the cursor closed and the next
   * step rejects with `TimeoutError`. `0` always rejects (a cursor always waits for the server).
   * @default Infinity
   */
  timeout?: number | undefined;
}

/** How long closing a cursor or cancelling a statement may take before the connection is destroyed. */
const CLEANUP_MS = 5_000;

/**
 * Streams the rows of a query through a server-side cursor, `batchSize` rows per round trip, so
 * memory stays flat whatever the result size. Lazy: nothing happens until iteration starts, then
 * `lend(signal, deadline)` lends a dedicated, non-pipelined connection (portals cannot share a
 * pipelined one) that is held until the stream ends.
 *
 * Cleanup: at the end, on `break`/`return`, on a thrown error and on abort, the cursor is closed
 * and the connection released. An abort or timeout while the server is computing a batch cancels
 * the statement (`PgConnection.cancel()`; the connection stays healthy). An aborted signal makes
 * the next step reject with `signal.reason`, the timeout with `TimeoutError`; SQL errors reject
 * with `DatabaseError`. Bad arguments throw synchronously.
 *
 * Consume it with `for await` (or call `return()`): an iterator that is started and then dropped
 * without finishing, `break` or `return()` keeps its connection, like any unclosed cursor.
 *
 * @example
 * ```ts
 * for await (const row of streamRows<{ id: number }>(lend, 'select id from big', [], { batchSize: 500 })) {
 *   if (row.id > 1000) break; // closes the cursor, releases the connection
 * }
 * ```
 */
export function streamRows<R = Record<string, unknown>>(
  lend: LendConnection,
  query: string | QueryLike,
  values?: readonly unknown[],
  opts?: StreamOptions,
): AsyncIterable<R> {
  const input = readQuery(query, values);
  const batchSize = checkInteger(opts?.batchSize, 'batchSize', 100, 1);
  const signal = checkSignal(opts?.signal);
  const timeout = checkDuration(opts?.timeout, 'timeout', Infinity);
  return {
    [Symbol.asyncIterator]: () =>
      new RowIterator<R>(lend, input.text, input.values, batchSize, signal, timeout),
  };
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The iterator behind {@link streamRows}. Hand-written rather than an async generator: rows of the
 * current batch are handed out with one already-resolved promise each, which is about twice as fast
 * as resuming a generator per row.
 */
class RowIterator<R> implements AsyncIterator<R, undefined> {
  readonly #lend: LendConnection;
  readonly #text: string;
  readonly #values: unknown[] | undefined;
  readonly #batchSize: number;
  readonly #signal: AbortSignal | undefined;
  readonly #timeout: number;
  /** The stream's abort-or-deadline scope, made at the first step (none without signal and timeout). */
  #scope: Scope | undefined;
  readonly #state: CursorState = { broken: undefined, cursorDone: false };
  #lease: ConnectionLease | undefined;
  #cursor: Cursor<R> | undefined;
  #rows: R[] = [];
  #index = 0;
  #done = false;
  /** The slow step (fetch, cleanup) in progress; later calls queue behind it. */
  #busy: Promise<unknown> | undefined;

  constructor(
    lend: LendConnection,
    text: string,
    values: unknown[] | undefined,
    batchSize: number,
    signal: AbortSignal | undefined,
    timeout: number,
  ) {
    this.#lend = lend;
    this.#text = text;
    this.#values = values;
    this.#batchSize = batchSize;
    this.#signal = signal;
    this.#timeout = timeout;
  }

  next(): Promise<IteratorResult<R, undefined>> {
    if (this.#busy === undefined && this.#index < this.#rows.length && !this.#scope?.aborted) {
      return Promise.resolve({ done: false, value: this.#rows[this.#index++] as R });
    }
    return this.#serial(() => this.#fetch());
  }

  return(): Promise<IteratorResult<R, undefined>> {
    return this.#serial(async () => {
      await this.#finish();
      return DONE;
    });
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#busy === undefined ? step() : this.#busy.then(step, step);
    this.#busy = run;
    const clear = (): void => {
      if (this.#busy === run) this.#busy = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  async #fetch(): Promise<IteratorResult<R, undefined>> {
    if (this.#done) return DONE;
    try {
      const scope = this.#scope ?? this.#start();
      // The consumer may have aborted while it held a row, or the deadline passed: stop here.
      if (scope?.aborted) throw scope.reason;
      if (this.#index < this.#rows.length) return { done: false, value: this.#rows[this.#index++] as R };
      const cursor = this.#cursor ?? (await this.#open());
      const rows = await readBatch(cursor, this.#batchSize, scope, this.#lease!, this.#state);
      if (rows.length === 0) {
        this.#state.cursorDone = true;
        await this.#finish();
        return DONE;
      }
      this.#rows = rows;
      this.#index = 1;
      return { done: false, value: rows[0] as R };
    } catch (err) {
      await this.#finish();
      throw err;
    }
  }

  /** The first step: the stream's scope starts now (undefined when it has no signal and no timeout). */
  #start(): Scope | undefined {
    if (this.#timeout === 0) throw refusedAtOnce('stream()');
    if (this.#signal === undefined && this.#timeout === Infinity) return undefined;
    this.#scope = callScope({ signal: this.#signal, deadline: Deadline.after(this.#timeout) }, 'stream()');
    return this.#scope;
  }

  async #open(): Promise<Cursor<R>> {
    const scope = this.#scope;
    this.#lease = await this.#lend(this.#signal, scope?.deadline ?? Deadline.NEVER);
    if (scope?.aborted) throw scope.reason;
    if (this.#lease.conn.client.pipeline) {
      throw new InvalidStateError(
        'stream() needs a dedicated, non-pipelined connection: cursors cannot share one',
      );
    }
    this.#cursor = this.#lease.conn.start(new Cursor<R>(this.#text, this.#values));
    return this.#cursor;
  }

  async #finish(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#rows = [];
    this.#scope?.dispose();
    if (this.#lease !== undefined) await finish(this.#lease, this.#cursor, this.#state);
  }
}

interface CursorState {
  /** Set when the connection must be destroyed rather than reused. */
  broken: unknown;
  /** True when the cursor needs no Close (ended, failed or cancelled). */
  cursorDone: boolean;
}

async function readBatch<R>(
  cursor: Cursor<R>,
  batchSize: number,
  scope: Scope | undefined,
  lease: ConnectionLease,
  state: CursorState,
): Promise<R[]> {
  const read = cursor.read(batchSize);
  try {
    return await (scope === undefined ? read : scope.race(read));
  } catch (err) {
    if (scope?.aborted && err === scope.reason) {
      await stopRead(read, lease, state, err);
      throw err;
    }
    state.cursorDone = true; // pg-cursor already synced after the error
    if (isConnectionError(err)) state.broken = err;
    throw toDatabaseError(err);
  }
}

/**
 * An abort landed while a batch was being computed: cancel the statement, and wait for the read to
 * end — with an error (57014, the cursor synced) or with the rows it already had. The cancel settles
 * once the backend is idle again; the release path waits for it before the connection is reused.
 */
async function stopRead(
  read: Promise<unknown>,
  lease: ConnectionLease,
  state: CursorState,
  reason: unknown,
): Promise<void> {
  void lease.conn.cancel();
  const outcome = read.then(
    () => 'rows' as const,
    (err: unknown) => (isConnectionError(err) ? ('dead' as const) : ('failed' as const)),
  );
  if (!(await settleWithin(outcome, CLEANUP_MS))) {
    state.broken = reason;
    return;
  }
  const result = await outcome;
  if (result === 'dead') state.broken = reason;
  if (result === 'failed') state.cursorDone = true;
}

async function finish<R>(
  lease: ConnectionLease,
  cursor: Cursor<R> | undefined,
  state: CursorState,
): Promise<void> {
  if (state.broken === undefined && cursor !== undefined && !state.cursorDone) {
    // Close the portal (Close + Sync) so the connection goes back idle; a dead peer must not hold us.
    const closing = cursor.close();
    const ok = await settleWithin(closing, CLEANUP_MS);
    const failed = ok
      ? await closing.then(
          () => undefined,
          (err: unknown) => err ?? new Error('close failed'),
        )
      : true;
    if (!ok || failed !== undefined) {
      state.broken = !ok ? new Error(`Closing the cursor took more than ${CLEANUP_MS} ms`) : failed;
    }
  }
  if (state.broken === undefined) lease.release();
  else lease.release(state.broken);
}
