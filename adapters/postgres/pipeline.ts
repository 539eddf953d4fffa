/**
 * `PipelineGroup`: a few shared connections in `pg` pipeline mode. Standalone queries are written
 * to the least loaded one without waiting for the previous answer, which removes a round trip per
 * query. Only statements that neither hold nor change session state, and that carry no signal or
 * per-call timeout, come here (see `Database.query`): cancelling one pipelined statement with a
 * CancelRequest could hit its neighbour, so abortable queries use dedicated connections instead.
 * @module
 */
import type pg from 'pg';
import {
  Backoff,
  ConnectionError,
  Deadline,
  logDebug,
  now,
  PoolClosedError,
  reportBackground,
  Scope,
  startTimer,
  TimeoutError,
} from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { type ConnectSettings, PgConnection } from './connection.js';
import { DatabaseError } from './errors.js';
import { MAX_STATEMENT_TIMEOUT } from './options.js';
import type { QueryInput } from './query-input.js';
import { statementFailure, submit } from './statement.js';

/** Milliseconds past `queryTimeout` after which a pipelined connection that answers nothing is destroyed. */
const WATCHDOG_GRACE = 5_000;
/** Milliseconds past a caller's deadline after which it stops waiting for a pipelined answer. */
const CALLER_MARGIN = 1_000;

/**
 * Shared pipelined connections, each replaced when it dies.
 *
 * @example
 * ```ts
 * const group = new PipelineGroup(2, settings, 5_000);
 * const res = await group.run({ text: 'select $1::int', values: [1] }, NO_LIMITS);
 * await group.close();
 * ```
 */
export class PipelineGroup {
  readonly #settings: ConnectSettings;
  readonly #slots: (PgConnection | undefined)[];
  readonly #connecting: (Promise<PgConnection> | undefined)[];
  readonly #queryTimeout: number;
  readonly #backoff = new Backoff({ initialDelay: 100, maxDelay: 5_000 });
  #closed = false;
  #retryAt = 0;
  #lastError: unknown = undefined;
  #spread = 0;

  /**
   * `queryTimeout` (ms) is enforced by the server: a CancelRequest on a shared connection could hit
   * a neighbour, so the connections' `statement_timeout` is set to it (time spent queued behind other
   * statements is not counted).
   */
  constructor(size: number, settings: ConnectSettings, queryTimeout = Infinity) {
    this.#queryTimeout = queryTimeout;
    this.#slots = new Array<PgConnection | undefined>(size).fill(undefined);
    this.#connecting = new Array<Promise<PgConnection> | undefined>(size).fill(undefined);
    const config: pg.ClientConfig = { ...settings.config, pipeline: true };
    if (queryTimeout !== Infinity) {
      const st = Math.min(queryTimeout, Number(config.statement_timeout ?? Infinity));
      config.statement_timeout = Math.min(Math.max(1, Math.ceil(st)), MAX_STATEMENT_TIMEOUT);
    }
    this.#settings = { ...settings, config, onBroken: (conn) => this.#evict(conn) };
  }

  /** Live connections and the queries in flight on them. */
  stats(): { connections: number; inFlight: number } {
    let connections = 0;
    let inFlight = 0;
    for (const c of this.#slots) {
      if (c && !c.broken) {
        connections++;
        inFlight += c.inFlight;
      }
    }
    return { connections, inFlight };
  }

  /**
   * Runs `input` on the least loaded healthy connection (connecting one if none is up). Same
   * signature as `ConnectionPool.run`. A pipelined statement is never cancelled (that could hit a
   * neighbour): a signal or a deadline only stop the caller's wait — the deadline `CALLER_MARGIN` ms
   * late, so the server's `statement_timeout` answers first when it can — and a late answer is dropped.
   */
  run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult> {
    const conn = this.#pick();
    const p =
      conn !== undefined
        ? this.#send(conn, input)
        : this.#waitForConnection().then((c) => this.#send(c, input));
    return limits.signal === undefined && limits.deadline.infinite ? p : this.#bounded(p, limits);
  }

