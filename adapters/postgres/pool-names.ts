/**
 * {@link claimPoolName}: names for the connection pools of every `Database` in the process, unique
 * among the pools open at the same time — they label the pool metrics
 * (`db.client.connection.pool.name`) and the `connkit:pool:acquire` channel, where two pools with one
 * name would add up into one series. A name is the server (`postgres://host:port/database`) or the
 * user's `pool.name`, with `#2`, `#3` … when a pool of that name is already open (two `Database`s on
 * one URL); it is free again once its pool closed, so an application that re-creates its `Database`
 * keeps its names (and the series do not multiply).
 * @module
 */

const inUse = new Set<string>();

/**
 * Takes `base`, or `base#2`, `base#3` … (the first not taken) for a pool being made; give it back
 * with {@link releasePoolName} when the pool closed.
 *
 * @example
 * ```ts
 * const name = claimPoolName('postgres://db1:5432/shop'); // 'postgres://db1:5432/shop', then '…/shop#2'
 * await pool.close(); releasePoolName(name);
 * ```
 */
export function claimPoolName(base: string): string {
  let name = base;
  for (let i = 2; inUse.has(name); i++) name = `${base}#${i}`;
  inUse.add(name);
  return name;
}

/**
 * Frees a name taken with {@link claimPoolName}. Idempotent.
 *
 * @example
 * ```ts
 * releasePoolName(name);
 * ```
 */
export function releasePoolName(name: string): void {
  inUse.delete(name);
}
