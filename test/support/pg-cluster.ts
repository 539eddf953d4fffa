/**
 * The HA servers of the test run, for test files of the `ha` project: a PostgreSQL primary (`a`), its
 * streaming standby (`b`) and PgBouncer in transaction mode in front of `a`, started once per run by
 * `pg-cluster-setup.ts` and shared by the files (which run one at a time). Call `reset()` in a
 * `beforeEach`/`beforeAll` of any file that changes the topology. See test/support/README.md.
 */
import { inject } from 'vitest';
import type { PgCluster } from './pg-cluster/cluster.js';
import { ComposePgCluster } from './pg-cluster/compose-cluster.js';
import type { ClusterDescriptor } from './pg-cluster/descriptor.js';
import { LocalPgCluster } from './pg-cluster/local-cluster.js';

export type { ExtraStandby, NodeRole, PgCluster, PgNode, StopMode } from './pg-cluster/cluster.js';

/**
 * The control object for a descriptor (the global setup's, or one a test started itself).
 * @example
 * const cluster = clusterFromDescriptor(inject('pgCluster'));
 */
export function clusterFromDescriptor(descriptor: ClusterDescriptor): PgCluster | undefined {
  switch (descriptor.kind) {
    case 'local':
      return new LocalPgCluster(descriptor);
    case 'external':
      return new ComposePgCluster(descriptor);
    case 'unavailable':
      return undefined;
  }
}

let reported = false;

/**
 * The run's HA pair, or `undefined` — with the reason printed once — where neither the server
 * programs nor `PG_HA_*_URL` are available (the one case where HA tests skip).
 * @example
 * const cluster = pgCluster();
 * describe.skipIf(!cluster)('failover', () => {
 *   beforeEach(() => cluster!.reset());
 * });
 */
export function pgCluster(): PgCluster | undefined {
  const descriptor = inject('pgCluster');
  if (descriptor.kind === 'unavailable' && !reported) {
    reported = true;
    console.log(`[pg-ha] skipping HA tests: ${descriptor.reason}`);
  }
  return clusterFromDescriptor(descriptor);
}