  /** Ends every connection once its in-flight queries are answered. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const conns = this.#slots.filter((c): c is PgConnection => c !== undefined);
    this.#slots.fill(undefined);
    const pending = this.#connecting.filter((p): p is Promise<PgConnection> => p !== undefined);
    await Promise.all([
      ...conns.map((c) => c.close()),
      ...pending.map((p) =>
        p.then(
          (c) => c.close(),
          () => undefined,
        ),
      ),
    ]);
  }

  async #bounded(p: Promise<pg.QueryResult>, limits: CallLimits): Promise<pg.QueryResult> {
    const deadline = limits.deadline;
    using scope = new Scope({
      signal: limits.signal,
      deadline: deadline.infinite ? deadline : Deadline.after(deadline.remaining() + CALLER_MARGIN),
    });
    try {
      return await scope.race(p);
    } catch (err) {
      if (!(scope.aborted && err === scope.reason && err instanceof TimeoutError)) throw err;
      // Made here, after the await, so the stack leads to the caller rather than to a timer.
      throw new TimeoutError(
        `Query timed out after ${deadline.ms} ms (queryTimeout): no answer from PostgreSQL at ${this.#settings.target} on a pipelined connection`,
      );
    }
  }

  async #send(conn: PgConnection, input: QueryInput): Promise<pg.QueryResult> {
    conn.inFlight++;
    // The server ends a statement at statement_timeout; no answer well after that means a silently
    // dead peer: destroy the socket so every query in flight on it fails instead of hanging.
    const stopWatchdog =
      this.#queryTimeout === Infinity
        ? undefined
        : startTimer(this.#queryTimeout + WATCHDOG_GRACE, () => this.#kill(conn));
    try {
      // Straight to the client, not through conn.run(): a pipelined connection is never cancelled, so
      // there is nothing to wait for, and the hot path keeps one async frame.
      return await submit(conn.client, input);
    } catch (err) {
      // Mapped here, after the await, so the error's stack leads back to the caller.
      const mapped = statementFailure(conn, err);
      if (conn.broken !== undefined) this.#evict(conn);
      if (
        this.#queryTimeout !== Infinity &&
        mapped instanceof DatabaseError &&
        mapped.code === '57014' &&
        mapped.message.includes('statement timeout')
      ) {
        throw new TimeoutError(
          `Query timed out after ${this.#queryTimeout} ms (queryTimeout, enforced by the server on a pipelined connection)`,
          { cause: mapped },
        );
      }
      throw mapped;
    } finally {
      stopWatchdog?.();
      conn.inFlight--;
    }
  }

  #pick(): PgConnection | undefined {
    const n = this.#slots.length;
    let best: PgConnection | undefined;
    // Ties go to the first connection, not round-robin: under light load one backend stays warm
    // (alternating between backends cost ~10 % at one caller), and under load the least loaded wins.
    for (let i = 0; i < n; i++) {
      const c = this.#slots[i];
      if (c === undefined || c.broken) {
        this.#fill(i);
        continue;
      }
      if (best === undefined || c.inFlight < best.inFlight) best = c;
    }
    return best;
  }

  #fill(i: number): void {
    if (this.#closed || this.#connecting[i] !== undefined) return;
    // After failed connects, back off instead of opening a connection per query during an outage.
    if (now() < this.#retryAt) return;
    const p = PgConnection.open(this.#settings);
    this.#connecting[i] = p;
    p.then(
      (conn) => {
        this.#connecting[i] = undefined;
        this.#backoff.reset();
        if (this.#closed) void conn.close();
        else this.#slots[i] = conn;
      },
      (err: unknown) => {
        this.#connecting[i] = undefined;
        this.#lastError = err;
        this.#retryAt = now() + this.#backoff.next();
        reportBackground(
          { logger: this.#settings.logger },
          'connkit/postgres: pipelined connection failed',
          err,
          {
            target: this.#settings.target,
          },
        );
      },
    );
  }

  async #waitForConnection(): Promise<PgConnection> {
    if (this.#closed) throw new PoolClosedError('Database is closed');
    const pending = this.#connecting.filter((p): p is Promise<PgConnection> => p !== undefined);
    if (pending.length === 0) {
      // Backing off after failed connects: fail fast with the reason rather than queue unboundedly.
      throw (
        this.#lastError ??
        new ConnectionError(`No pipelined connection to PostgreSQL at ${this.#settings.target}`)
      );
    }
    // Spread the callers over the connections being opened (cold start), instead of piling them
    // all onto whichever comes up first; if that one fails, any other will do.
    const mine = pending[this.#spread++ % pending.length];
    let conn: PgConnection;
    try {
      conn = await mine!;
    } catch (err) {
      conn = await Promise.any(pending).catch(() => {
        throw err;
      });
    }
    if (this.#closed) throw new PoolClosedError('Database is closed');
    return conn;
  }

  #kill(conn: PgConnection): void {
    conn.destroy(
      new ConnectionError(`No answer from PostgreSQL at ${this.#settings.target} on a pipelined connection`),
    );
    this.#evict(conn);
  }

  #evict(conn: PgConnection): void {
    const i = this.#slots.indexOf(conn);
    if (i !== -1) {
      this.#slots[i] = undefined;
      logDebug(this.#settings.logger, 'connkit/postgres: pipelined connection lost; it will be replaced', {
        target: this.#settings.target,
        pid: conn.processID,
        err: conn.broken,
      });
    }
    void conn.close();
  }
}
