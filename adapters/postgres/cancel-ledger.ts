/**
 * {@link CancelLedger}: which failures on a pipelined connection its own cancels may have caused.
 *
 * A CancelRequest (or `pg_cancel_backend`) makes the backend set a flag that interrupts whatever it
 * runs when it next checks for interrupts, and none if it is between protocol messages then (a
 * cancel that lands while the backend reads a message is dropped once the message is read). Meant
 * for the statement at the head of the pipeline, it can therefore hit a statement after it, when the
 * head finished first: that neighbour fails with 57014 "canceling statement due to user request",
 * which in autocommit means its implicit transaction rolled back — it had no effect, and re-sending it
 * is safe. The ledger tells such a failure from one that someone else's cancel caused.
 *
 * One cancel can fail two statements: the postmaster signals the backend twice for a CancelRequest
 * (the process, then its process group — PostgreSQL's `signal_child`), and when the process that
 * sends them is descheduled between the two, the first can fail one statement and the second a later
 * one. So each cancel accounts for up to two failures (counting one too many only means re-sending a
 * statement someone else cancelled, which had no effect either).
 *
 * Bookkeeping by sequence number (statements are numbered in the order they are written, and the
 * backend runs them in that order): a cancel is open from the moment it is sent; once the server
 * has taken it (the CancelRequest socket closed, `pg_cancel_backend` answered), the signal has been
 * delivered, so any statement written after that is read by the backend after the flag was set — the
 * flag is used up (by an error) or dropped (by the read) before that statement's answer. So a cancel
 * acknowledged before statement `n` was written is over once `n` is answered.
 * @module
 */

/** One cancel sent to the backend: open until used up by a failure or over by {@link CancelLedger.answered}. */
interface OpenCancel {
  /** Sequence number of the first statement written after the server took the cancel (Infinity until then). */
  overAt: number;
  /** Failures it may still account for. */
  hits: number;
}

/** Signals one cancel may deliver (see the module comment). */
const SIGNALS_PER_CANCEL = 2;

/**
 * The cancels in flight on one pipelined connection.
 *
 * @example
 * ```ts
 * const ledger = new CancelLedger();
 * const ticket = ledger.sent();
 * await conn.requestCancel(5_000);
 * ledger.acknowledged(ticket, nextSeq);
 * // a statement answered with 57014 "due to user request":
 * if (ledger.claim(stmt.seq)) resend(stmt);
 * ledger.answered(stmt.seq);
 * ```
 */
export class CancelLedger {
  readonly #open: OpenCancel[] = [];

  /** Cancels that may still hit a statement. */
  get size(): number {
    return this.#open.length;
  }

  /** A cancel is about to be sent: open from now on. */
  sent(): object {
    const cancel: OpenCancel = { overAt: Infinity, hits: SIGNALS_PER_CANCEL };
    this.#open.push(cancel);
    return cancel;
  }

  /**
   * The server took the cancel (or sending it failed — taken as the moment it might still land);
   * `nextSeq` is the number the next statement written will get.
   */
  acknowledged(ticket: object, nextSeq: number): void {
    (ticket as OpenCancel).overAt = nextSeq;
  }

  /**
   * Statement `seq` failed with 57014 "canceling statement due to user request": true, and one hit
   * of an open cancel is used up, when a cancel of ours may have caused it (one that was not over
   * before the statement was written); false when none can have — someone else cancelled it.
   */
  claim(seq: number): boolean {
    const open = this.#open;
    for (let i = 0; i < open.length; i++) {
      const cancel = open[i]!;
      if (cancel.overAt > seq) {
        if (--cancel.hits === 0) open.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  /**
   * True when an open cancel may have hit statement `seq` (one not over before it was written), for
   * an effect that is not a failure (see `PipelinedConnection`); uses nothing up.
   */
  mayHaveHit(seq: number): boolean {
    return this.#open.some((cancel) => cancel.overAt > seq);
  }

  /** Statement `seq` was answered (in order): cancels acknowledged before it was written are over. */
  answered(seq: number): void {
    const open = this.#open;
    for (let i = open.length - 1; i >= 0; i--) if (open[i]!.overAt <= seq) open.splice(i, 1);
  }
}
