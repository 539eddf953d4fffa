/**
 * {@link PreparedNames}: the names under which statement texts are prepared on the pipelined
 * connections. A named statement is parsed and planned once per connection and only bound and run
 * afterwards — for a small statement that is most of the server's work (pgbench: `-M prepared` runs
 * `select $1` ~1.4× as fast as `-M extended`). The pipelined connections are connkit's own, nothing
 * else runs on them, so the server-side statements they keep cannot be discarded or shadowed behind
 * their back; a text gets a new name (and is parsed again) when the server says the old one no longer
 * fits ("cached plan must not change result type" after a schema change) or no longer exists (a
 * pooler between client and server that does not keep prepared statements — after a few of those the
 * whole group stops preparing).
 * @module
 */

/** Texts that get a name at most (distinct texts beyond run unnamed: parsed every time, as before). */
const MAX_NAMES = 256;
/** Statements found missing on the server after which preparing stops for good. */
const MAX_MISSING = 8;

/**
 * Text → statement name, for statements with parameters on pipelined connections.
 *
 * @example
 * ```ts
 * const names = new PreparedNames();
 * const name = names.nameFor('select * from users where id = $1'); // 'connkit_1'
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
    const fresh = `connkit_${++this.#issued}`;
    this.#names.set(text, fresh);
    return fresh;
  }

  /**
   * The server refused `text`'s prepared statement (0A000 result type changed, 26000 does not exist):
   * the next run prepares it again under a new name. `lost`: the statement had been prepared on that
   * connection and is gone since (not merely a Parse that failed ahead of it in the pipeline).
   */
  forget(text: string, lost: boolean): void {
    this.#names.delete(text);
    if (lost && ++this.#missing >= MAX_MISSING) this.#off = true;
  }
}

const SQLSTATE_NO_SUCH_STATEMENT = '26000';

/**
 * The SQLSTATE when `err` says a prepared statement no longer fits or exists (the statement had no
 * effect: it failed before it ran), else undefined.
 *
 * @example
 * ```ts
 * const code = staleStatement(err); // '0A000' after `alter table … ` changed a prepared select's columns
 * ```
 */
export function staleStatement(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === SQLSTATE_NO_SUCH_STATEMENT) return code;
  if (code === '0A000' && (err as Error).message.includes('cached plan must not change result type')) {
    return code;
  }
  return undefined;
}
