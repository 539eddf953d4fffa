/**
 * Internal: how a {@link Pool} speaks — its events (a throwing listener never breaks the pool's
 * bookkeeping; `'error'` only when someone listens) and the errors it rejects with, whose messages
 * carry the pool's state (`Pool "pg" acquire timed out after 50 ms (10 borrowed, 3 waiting)`).
 * @module
 */
import type { EventEmitter } from 'node:events';
import { PoolClosedError, TimeoutError } from '../errors.js';
import type { PoolEvents } from '../pool-options.js';
import type { PoolState } from './pool-telemetry.js';

/**
 * A pool's events and errors, and its count of acquire timeouts.
 *
 * @example
 * ```ts
 * const voice = new PoolVoice(pool, state);
 * return Promise.reject(voice.timeoutError(5000, undefined));
 * ```
 */
export class PoolVoice<T> {
  readonly #emitter: EventEmitter;
  readonly #state: PoolState;
  /** Acquires that timed out (`stats().timeouts`). */
  timeouts = 0;

  constructor(emitter: EventEmitter<PoolEvents<T>>, state: PoolState) {
    this.#emitter = emitter;
    this.#state = state;
  }

  /** Counts an acquire timeout and emits `acquireTimeout`; `queued` 1 when the caller just left the queue. */
  timeoutError(ms: number, cause: unknown, queued = 0): TimeoutError {
    this.timeouts++;
    const s = this.#state;
    const err = new TimeoutError(
      `Pool "${s.name}" acquire timed out after ${ms} ms (${s.borrowed()} borrowed, ${s.waiting() + queued} waiting)`,
      cause === undefined ? undefined : { cause },
    );
    this.emit('acquireTimeout', err);
    return err;
  }

  closedError(): PoolClosedError {
    return new PoolClosedError(`Pool "${this.#state.name}" is closed`);
  }

  /** A background failure: the `'error'` event, only when someone listens (never an unheard one). */
  report(err: unknown): void {
    if (this.#emitter.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Emits `event`; a throwing listener becomes a process warning, not a broken pool. */
  emit<K extends keyof PoolEvents<T>>(event: K, ...args: PoolEvents<T>[K]): void {
    try {
      this.#emitter.emit(event, ...args);
    } catch (err) {
      process.emitWarning(`Pool "${this.#state.name}" '${String(event)}' listener threw: ${String(err)}`);
    }
  }
}
