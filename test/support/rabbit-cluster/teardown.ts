/**
 * Stopping every process of a local cluster by pid, proving none is left, removing its files —
 * after the run, after a boot that failed halfway, and for runs that died without a teardown.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allNodes, epmdPidFile, type LocalDescriptor } from './layout.js';
import { isAlive, markedProcesses, readPid, signalPid, terminate, waitGone } from './processes.js';

/** What {@link stopLocalProcesses} did. */
export interface StopReport {
  /** Processes that were running. */
  found: number;
  /** Of those, the ones that ignored SIGTERM for the grace period and were SIGKILLed. */
  killed: number;
  /** Still alive afterwards (should be none). */
  left: number[];
}

/**
 * Stops every process of the run: the pids in the pid files (each VM, its launcher, epmd) and,
 * on Linux, anything else carrying the run's directory in its environment. SIGTERM first, SIGKILL
 * after `graceMs`.
 *
 * @example
 * ```ts
 * const { left } = await stopLocalProcesses(d, 5_000);
 * ```
 */
export async function stopLocalProcesses(d: LocalDescriptor, graceMs = 5_000): Promise<StopReport> {
  const mark = `${d.dir}${path.sep}`;
  const pids = runPids(d);
  const killed = await terminate(pids, graceMs);
  // Helpers die with their VM a moment later; give them that moment before calling them leftovers.
  const stragglers = markedProcesses(mark);
  if (stragglers.length > 0) await terminate(stragglers, 1_000);
  await waitGone(stragglers, 2_000);
  return { found: pids.length, killed: killed.length, left: markedProcesses(mark) };
}

/** Live pids of the run: from the pid files (VMs, launchers, epmd) and, on Linux, by the mark. */
function runPids(d: LocalDescriptor): number[] {
  const fromFiles = [
    ...allNodes(d).flatMap((n) => [readPid(n.pidFile), readPid(n.launcherPidFile)]),
    readPid(epmdPidFile(d)),
  ].filter((pid): pid is number => pid !== undefined && isAlive(pid));
  return [...new Set([...fromFiles, ...markedProcesses(`${d.dir}${path.sep}`)])];
}

/**
 * SIGKILLs every process of the run at once, synchronously — for a `process.on('exit')` hook,
 * where nothing asynchronous runs any more (vitest exits on Ctrl-C without its global teardown).
 * The directory is left to {@link reapAbandonedClusters}: the dying VMs may still write to it.
 *
 * @example
 * ```ts
 * process.once('exit', () => killLocalProcessesSync(d));
 * ```
 */
export function killLocalProcessesSync(d: LocalDescriptor): void {
  for (const pid of runPids(d)) signalPid(pid, 'SIGKILL');
}

/**
 * Stops the run's processes and removes its directory; throws when a process survived (its
 * files are kept then, for the post-mortem).
 *
 * @example
 * ```ts
 * await destroyLocalCluster(d, (line) => console.log(line));
 * ```
 */
export async function destroyLocalCluster(d: LocalDescriptor, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  const report = await stopLocalProcesses(d);
  if (report.left.length > 0) {
    throw new Error(`cluster ${d.prefix}: processes still alive after teardown: ${report.left.join(', ')}`);
  }
  rmSync(d.dir, { recursive: true, force: true });
  const proof =
    process.platform === 'linux' ? `no process carries ${d.dir} in /proc/*/environ` : 'pid files only';
  log(
    `stopped ${report.found} processes (${report.killed} needed SIGKILL) in ${Date.now() - started} ms; ${proof}; removed ${d.dir}`,
  );
}

const OWNER_FILE = 'owner.pid';

/**
 * Marks `d` as owned by this process (the vitest main process), for {@link reapAbandonedClusters}.
 *
 * @example
 * ```ts
 * claimClusterDir(d);
 * ```
 */
export function claimClusterDir(d: LocalDescriptor): void {
  writeFileSync(path.join(d.dir, OWNER_FILE), String(process.pid));
}

/**
 * Destroys the clusters of earlier runs whose vitest process died without its teardown
 * (Ctrl-C twice, a crash): their nodes are detached and would run on forever. Only directories
 * whose owner process is gone are touched, so a concurrent run is left alone.
 *
 * @example
 * ```ts
 * await reapAbandonedClusters('connkit-rmq-', (line) => console.log(line));
 * ```
 */
export async function reapAbandonedClusters(dirPrefix: string, log: (line: string) => void): Promise<void> {
  const tmp = os.tmpdir();
  for (const entry of readdirSync(tmp)) {
    if (!entry.startsWith(dirPrefix)) continue;
    const dir = path.join(tmp, entry);
    const ownerFile = path.join(dir, OWNER_FILE);
    if (!existsSync(ownerFile)) continue;
    const owner = Number(readFileSync(ownerFile, 'utf8'));
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    const prefix = entry.slice(dirPrefix.length);
    // The scripts and epmd are not needed to stop by pid.
    await destroyLocalCluster({ kind: 'local', dir, prefix, scriptsDir: '', epmd: '' }, (line) =>
      log(`abandoned run ${prefix}: ${line}`),
    );
  }
}
