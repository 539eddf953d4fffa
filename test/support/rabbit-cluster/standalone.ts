/**
 * A local 3-node cluster for a program outside vitest (`npm run demo -- --cluster`): planned in
 * a directory of its own, booted, and destroyed by `stop()` — or SIGKILLed by an `exit` hook when
 * the program ends without it (the next test run's global setup removes what is left).
 */
import { bootCluster } from './boot.js';
import { RabbitCluster } from './cluster.js';
import { findRabbitInstall } from './install.js';
import { planLocalCluster } from './plan.js';
import { destroyLocalCluster, killLocalProcessesSync } from './teardown.js';

/** A running local cluster and the way to stop it. */
export interface StandaloneCluster {
  cluster: RabbitCluster;
  /** Stops every process of the cluster and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Boots a local cluster from the installed `rabbitmq-server`; rejects with what is missing when
 * there is none.
 *
 * @example
 * ```ts
 * const { cluster, stop } = await startLocalCluster((line) => console.error(line));
 * try { use(cluster.urls); } finally { await stop(); }
 * ```
 */
export async function startLocalCluster(log: (line: string) => void): Promise<StandaloneCluster> {
  const install = findRabbitInstall();
  if ('missing' in install) {
    throw new Error(`--cluster without AMQP_URLS starts a local cluster, but ${install.missing}`);
  }
  const d = planLocalCluster(install);
  const onExit = (): void => killLocalProcessesSync(d);
  process.once('exit', onExit);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off('exit', onExit);
      await destroyLocalCluster(d, log);
    })();
    return stopped;
  };
  const cluster = new RabbitCluster(d);
  try {
    const started = Date.now();
    // bootCluster, not ensureAllRunning(): that one reports on stdout, which `--json` keeps clean.
    await bootCluster(d);
    log(`booted ${cluster.nodes.join(', ')} in ${Date.now() - started} ms`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster, stop };
}
