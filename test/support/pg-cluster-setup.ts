/**
 * Vitest global setup of the `ha` project: one PostgreSQL primary + streaming standby + PgBouncer
 * per run, shared by every HA test file through `provide('pgCluster', descriptor)`, and stopped
 * afterwards. Vitest 4 runs a project's global setup only when files of that project were selected,
 * so `npm run test:unit` or `npx vitest run test/unit/…` never starts these servers.
 */
import type { TestProject } from 'vitest/node';
import type { ClusterDescriptor } from './pg-cluster/descriptor.js';
import { resolvePgCluster } from './pg-cluster/resolve.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgCluster: ClusterDescriptor;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => console.log(`[pg-ha] ${line}`);
  const resolved = await resolvePgCluster(log);
  if (resolved.descriptor.kind === 'unavailable') log(`HA tests will skip: ${resolved.descriptor.reason}`);
  project.provide('pgCluster', resolved.descriptor);
  // Vitest exits on Ctrl-C/SIGTERM without running global teardowns: end the servers on the way out.
  const onExit = () => resolved.stopNow();
  process.once('exit', onExit);
  return async () => {
    process.off('exit', onExit);
    const started = performance.now();
    const left = await resolved.stop();
    if (left.length > 0) {
      throw new Error(`[pg-ha] processes of the HA pair still running after teardown: ${left.join(' ')}`);
    }
    if (resolved.descriptor.kind === 'local') {
      log(
        `stopped in ${Math.round(performance.now() - started)} ms; no process carries ${resolved.descriptor.tag}, temp dir removed`,
      );
    }
  };
}
