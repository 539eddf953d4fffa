/**
 * {@link PreparedNames}: the names under which statement texts are prepared on the pipelined
 * connections. A named statement is parsed and planned once per connection and only bound and run
 * afterwards — for a small statement that is most of the server's work (pgbench: `-M prepared` runs
 * `select $1` ~1.4× as fast as `-M extended`). The pipelined connections are connkit's own, nothing
 * else runs on them, so the server-side statements they keep cannot be discarded behind their back;
 * a text gets a new name (and is parsed again) when the server says the old one no longer fits
 * ("cached plan must not change result type" after a schema change).
 *
 * A name carries a hash of its text, so that it can never stand for another text — not even behind a
 * pooler in transaction mode, whose server connections other clients (other `Database`s, other
 * processes) prepare statements on too. There a name may be missing (26000) or already there (42P05)
 * on the server connection a statement lands on; the statement then did not run, is run again
 * unnamed, and after a few such refusals the group stops preparing.
 * @module
 */
import { createHash } from 'node:crypto';

/** Texts that get a name at most (distinct texts beyond run unnamed: parsed every time, as before). */
const MAX_NAMES = 256;
/** Refusals only a pooler explains after which preparing stops for good. */
const MAX_MISSING = 8;

/**
 * Text → statement name, for statements with parameters on pipelined connections.
 *
 * @example
 * ```ts
 * const names = new PreparedNames();
 * const name = names.nameFor('select * from users where id = $1'); // 'connkit_9f86d0…_1'
 * if (staleStatement(err)) names.forget(text, false);
 * ```
 */
export class PreparedNames {
  readonly #names = new Map<string, string>();
  #issued = 0;
  #missing = 0;
  #off: boolean;

  /** `enabled: false`: {@link nameFor} never names a text. */
  constructor(enabled = true) {
    this.#off = !enabled;
  }

  /** The name to run `text` under, or undefined to run it unnamed. */
  nameFor(text: string): string | undefined {
    if (this.#off) return undefined;
    const name = this.#names.get(text);
    if (name !== undefined || this.#issued >= MAX_NAMES) return name;
    // 8 + 32 + 1 + digits: within PostgreSQL's 63-byte names.
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 32);
    const fresh = `connkit_${hash}_${++this.#issued}`;
    this.#names.set(text, fresh);
    return fresh;
  }

  /**
   * The server refused `text`'s prepared statement (0A000 result type changed, 26000 does not exist,
   * 42P05 already exists): the next run prepares it again under a new name. `pooled`: a refusal only
   * a pooler between client and server explains (a statement prepared on this connection and gone
   * since, or one there before this connection prepared it — not a Parse that failed ahead of it).
   */
  forget(text: string, pooled: boolean): void {
    this.#names.delete(text);
    if (pooled && ++this.#missing >= MAX_MISSING) this.#off = true;
  }
}

/**
 * The SQLSTATE when `err` says a prepared statement no longer fits (0A000), does not exist (26000)
 * or already exists (42P05) — the statement had no effect: it failed before it ran — else undefined.
 *
 * @example
 * ```ts
 * const code = staleStatement(err); // '0A000' after `alter table … ` changed a prepared select's columns
 * ```
 */
export function staleStatement(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === '26000' || code === '42P05') return code;
  if (code === '0A000' && (err as Error).message.includes('cached plan must not change result type')) {
    return code;
  }
  return undefined;
}
