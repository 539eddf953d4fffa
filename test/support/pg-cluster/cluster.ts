/**
 * The control surface HA tests get: URLs of the pair and PgBouncer, and the faults and repairs they
 * need (stop, start, promote, freeze, reset). Implemented for the local pair (pg_ctl) and for the
 * docker-compose `ha` profile (`docker compose`).
 */
import type { PgNode } from './descriptor.js';
import type { ExtraStandby } from './extra-standby.js';
import type { NodeRole } from './sql.js';

export type { ExtraStandby } from './extra-standby.js';

export type { PgNode } from './descriptor.js';
export type { NodeRole } from './sql.js';

/** How `stop()` shuts a node down (pg_ctl's `-m`); `immediate` is a crash as far as clients can tell. */
export type StopMode = 'immediate' | 'fast' | 'smart';

/** Waiting operations give up after `timeout` ms (default 30 000). */
export interface WaitOptions {
  timeout?: number;
}

export interface PgCluster {
  /** `local`: started here from the server programs; `external`: the docker-compose `ha` profile. */
  readonly kind: 'local' | 'external';
  /** The test database, present on both nodes (`connkit_ha`). */
  readonly database: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` of one node. */
  url(node: PgNode, database?: string): string;
  /** Both nodes as a libpq multi-host URL, `a` first, with `query` (e.g. `target_session_attrs=read-write`). */
  multiHostUrl(query?: string, database?: string): string;
  /** PgBouncer (transaction mode, in front of `a`). */
  bouncerUrl(database?: string): string;
  /** PgBouncer's admin console (`SHOW CONFIG`, `SHOW POOLS`, simple-query protocol only). */
  readonly bouncerAdminUrl: string;
  /** What the node is now (`down` when it does not answer within 2 s). */
  role(node: PgNode): Promise<NodeRole>;
  /** The node that accepts writes now; throws when both do. */
  primary(): Promise<PgNode | undefined>;
  /** Stops the node (default `immediate`: no shutdown checkpoint, clients see their connections die). */
  stop(node: PgNode, opts?: { mode?: StopMode }): Promise<void>;
  /** Starts the node in the role its files say, and resolves once it accepts connections. */
  start(node: PgNode): Promise<void>;
  /** Promotes a standby and resolves once it accepts writes. */
  promote(node: PgNode, opts?: WaitOptions): Promise<void>;
  /** Freezes the node and all its processes (SIGSTOP): connections stay open and nothing answers. */
  pause(node: PgNode): Promise<void>;
  /** Undoes {@link pause} (SIGCONT). */
  resume(node: PgNode): Promise<void>;
  /** Waits until `standby` streams from the other node and has replayed all it had written. */
  waitCaughtUp(standby?: PgNode, opts?: WaitOptions): Promise<void>;
  /** Restores the initial topology: `a` primary, `b` its streaming standby, caught up. */
  reset(opts?: WaitOptions): Promise<void>;
  /**
   * Starts a third node, `c`: another streaming standby of `a` (local pair only; the compose profile
   * has two nodes). Not touched by `reset()`: stop it when done (teardown ends it otherwise).
   */
  startExtraStandby(): Promise<ExtraStandby>;
}

/** The other node of the pair. */
export function otherNode(node: PgNode): PgNode {
  return node === 'a' ? 'b' : 'a';
}

/**
 * The node that answers as a primary, from both nodes' roles; throws when both do (split brain).
 * @example
 * const writer = await findPrimary((n) => cluster.role(n));
 */
export async function findPrimary(role: (node: PgNode) => Promise<NodeRole>): Promise<PgNode | undefined> {
  const [a, b] = await Promise.all([role('a'), role('b')]);
  if (a === 'primary' && b === 'primary') throw new Error('both nodes accept writes (split brain)');
  return a === 'primary' ? 'a' : b === 'primary' ? 'b' : undefined;
}

/**
 * `url` with its database replaced — and host:port of several such URLs joined as libpq multi-host.
 * @example
 * withDatabase('postgres://postgres@127.0.0.1:5433/x', 'postgres');
 */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A libpq multi-host URL over the hosts of `urls` (user from the first), e.g.
 * `postgres://postgres@127.0.0.1:5433,127.0.0.1:5434/app?target_session_attrs=read-write`.
 * @example
 * multiHost([urlA, urlB], 'app', 'target_session_attrs=primary');
 */
export function multiHost(urls: string[], database: string, query = ''): string {
  const parsed = urls.map((u) => new URL(u));
  const first = parsed[0]!;
  const auth = first.username ? `${first.username}${first.password ? `:${first.password}` : ''}@` : '';
  const hosts = parsed.map((u) => `${u.hostname}:${u.port || '5432'}`).join(',');
  return `postgres://${auth}${hosts}/${database}${query ? `?${query}` : ''}`;
}
