/**
 * `PipelineGroup`: a few shared connections in `pg` pipeline mode, the default path of standalone
 * statements. Each statement is written to the least loaded connection without waiting for the
 * answers before it, which removes a round trip per statement.
 *
 * The group also decides when a statement is not pipelined after all, and hands it to the pool of
 * dedicated connections it is given: when every pipelined connection is full (`maxDepth` statements
 * in flight) or stalled — its head has run longer than `stallAfter`, so anything written behind it
 * would wait (head-of-line blocking) — and when a statement with the same text recently had to be
 * moved off a stalled connection ({@link SlowTexts}). A stalled head with statements behind it is
 * moved: cancelled, and run again on a dedicated connection (`PipelinedConnection`).
 *
 * Statements with a signal or a timeout are pipelined too: their caller is answered at once on
 * abort or deadline, and the statement is cancelled on the server only when it runs at the head
 * (a CancelRequest hits whatever the backend runs when it lands); a neighbour that such a cancel hit
 * anyway had no effect and is re-sent, on a dedicated connection (see `CancelLedger`).
 * @module
 */
import type pg from 'pg';
import { DeadlineList, logDebug, TimeoutError, unwatchAbort, watchAbort } from '../../src/internal/index.js';
import { type CallLimits, NO_LIMITS } from './call-limits.js';
import type { ConnectSettings } from './connection.js';
import type { PipelinedConnection, PipelineWatcher } from './pipelined-connection.js';
import { PipelinedStatement, type StatementOwner } from './pipelined-statement.js';
import { type PipelineLimits, PipelineSlots } from './pipeline-slots.js';
import { PreparedNames, staleStatement } from './prepared-names.js';
import type { QueryInput } from './query-input.js';
import type { QueryTelemetry } from './query-telemetry.js';
import { SlowTexts } from './slow-texts.js';
import { preview, statementFailure, type StatementRunner } from './statement.js';

export type { PipelineLimits } from './pipeline-slots.js';

/**
 * A commit that waits for the synchronous standby: PostgreSQL waits only for a transaction that has
 * a transaction id and wrote WAL; a transactional logical message (a few bytes, any role, any
 * wal_level; decoders see prefix `connkit`) is the smallest such write that needs no table.
 */
const CONFIRM_REPLICATION = {
  text: "select pg_logical_emit_message(true, 'connkit', 'synchronous replication confirmed')",
  values: undefined,
};

/**
 * What `db.stats().pipeline` reports.
 *
 * @example
 * ```ts
 * const { connections, inFlight, stalled, statements, overflowed, moved, resent } = db.stats().pipeline;
 * ```
 */
export interface PipelineStats {
  /** Live pipelined connections. */
  connections: number;
  /** Statements in flight on them. */
  inFlight: number;
  /** Connections whose head statement runs longer than `stallAfter` (they take no new statements). */
  stalled: number;
  /** Statements written to pipelined connections since the start. */
  statements: number;
  /** Standalone statements sent to a dedicated connection because every pipelined one was stalled or full. */
  overflowed: number;
  /** Stalled heads cancelled to run again on a dedicated connection, out of the way of those behind them. */
  moved: number;
  /** Statements run again on a dedicated connection after a cancel of ours hit them (moved heads, neighbours of a cancelled statement). */
  resent: number;
  /** Statements sent to a dedicated connection because a recent one with the same text had to be moved. */
  slowRouted: number;
}

/**
 * Shared pipelined connections, and the pool to hand a statement to instead.
 *
 * @example
 * ```ts
 * const group = new PipelineGroup(settings, { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true }, pool, telemetry);
 * const res = await group.run({ text: 'select $1::int', values: [1] }, NO_LIMITS);
 * await group.close(10_000);
 * ```
 */
export class PipelineGroup implements StatementOwner, PipelineWatcher {
  readonly #settings: ConnectSettings;
  readonly #overflow: StatementRunner;
  readonly #slots: PipelineSlots;
  readonly #slowTexts = new SlowTexts();
  readonly #names: PreparedNames;
  readonly #deadlines = new DeadlineList<PipelinedStatement>((stmt) => this.#expire(stmt));
  readonly #telemetry: QueryTelemetry;
  #overflowed = 0;
  #moved = 0;
  #resent = 0;
  #slowRouted = 0;

