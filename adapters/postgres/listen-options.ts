/**
 * The types of {@link Subscription}: what `listen()` takes and what it yields.
 * @module
 */
import type { BackoffOptions } from '../../src/internal/index.js';
import type { PgConnection } from './connection.js';

/**
 * One NOTIFY as received.
 *
 * @example
 * ```ts
 * for await (const { channel, payload, processId } of sub) console.log(channel, payload, processId);
 * ```
 */
export interface Notification {
  channel: string;
  /** The payload, `''` when none was sent. */
  payload: string;
  /** Backend pid of the session that sent the notification. */
  processId: number;
}

/**
 * Opens a fresh, dedicated (non-pooled, non-pipelined) connection; honours `signal`.
 *
 * @example
 * ```ts
 * const connect: ListenConnect = (signal) => PgConnection.open(settings, { signal, deadline: Deadline.NEVER });
 * ```
 */
export type ListenConnect = (signal: AbortSignal) => Promise<PgConnection>;

/**
 * Options of `db.listen()`.
 *
 * @example
 * ```ts
 * await db.listen('jobs', { signal, maxBuffered: 10_000, heartbeat: 10_000, onReconnect: () => poll() });
 * ```
 */
export interface ListenOptions {
  /** Aborting it closes the subscription; a pending or later `next()` rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /**
   * Notifications held for a slow consumer. When reached, the socket is paused so the server keeps
   * the rest in its own queue (backpressure, nothing dropped); reading resumes at half. One socket
   * read may overshoot the bound by what it carried. @default 1000
   */
  maxBuffered?: number | undefined;
  /** Backoff between reconnect attempts (ms). @default { initialDelay: 100, maxDelay: 10_000, jitter: 'equal' } */
  reconnect?: BackoffOptions | undefined;
  /**
   * Milliseconds between liveness checks (`select 1`) of the LISTEN connection. A check left
   * unanswered for as long counts as a lost connection (a silently dead peer, a dropped NAT entry):
   * the socket is destroyed and the subscription reconnects. Skipped while paused for backpressure.
   * `0` disables. @default 30_000
   */
  heartbeat?: number | undefined;
  /**
   * Called once LISTEN is active again after a reconnect. Notifications sent while disconnected are
   * lost (PostgreSQL does not keep them for a gone session): re-check state here. @default undefined
   */
  onReconnect?: (() => void) | undefined;
  /** Told about each connection loss and failed reconnect attempt (for logs). @default undefined */
  onError?: ((err: unknown) => void) | undefined;
}
