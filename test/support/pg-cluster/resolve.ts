/**
 * Finds the HA servers of a test run, in this order: (1) `PG_HA_PRIMARY_URL`, `PG_HA_REPLICA_URL`,
 * `PG_HA_BOUNCER_URL` (the docker-compose `ha` profile); (2) the PostgreSQL server programs and
 * pgbouncer on this machine — then a fresh pair + PgBouncer is started; (3) neither: a reason to
 * skip the HA tests with.
 */
import { fileURLToPath } from 'node:url';
import { findPgPrograms } from './binaries.js';
import type { ClusterDescriptor, ExternalClusterDescriptor } from './descriptor.js';
import { startLocalCluster } from './local-lifecycle.js';
import { stopLocalClusterNow } from './local-teardown.js';

export interface ResolvedCluster {
  descriptor: ClusterDescriptor;
  /** Ends what was started here (nothing for URLs); resolves with pids left behind (none, normally). */
  stop(): Promise<number[]>;
  /** Synchronous, best-effort {@link stop} for a process that is exiting. */
  stopNow(): void;
}

const ENV = ['PG_HA_PRIMARY_URL', 'PG_HA_REPLICA_URL', 'PG_HA_BOUNCER_URL'] as const;

const COMPOSE_FILE = fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url));

function fromEnv(): ExternalClusterDescriptor | undefined {
  const [a, b, bouncer] = ENV.map((name) => process.env[name]);
  if (!a && !b && !bouncer) return undefined;
  if (!a || !b || !bouncer) {
    throw new Error(`set all of ${ENV.join(', ')} (or none, to start a local pair); got only some of them`);
  }
  return {
    kind: 'external',
    database: decodeURIComponent(new URL(a).pathname.slice(1)) || 'connkit_ha',
    urls: { a, b, bouncer },
    composeFile: process.env['PG_HA_COMPOSE_FILE'] ?? COMPOSE_FILE,
    services: { a: 'pg-ha-a', b: 'pg-ha-b', bouncer: 'pg-ha-bouncer' },
  };
}

/**
 * Resolves (and for a local pair, starts) the HA servers.
 * @example
 * const resolved = await resolvePgCluster((line) => console.log(line));
 * try { … resolved.descriptor … } finally { await resolved.stop(); }
 */
export async function resolvePgCluster(log: (line: string) => void): Promise<ResolvedCluster> {
  const external = fromEnv();
  if (external) {
    log(`using ${ENV.join(', ')} (docker compose --profile ha)`);
    return { descriptor: external, stop: async () => [], stopNow: () => undefined };
  }
  const programs = findPgPrograms();
  if (typeof programs === 'string') {
    const reason = `${programs}; or start the docker-compose \`ha\` profile and set ${ENV.join(', ')}`;
    return { descriptor: { kind: 'unavailable', reason }, stop: async () => [], stopNow: () => undefined };
  }
  const started = await startLocalCluster(programs, { log });
  return {
    descriptor: started.descriptor,
    stop: () => started.stop(),
    stopNow: () => stopLocalClusterNow(started.descriptor),
  };
}
