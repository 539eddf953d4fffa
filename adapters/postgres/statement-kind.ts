/**
 * Tells which statements may share a pipelined connection. A statement that changes session state
 * (SET, LISTEN, temp tables, advisory locks, prepared statements, cursors …) would leak into every
 * query that shares the connection, so it is routed to a dedicated pooled connection; so is one that
 * does not run inside a transaction (VACUUM, `… CONCURRENTLY`, CREATE DATABASE, ALTER SYSTEM …): a
 * pipelined statement may be cancelled and run again (see `CancelLedger`), which is only safe when a
 * cancel rolls all of it back. Transaction control (BEGIN, COMMIT …) is refused outside
 * `db.transaction()`, because the statements after it would run on other connections.
 * @module
 */
import { describeValue, InvalidStateError } from '../../src/internal/index.js';

/**
 * `'shared'`: safe on a shared pipelined connection. `'dedicated'`: changes session state or does not
 * run in a transaction, needs a connection of its own. `'transaction'`: transaction control, only valid inside a transaction scope.
 *
 * @example
 * ```ts
 * if (classifyStatement(text) === 'shared') pipeline.query(input);
 * ```
 */
export type StatementKind = 'shared' | 'dedicated' | 'transaction';

const TRANSACTION_WORDS = new Set([
  'begin',
  'start',
  'commit',
  'end',
  'rollback',
  'abort',
  'savepoint',
  'release',
]);
const SESSION_WORDS = new Set([
  'set',
  'reset',
  'listen',
  'unlisten',
  'discard',
  'declare',
  'prepare',
  'deallocate',
  'execute',
  'fetch',
  'move',
  'close',
  'lock',
  'load',
  'copy',
  'do',
  'call',
]);
/** Statements that commit as they go (no transaction block): a cancel can leave part of them done. */
const NON_TRANSACTIONAL_WORDS = new Set(['vacuum', 'cluster', 'reindex', 'checkpoint']);
const NON_TRANSACTIONAL_OBJECTS = new Set(['database', 'tablespace', 'system', 'subscription']);
const SESSION_FUNCTIONS = [
  'set_config',
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
  'lo_open',
  'dblink_connect',
];

const cache = new Map<string, StatementKind>();
const CACHE_SIZE = 512;

/**
 * Classifies `text` (comments, string literals, quoted identifiers and dollar-quoted bodies are
 * skipped, so a word inside them never counts). Conservative: when in doubt, `'dedicated'`.
 *
 * @example
 * ```ts
 * classifyStatement('select $1');             // 'shared'
 * classifyStatement("set search_path = x");   // 'dedicated'
 * classifyStatement('BEGIN');                 // 'transaction'
 * ```
 */
export function classifyStatement(text: string): StatementKind {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const kind = classify(text);
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(text, kind);
  return kind;
}

function classify(text: string): StatementKind {
  const statements = splitWords(text);
  if (statements.length === 0) return 'shared';
  let kind: StatementKind = statements.length > 1 ? 'dedicated' : 'shared';
  for (const words of statements) {
    const first = words[0] ?? '';
    if (TRANSACTION_WORDS.has(first) || (first === 'prepare' && words[1] === 'transaction'))
      return 'transaction';
    if (SESSION_WORDS.has(first) || NON_TRANSACTIONAL_WORDS.has(first)) kind = 'dedicated';
    else if (first === 'create' && (words.includes('temp') || words.includes('temporary')))
      kind = 'dedicated';
    else if (words.includes('concurrently')) kind = 'dedicated';
    else if (
      (first === 'create' || first === 'drop' || first === 'alter') &&
      NON_TRANSACTIONAL_OBJECTS.has(words[1] ?? '')
    )
      kind = 'dedicated';
    else if (words.some((w) => SESSION_FUNCTIONS.includes(w))) kind = 'dedicated';
  }
  return kind;
}

/** Lower-cased bare words of each non-empty statement, outside literals and comments. */
function splitWords(text: string): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const ch = text[i]!;
    if (ch === ';') {
      if (words.length > 0) out.push(words);
      words = [];
      i++;
    } else if (ch === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (ch === '/' && text[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === '/' && text[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (text[i] === '*' && text[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (ch === "'" || ch === '"') {
      // '' and "" inside are escaped quotes; E'\'' is handled by treating backslash as escape too.
      const escapes = ch === "'" && /[eE]/.test(text[i - 1] ?? '');
      i++;
      while (i < n) {
        if (escapes && text[i] === '\\') i += 2;
        else if (text[i] === ch && text[i + 1] === ch) i += 2;
        else if (text[i] === ch) break;
        else i++;
      }
      i++;
      if (words.length === 0) words.push('"');
    } else if (ch === '$' && /[A-Za-z_$]/.test(text[i + 1] ?? '')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64));
      if (m) {
        const end = text.indexOf(m[0], i + m[0].length);
        i = end === -1 ? n : end + m[0].length;
        if (words.length === 0) words.push('$');
      } else i++;
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(text[j]!)) j++;
      words.push(text.slice(i, j).toLowerCase());
      i = j;
    } else {
      if (words.length === 0 && ch === '(') words.push('(');
      i++;
    }
  }
  if (words.length > 0) out.push(words);
  return out;
}

/**
 * The error of `db.query()` given transaction control: `BEGIN`, `COMMIT` … would run on different
 * pooled connections than the statements around them.
 *
 * @example
 * ```ts
 * if (classifyStatement(text) === 'transaction') return Promise.reject(transactionControlRefused(text));
 * ```
 */
export function transactionControlRefused(text: string): InvalidStateError {
  return new InvalidStateError(
    `db.query() refuses transaction control (${describeValue(text.trim().slice(0, 40))}): its statements would run on different connections — use db.transaction(async (tx) => …)`,
  );
}
