/**
 * The `readOnly` option of `Database` calls: {@link readReadOnly} reads it, and
 * {@link readOnlyTransaction} runs a `READ ONLY` transaction on a healthy replica — on the primary
 * when none is, or when the replica fails before `fn` ran.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';
import { readCallLimits } from './call-limits.js';
import { checkTransactionOptions, type TransactionOptions } from './options.js';
import type { ReplicaSet } from './replica-set.js';
import { runTransaction, type TransactionHost } from './run-transaction.js';
import type { ServerPool } from './server-pool.js';
import type { Transaction } from './transaction.js';

/**
 * The `readOnly` option of a call (a `TypeError` for anything but a boolean).
 *
 * @example
 * ```ts
 * if (readReadOnly(opts) && replicas !== undefined) …
 * ```
 */
export function readReadOnly(opts: { readOnly?: unknown } | undefined): boolean {
  const v = opts?.readOnly;
  if (v !== undefined && typeof v !== 'boolean') {
    throw new TypeError(`readOnly must be a boolean, got ${describeValue(v)}`);
  }
  return v === true;
}

/**
 * `transaction(fn, { readOnly: true })` with replicas: on a healthy replica; when that replica turns
 * out unreachable before `fn` ran (at connect or `BEGIN`), on the primary in the time left — never
 * once `fn` ran (it may have had effects outside the database). `hostFor(undefined)` is the primary's.
 * Options are checked synchronously, like `runTransaction` does.
 *
 * @example
 * ```ts
 * return readOnlyTransaction(replicas, fn, opts, (server) => (server ? hostOf(server) : primaryHost));
 * ```
 */
export function readOnlyTransaction<T>(
  replicas: ReplicaSet,
  fn: (tx: Transaction) => Promise<T>,
  opts: TransactionOptions,
  hostFor: (server: ServerPool | undefined) => TransactionHost,
): Promise<T> {
  checkTransactionOptions(opts);
  const limits = readCallLimits(opts, Infinity, 'transaction()');
  if (limits instanceof Promise) return limits;
  let ran = false;
  const tracked = (tx: Transaction): Promise<T> => {
    ran = true;
    return fn(tx);
  };
  return replicas.run(
    (server) => runTransaction(tracked, opts, hostFor(server)),
    () => {
      const left = limits.deadline.infinite ? opts : { ...opts, timeout: limits.deadline.remaining() };
      return runTransaction(fn, left, hostFor(undefined));
    },
    () => !ran && !limits.deadline.expired(),
  );
}
