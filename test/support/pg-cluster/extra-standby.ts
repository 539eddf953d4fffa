/**
 * A third node on request: a second streaming standby of `a` (node `c`), for tests that spread reads
 * over several replicas. Cloned without a replication slot (nothing is retained for it once it is
 * gone), on a port the OS reports free, its postmaster recorded in the run's ledger — so teardown
 * ends it even if the test that started it did not.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeStandbyConf } from './config-files.js';
import type { LocalNodeDescriptor } from './descriptor.js';
import type { LocalPgCluster } from './local-cluster.js';
import { freePort } from './ports.js';
import { recordPid, run } from './processes.js';
import { nodeRole } from './sql.js';

/** A running extra standby. */
export interface ExtraStandby {
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  readonly url: string;
  /** Stops it (`pg_ctl stop -m immediate`) and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Clones node `c` from `a` (`pg_basebackup -R -X stream`, no slot), starts it and resolves once it
 * answers as a standby.
 * @example
 * const c = await startExtraStandby(cluster);
 * try { … c.url … } finally { await c.stop(); }
 */
export async function startExtraStandby(cluster: LocalPgCluster): Promise<ExtraStandby> {
  const d = cluster.descriptor;
  const taken = [d.nodes.a.port, d.nodes.b.port, d.bouncer.port];
  const self: LocalNodeDescriptor = {
    port: await freePort(taken),
    dataDir: path.join(d.root, 'c'),
    logFile: path.join(d.root, 'c.log'),
    clusterName: `${d.tag}-c`,
    slot: '',
  };
  const pgCtl = (args: string[]) =>
    run([...d.runAs, path.join(d.bindir, 'pg_ctl'), ...args], { env: cluster.childEnv() });
  rmSync(self.dataDir, { recursive: true, force: true });
  await run(
    [
      ...d.runAs,
      path.join(d.bindir, 'pg_basebackup'),
      ...['-h', '127.0.0.1', '-p', String(d.nodes.a.port), '-U', 'postgres'],
      ...['-D', self.dataDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'],
    ],
    { env: cluster.childEnv(), timeout: 120_000 },
  );
  writeStandbyConf(d, self, d.nodes.a);
  await pgCtl(['start', '-w', '-t', '60', '-D', self.dataDir, '-l', self.logFile]);
  const url = `postgres://postgres@127.0.0.1:${self.port}/${d.database}`;
  const pidFile = path.join(self.dataDir, 'postmaster.pid');
  recordPid(d.ledger, Number(readFileSync(pidFile, 'utf8').split('\n')[0]));
  if ((await nodeRole(url)) !== 'standby') throw new Error(`node c started but is not a standby (${url})`);
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop: () =>
      (stopped ??= (async () => {
        await pgCtl(['stop', '-w', '-t', '60', '-m', 'immediate', '-D', self.dataDir]).catch(() => undefined);
        rmSync(self.dataDir, { recursive: true, force: true });
      })()),
  };
}