  constructor(
    settings: ConnectSettings,
    limits: PipelineLimits,
    overflow: StatementRunner,
    telemetry: QueryTelemetry,
  ) {
    this.#settings = settings;
    this.#telemetry = telemetry;
    this.#overflow = overflow;
    this.#slots = new PipelineSlots(settings, limits, this);
    this.#names = new PreparedNames(limits.prepare);
  }

  /** The connections, what is in flight on them, and the routing counters. */
  stats(): PipelineStats {
    return {
      ...this.#slots.stats(),
      overflowed: this.#overflowed,
      moved: this.#moved,
      resent: this.#resent,
      slowRouted: this.#slowRouted,
    };
  }

  /** Open connections with statements in flight (`used`) and without (`idle`), for the metrics. */
  connectionStates(): { idle: number; used: number } {
    return this.#slots.states();
  }

  /**
   * Runs `input` on the least loaded pipelined connection that is neither full nor stalled, else on
   * the overflow pool; opens the connections on first use. Same signature as `ConnectionPool.run`.
   * Publishes the statement to its observers (`QueryTelemetry`) with the route it took: only here is
   * it known whether it is pipelined.
   */
  run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult> {
    const telemetry = this.#telemetry;
    if (this.#slowTexts.size !== 0 && this.#slowTexts.skips(input.text)) {
      this.#slowRouted++;
      return telemetry.active
        ? telemetry.observe(input, false, false, () => this.#overflow.run(input, limits))
        : this.#overflow.run(input, limits);
    }
    const conn = this.#slots.pick();
    if (conn !== undefined) {
      return telemetry.active
        ? telemetry.observe(input, true, false, () => this.#send(conn, input, limits))
        : this.#send(conn, input, limits);
    }
    if (this.#slots.anyUp()) {
      this.#overflowed++;
      return telemetry.active
        ? telemetry.observe(input, false, false, () => this.#overflow.run(input, limits))
        : this.#overflow.run(input, limits);
    }
    // Cold start (pipelined once a connection being opened is up) or an outage (the pool, see there).
    return telemetry.active
      ? telemetry.observe(input, this.#slots.opening(), false, () => this.#afterConnect(input, limits))
      : this.#afterConnect(input, limits);
  }

  /**
   * Ends every connection once its in-flight statements are answered, waiting at most `timeout` ms
   * for them (then what still runs is cancelled and fails with `ConnectionError`). Idempotent.
   */
  close(timeout: number): Promise<void> {
    return this.#slots.close(timeout);
  }

  /** StatementOwner: `pg` answered `stmt`. */
  answer(
    stmt: PipelinedStatement,
    err: Error | null,
    res: pg.QueryResult | undefined,
    claimed: boolean,
  ): void {
    if (stmt.limits !== NO_LIMITS) this.#unwatch(stmt);
    if (err === null) {
      if (stmt.unreplicated && !stmt.settled) this.#confirmReplication(stmt, res!);
      else stmt.resolve(res!);
      return;
    }
    const carrier = stmt.carrier;
    if (carrier !== undefined && carrier.broken !== undefined) this.#slots.evict(carrier);
    if (stmt.settled) return; // its caller gave up: it was rejected then
    const stale = stmt.name !== undefined && !claimed ? staleStatement(err) : undefined;
    if (stale !== undefined) {
      // Its prepared statement no longer fits, or is missing or already there (a pooler): it did not
      // run. Prepared afresh next time; run unnamed now.
      const pooled = stale === '42P05' || (stale === '26000' && (carrier?.parsed(stmt.name!) ?? false));
      this.#names.forget(stmt.input.text, pooled);
    } else if (!claimed) {
      stmt.reject(err);
      return;
    }
    // Our cancel hit it — a stalled head we moved, or the neighbour of a cancelled statement — or its
    // prepared statement was refused: it had no effect. A dedicated connection, where no cancel but
    // its own caller's reaches it, runs it again.
    if (stmt.moving) this.#slowTexts.add(stmt.input.text);
    if (claimed) this.#telemetry.metrics?.resent();
    this.#resent++;
    stmt.resent = true;
    this.#overflow.run(stmt.input, stmt.limits).then(
      (r) => stmt.resolve(r),
      (e: unknown) => stmt.reject(e),
    );
  }

  /** PipelineWatcher: a stalled head is being moved. */
  moving(stmt: PipelinedStatement): void {
    this.#moved++;
    logDebug(
      this.#settings.logger,
      'connkit/postgres: a statement stalled its pipelined connection; moving it',
      {
        target: this.#settings.target,
        pid: stmt.carrier?.processID,
      },
    );
  }

  /** StatementOwner (AbortWatcher of its signal): the caller's signal aborted. */
  giveUp(stmt: PipelinedStatement, reason: unknown): void {
    this.#abandon(stmt, reason);
  }

  async #send(conn: PipelinedConnection, input: QueryInput, limits: CallLimits): Promise<pg.QueryResult> {
    const stmt = new PipelinedStatement(this, input, limits);
    if (limits !== NO_LIMITS) {
      if (limits.signal !== undefined) watchAbort(limits.signal, stmt);
      if (!limits.deadline.infinite) this.#deadlines.add(stmt, limits.deadline.remaining());
    }
    conn.write(stmt, input.values === undefined ? undefined : this.#names.nameFor(input.text));
    this.#telemetry.metrics?.depth(conn.inFlight);
    try {
      return await stmt.promise;
    } catch (err) {
      // Made or mapped here, after the await, so the stack leads back to the caller.
      if (stmt.timedOut) {
        throw new TimeoutError(
          `Query timed out after ${limits.deadline.ms} ms and was cancelled on the server (backend ${conn.processID}, pipelined: cancelled once it runs): ${preview(input.text)}`,
        );
      }
      // statementFailure: a 25006 from a primary turned read-only becomes a ConnectionError (see there).
      // Errors from elsewhere (a re-send, the replication confirmation) are mapped there already.
      throw stmt.abandoned || stmt.resent || stmt.unreplicated ? err : statementFailure(conn.conn, err);
    }
  }

  /**
   * No pipelined connection is up: waits for one being opened (cold start) and writes to it, or —
   * while connects fail and the slots back off — runs the statement on the pool, whose own connect
   * attempt tells when the server is back (then the pipelined connections are opened again at once).
   */
  async #afterConnect(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult> {
    const conn = await this.#slots.waitForOne(limits);
    if (conn !== undefined) return this.#send(conn, input, limits);
    const res = await this.#overflow.run(input, limits);
    this.#slots.retryNow();
    return res;
  }

  /**
   * `stmt` committed, but a cancel of ours (moving it, or meant for the statement before it) ended its
   * wait for the synchronous standby: PostgreSQL answered success with a warning, and the commit may
   * not be replicated — on a failover now it would be lost although acknowledged. A commit of our own
   * on a dedicated connection waits for the standby up to a later WAL position, so once it returns,
   * `stmt`'s commit is replicated too; only then is the caller answered, as on a dedicated connection.
   */
  #confirmReplication(stmt: PipelinedStatement, res: pg.QueryResult): void {
    if (stmt.moving) this.#slowTexts.add(stmt.input.text); // its commits wait longer than stallAfter
    logDebug(
      this.#settings.logger,
      "connkit/postgres: a cancel cut a commit's wait for the synchronous standby short; confirming replication",
      {
        target: this.#settings.target,
      },
    );
    this.#overflow.run(CONFIRM_REPLICATION, stmt.limits).then(
      () => stmt.resolve(res),
      (e: unknown) => stmt.reject(e),
    );
  }

  #expire(stmt: PipelinedStatement): void {
    stmt.timedOut = true;
    this.#abandon(stmt, new TimeoutError('Query timed out'));
  }

  #abandon(stmt: PipelinedStatement, reason: unknown): void {
    if (stmt.settled || stmt.answered) return;
    this.#unwatch(stmt);
    stmt.abandoned = true;
    this.#settings.onCancel?.();
    stmt.reject(reason);
    stmt.carrier?.abandoned(stmt);
  }

  #unwatch(stmt: PipelinedStatement): void {
    const signal = stmt.limits.signal;
    if (signal !== undefined) unwatchAbort(signal, stmt);
    this.#deadlines.delete(stmt);
  }
}
