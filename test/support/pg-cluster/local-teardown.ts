/**
 * Ending a local HA pair + PgBouncer, all by pid: the orderly stop used by teardown (and by a start
 * that failed halfway), and the synchronous last resort for a process that is exiting.
 */
import { readFileSync, rmSync } from 'node:fs';
import type { LocalClusterDescriptor } from './descriptor.js';
import { LocalPgCluster } from './local-cluster.js';
import { alive, childrenOf, commandLine, ledgerPids, pidsMatching, pollUntil, signal } from './processes.js';

/**
 * PgBouncer's pid from its pid file, if that process still runs this run's ini.
 * @example
 * const pid = bouncerPid(descriptor);
 */
export function bouncerPid(d: LocalClusterDescriptor): number | undefined {
  try {
    const pid = Number(readFileSync(d.bouncer.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && commandLine(pid).includes(d.bouncer.ini) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops both nodes (pg_ctl immediate; SIGKILL by pid if that fails) and PgBouncer (SIGTERM, then
 * SIGKILL), ends any other pid of the ledger that still runs from this directory, removes the temp
 * directory, and resolves with the pids that still carry the run's tag (none, normally).
 * @example
 * const left = await stopLocalCluster(descriptor); // [] when everything is gone
 */
export async function stopLocalCluster(d: LocalClusterDescriptor): Promise<number[]> {
  const cluster = new LocalPgCluster(d);
  for (const name of ['b', 'a'] as const) {
    try {
      await cluster.stop(name);
    } catch {
      const pid = cluster.postmasterPid(name);
      if (pid !== undefined) killNow(pid);
    }
  }
  const bouncer = bouncerPid(d);
  if (bouncer !== undefined) {
    signal(bouncer, 'SIGTERM');
    if (!(await pollUntil(() => !alive(bouncer), 5000))) killNow(bouncer);
  }
  for (const pid of ledgerPids(d.ledger)) {
    if (alive(pid) && commandLine(pid).includes(d.root)) killNow(pid);
  }
  // Backends of a SIGKILLed postmaster outlive it briefly; they carry the tag in their titles.
  if (!(await pollUntil(() => pidsMatching(d.tag).length === 0, 5000))) {
    for (const pid of pidsMatching(d.tag)) killNow(pid);
    await pollUntil(() => pidsMatching(d.tag).length === 0, 2000);
  }
  rmSync(d.root, { recursive: true, force: true });
  return pidsMatching(d.tag);
}

/**
 * The synchronous last resort for a vitest process that exits without running teardowns (Ctrl-C,
 * SIGTERM): SIGQUIT to each postmaster (immediate shutdown; it ends its own children), SIGTERM to
 * PgBouncer, SIGKILL to any other live ledger pid of this run, then the temp dir goes.
 * @example
 * process.once('exit', () => stopLocalClusterNow(descriptor));
 */
export function stopLocalClusterNow(d: LocalClusterDescriptor): void {
  const cluster = new LocalPgCluster(d);
  const asked = new Set<number>();
  for (const name of ['b', 'a'] as const) {
    const pid = cluster.postmasterPid(name);
    if (pid === undefined) continue;
    for (const child of childrenOf(pid)) signal(child, 'SIGCONT');
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGQUIT');
    asked.add(pid);
  }
  const bouncer = bouncerPid(d);
  if (bouncer !== undefined) {
    signal(bouncer, 'SIGTERM');
    asked.add(bouncer);
  }
  for (const pid of ledgerPids(d.ledger)) {
    if (!asked.has(pid) && alive(pid) && commandLine(pid).includes(d.root)) killNow(pid);
  }
  try {
    rmSync(d.root, { recursive: true, force: true });
  } catch {
    // A server still removing its own files races with us; the directory is in the temp dir.
  }
}

function killNow(pid: number): void {
  signal(pid, 'SIGCONT');
  signal(pid, 'SIGKILL');
}
