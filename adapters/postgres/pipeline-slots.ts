/**
 * {@link PipelineSlots}: the pipelined connections of a `PipelineGroup` — opened on demand (a second
 * one only once the first is busy), the one to write to picked by load, head age and depth, a broken
 * one replaced, opening retried with backoff during an outage.
 * @module
 */
import {
  Backoff,
  logDebug,
  now,
  PoolClosedError,
  reportBackground,
  Scope,
  TimeoutError,
} from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { type ConnectSettings, PgConnection } from './connection.js';
import { PipelinedConnection, type PipelineWatcher } from './pipelined-connection.js';
import type { StatementCarrier } from './pipelined-statement.js';

/**
 * How the connections are sized and guarded (validated by `resolveDatabaseOptions`).
 *
 * @example
 * ```ts
 * const limits: PipelineLimits = { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true };
 * ```
 */
export interface PipelineLimits {
  connections: number;
  maxDepth: number;
  stallAfter: number;
  /** Run statements with parameters as prepared statements (see `PreparedNames`). */
  prepare: boolean;
}

/**
 * The shared pipelined connections. Internal to the adapter.
 *
 * @example
 * ```ts
 * const slots = new PipelineSlots(settings, { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true }, watcher);
 * const conn = slots.pick() ?? (slots.anyUp() ? undefined : await slots.waitForOne(limits));
 * ```
 */
export class PipelineSlots {
  readonly #settings: ConnectSettings;
  readonly #limits: PipelineLimits;
  readonly #watcher: PipelineWatcher;
  readonly #slots: (PipelinedConnection | undefined)[];
  readonly #connecting: (Promise<PipelinedConnection> | undefined)[];
  readonly #backoff = new Backoff({ initialDelay: 100, maxDelay: 5_000 });
  #closed = false;
  #retryAt = 0;
  #spread = 0;
  /** Statements written on connections no longer in a slot. */
  #retired = 0;

