/**
 * A fresh local cluster's descriptor: a unique node-name prefix and an empty directory of its
 * own under the system temp dir, claimed by this process (should it die without a teardown, the
 * next run's global setup destroys what it left). Nothing runs yet.
 */
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { RabbitInstall } from './install.js';
import type { LocalDescriptor } from './layout.js';
import { claimClusterDir } from './teardown.js';

/** Temp directories of local clusters start with this (the reaper looks for it). */
export const CLUSTER_DIR_PREFIX = 'connkit-rmq-';

/**
 * Plans a local cluster on `install`.
 *
 * @example
 * ```ts
 * const found = findRabbitInstall();
 * if (!('missing' in found)) planLocalCluster(found).prefix; // 'ck1a2b3c'
 * ```
 */
export function planLocalCluster(install: RabbitInstall): LocalDescriptor {
  // Node names must be unique on the host; the prefix also marks every process of the run.
  const prefix = `ck${randomBytes(3).toString('hex')}`;
  const dir = path.join(os.tmpdir(), `${CLUSTER_DIR_PREFIX}${prefix}`);
  mkdirSync(dir, { mode: 0o700 });
  const d: LocalDescriptor = {
    kind: 'local',
    dir,
    prefix,
    scriptsDir: install.scriptsDir,
    epmd: install.epmd,
  };
  claimClusterDir(d);
  return d;
}
