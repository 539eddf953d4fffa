/**
 * The error hierarchy of connkit. Every error connkit creates extends {@link ConnkitError}
 * and carries a stable string `code`, so callers branch on `err.code` instead of on messages.
 *
 * @example
 * ```ts
 * import { ConnkitError, TimeoutError } from 'connkit';
 * try { await sem.acquire({ timeout: 100 }); }
 * catch (err) { if (err instanceof TimeoutError) console.log(err.code); } // 'TIMEOUT'
 * ```
 * @module
 */

/**
 * Options accepted by every connkit error constructor.
 *
 * @example
 * ```ts
 * throw new ConnkitError('Lost the broker', 'CONNECTION', { cause: socketError });
 * ```
 */
export interface ConnkitErrorOptions {
  /** The underlying error (driver error, socket error…), kept so nothing is swallowed. */
  cause?: unknown;
}

/**
 * Base class of every error connkit creates.
 *
 * @example
 * ```ts
 * if (err instanceof ConnkitError && err.code === 'POOL_CLOSED') return;
 * ```
 */
export class ConnkitError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: string;

  constructor(message: string, code = 'CONNKIT', options?: ConnkitErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * A wait or an operation ran past its deadline. The message carries the state that explains why
 * (how many hold, how many wait).
 *
 * @example
 * ```ts
 * await lock.acquire({ timeout: 50 }).catch((e) => e instanceof TimeoutError); // true when held
 * ```
 */
export class TimeoutError extends ConnkitError {
  constructor(message = 'Operation timed out', options?: ConnkitErrorOptions) {
    super(message, 'TIMEOUT', options);
  }
}

/**
 * A future or task was cancelled before it produced a value.
 *
 * @example
 * ```ts
 * const task = createTask((signal) => sleep(1000, { signal }));
 * task.cancel();
 * await task.catch((e) => e instanceof CancelledError); // true
 * ```
 */
export class CancelledError extends ConnkitError {
  constructor(message = 'Cancelled', options?: ConnkitErrorOptions) {
    super(message, 'CANCELLED', options);
  }
}

/**
 * A call that is not allowed in the object's current state (resolving a done future, releasing an
 * unlocked lock, spawning into a finished task group…).
 *
 * @example
 * ```ts
 * new Lock().release(); // throws InvalidStateError
 * ```
 */
export class InvalidStateError extends ConnkitError {
  constructor(message: string, options?: ConnkitErrorOptions) {
    super(message, 'INVALID_STATE', options);
  }
}

/**
 * A barrier was broken (aborted, reset, or a waiter gave up) while parties were waiting on it.
 *
 * @example
 * ```ts
 * barrier.abort(); await barrier.wait(); // rejects with BrokenBarrierError
 * ```
 */
export class BrokenBarrierError extends ConnkitError {
  constructor(message = 'Barrier is broken', options?: ConnkitErrorOptions) {
    super(message, 'BROKEN_BARRIER', options);
  }
}

/**
 * `Queue.getNowait()` on an empty queue.
 *
 * @example
 * ```ts
 * new Queue().getNowait(); // throws QueueEmptyError
 * ```
 */
export class QueueEmptyError extends ConnkitError {
  constructor(message = 'Queue is empty', options?: ConnkitErrorOptions) {
    super(message, 'QUEUE_EMPTY', options);
  }
}

/**
 * `Queue.putNowait()` on a full queue.
 *
 * @example
 * ```ts
 * const q = new Queue({ maxsize: 1 }); q.putNowait(1); q.putNowait(2); // throws QueueFullError
 * ```
 */
export class QueueFullError extends ConnkitError {
  constructor(message = 'Queue is full', options?: ConnkitErrorOptions) {
    super(message, 'QUEUE_FULL', options);
  }
}

/**
 * A put on a queue that was shut down, or a get on one that is shut down and drained.
 *
 * @example
 * ```ts
 * q.shutdown(); await q.put(1); // rejects with QueueShutDownError
 * ```
 */
export class QueueShutDownError extends ConnkitError {
  constructor(message = 'Queue is shut down', options?: ConnkitErrorOptions) {
    super(message, 'QUEUE_SHUT_DOWN', options);
  }
}

/**
 * Base of every "this resource is closed" error: new work is refused, and work still pending when
 * the resource closed rejects with it. Each resource has its own subclass and code
 * (`<RESOURCE>_CLOSED`: `POOL_CLOSED`, `BROKER_CLOSED` …), so `err instanceof ClosedError` catches
 * them all and `err.code` tells which.
 *
 * @example
 * ```ts
 * await work().catch((e) => { if (!(e instanceof ClosedError)) throw e; }); // shutting down: fine
 * ```
 */
export class ClosedError extends ConnkitError {
  constructor(message = 'Resource is closed', options?: ConnkitErrorOptions, code = 'CLOSED') {
    super(message, code, options);
  }
}

/**
 * The pool was closed: pending and new acquirers reject with this. A closed `Database` (a pool of
 * connections) rejects with it too.
 *
 * @example
 * ```ts
 * await pool.close(); await pool.acquire(); // rejects with PoolClosedError
 * ```
 */
export class PoolClosedError extends ClosedError {
  constructor(message = 'Pool is closed', options?: ConnkitErrorOptions) {
    super(message, options, 'POOL_CLOSED');
  }
}

/**
 * A connection to a service could not be made or was lost. Shared by the PostgreSQL and AMQP
 * adapters; the driver's error is the `cause`. Messages never contain passwords.
 *
 * @example
 * ```ts
 * await db.ping().catch((e) => e instanceof ConnectionError && e.code === 'CONNECTION');
 * ```
 */
export class ConnectionError extends ConnkitError {
  constructor(message: string, options?: ConnkitErrorOptions) {
    super(message, 'CONNECTION', options);
  }
}