  constructor(settings: ConnectSettings, limits: PipelineLimits, watcher: PipelineWatcher) {
    this.#limits = limits;
    this.#watcher = watcher;
    this.#slots = new Array<PipelinedConnection | undefined>(limits.connections).fill(undefined);
    this.#connecting = new Array<Promise<PipelinedConnection> | undefined>(limits.connections).fill(
      undefined,
    );
    this.#settings = {
      ...settings,
      config: { ...settings.config, pipeline: true },
      onBroken: (conn) => this.evict(conn),
    };
  }

  /** Live connections, statements in flight, connections stalled now, statements written in all. */
  stats(): { connections: number; inFlight: number; stalled: number; statements: number } {
    let connections = 0;
    let inFlight = 0;
    let stalled = 0;
    let statements = this.#retired;
    const t = now();
    for (const c of this.#slots) {
      if (c === undefined) continue;
      statements += c.written;
      if (c.broken !== undefined) continue;
      connections++;
      inFlight += c.inFlight;
      if (c.headAge(t) > this.#limits.stallAfter) stalled++;
    }
    return { connections, inFlight, stalled, statements };
  }

  /** Open connections with statements in flight (`used`) and without (`idle`). */
  states(): { idle: number; used: number } {
    let idle = 0;
    let used = 0;
    for (const c of this.#slots) {
      if (c === undefined || c.broken !== undefined) continue;
      if (c.inFlight > 0) used++;
      else idle++;
    }
    return { idle, used };
  }

  /** True while a connection is being opened (a statement that finds none up will wait for it). */
  opening(): boolean {
    return this.#connecting.some((p) => p !== undefined);
  }

  /**
   * The least loaded connection that is neither full (`maxDepth` in flight) nor stalled (its head
   * has run longer than `stallAfter`); undefined when there is none. Opens connections as needed.
   */
  pick(): PipelinedConnection | undefined {
    const slots = this.#slots;
    const { maxDepth, stallAfter } = this.#limits;
    let best: PipelinedConnection | undefined;
    let t = -1;
    // An empty slot is filled only when no connection before it is idle (one being opened counts as
    // busy): one caller at a time needs one connection, a burst of callers opens them all.
    let idleBefore = false;
    // Ties go to the first connection, not round-robin: under light load one backend stays warm
    // (alternating between backends cost ~10 % at one caller), and under load the least loaded wins.
    for (let i = 0; i < slots.length; i++) {
      const c = slots[i];
      if (c === undefined || c.broken !== undefined) {
        if (!idleBefore && this.#connecting[i] === undefined) {
          this.#fill(i);
          idleBefore = true;
        }
        continue;
      }
      const n = c.inFlight;
      if (n >= maxDepth) continue;
      if (n > 0) {
        if (t < 0) t = now();
        if (c.headAge(t) > stallAfter) continue;
      } else idleBefore = true;
      if (best === undefined || n < best.inFlight) best = c;
    }
    return best;
  }

  /** True when some connection is up (so an empty {@link pick} means: all stalled or full). */
  anyUp(): boolean {
    return this.#slots.some((c) => c !== undefined && c.broken === undefined);
  }

  /**
   * No connection is up: waits for one being opened (cold start), within the caller's limits, and
   * returns the one to write to; undefined when all are full by then, or when none is being opened
   * because connects failed and the slots back off (the caller's statement then goes to the pool,
   * which tries a connection of its own — so queries recover as soon as the server does).
   */
  async waitForOne(limits: CallLimits): Promise<PipelinedConnection | undefined> {
    if (this.#closed) throw new PoolClosedError('Database is closed');
    const pending = this.#connecting.filter((p): p is Promise<PipelinedConnection> => p !== undefined);
    if (pending.length === 0) return undefined;
    // Spread the callers over the connections being opened, instead of piling them all onto
    // whichever comes up first; if that one fails, any other will do.
    const mine = pending[this.#spread++ % pending.length]!;
    const scope = new Scope({ signal: limits.signal, deadline: limits.deadline });
    let conn: PipelinedConnection;
    try {
      conn = await scope.race(mine.catch(() => Promise.any(pending)));
    } catch (err) {
      if (!scope.aborted) throw err instanceof AggregateError ? err.errors[0] : err;
      throw scope.reason instanceof TimeoutError && !limits.signal?.aborted
        ? new TimeoutError(
            `Query timed out after ${limits.deadline.ms} ms waiting for a connection to PostgreSQL at ${this.#settings.target}`,
          )
        : scope.reason;
    } finally {
      scope.dispose();
    }
    if (this.#closed) throw new PoolClosedError('Database is closed');
    // Routed again (which also opens the next connection when this one is busy), on the awaited one
    // when it has room.
    const picked = conn.broken === undefined && conn.inFlight === 0 ? conn : (this.pick() ?? conn);
    return picked.broken === undefined && picked.inFlight < this.#limits.maxDepth ? picked : undefined;
  }

  /** The server answered on another connection: open pipelined ones again without waiting out the backoff. */
  retryNow(): void {
    this.#retryAt = 0;
    this.#backoff.reset();
  }

  /** Takes a broken connection out of its slot (the next statement opens a replacement) and closes it. */
  evict(conn: PgConnection | StatementCarrier): void {
    const i = this.#slots.findIndex((c) => c === conn || c?.conn === conn);
    if (i === -1) {
      if (conn instanceof PgConnection) void conn.close();
      return;
    }
    const c = this.#slots[i]!;
    this.#slots[i] = undefined;
    this.#retired += c.written;
    logDebug(this.#settings.logger, 'connkit/postgres: pipelined connection lost; it will be replaced', {
      target: this.#settings.target,
      pid: c.conn.processID,
      err: c.broken,
    });
    void c.close(0); // broken: nothing to wait for
  }

  /**
   * Ends every connection once its in-flight statements are answered, waiting at most `timeout` ms
   * for them (then what still runs is cancelled and fails with `ConnectionError`). Idempotent.
   */
  async close(timeout: number): Promise<void> {
    this.#closed = true;
    const conns = this.#slots.filter((c): c is PipelinedConnection => c !== undefined);
    for (const c of conns) this.#retired += c.written;
    this.#slots.fill(undefined);
    const pending = this.#connecting.filter((p): p is Promise<PipelinedConnection> => p !== undefined);
    await Promise.all([
      ...conns.map((c) => c.close(timeout)),
      ...pending.map((p) =>
        p.then(
          (c) => c.close(timeout),
          () => undefined,
        ),
      ),
    ]);
  }

  #fill(i: number): void {
    if (this.#closed || this.#connecting[i] !== undefined) return;
    // After failed connects, back off instead of opening a connection per query during an outage.
    if (now() < this.#retryAt) return;
    const p = PgConnection.open(this.#settings).then(
      (c) => new PipelinedConnection(c, this.#limits.stallAfter, this.#watcher),
    );
    this.#connecting[i] = p;
    p.then(
      (conn) => {
        this.#connecting[i] = undefined;
        this.#backoff.reset();
        if (this.#closed) {
          void conn.close(0);
          return;
        }
        const old = this.#slots[i];
        if (old !== undefined) this.evict(old); // broken, its last answers not yet in
        this.#slots[i] = conn;
      },
      (err: unknown) => {
        this.#connecting[i] = undefined;
        this.#retryAt = now() + this.#backoff.next();
        reportBackground(
          { logger: this.#settings.logger },
          'connkit/postgres: pipelined connection failed',
          err,
          { target: this.#settings.target },
        );
      },
    );
  }
}
