/**
 * Operating-system processes of a local cluster, handled by pid.
 *
 * Every process the harness starts — the `rabbitmq-server` launcher script, the beam VM it execs,
 * the VM's helpers (`erl_child_setup`, `inet_gethost`), our epmd and every CLI call — inherits an
 * environment that names the run's directory (HOME and the RABBITMQ_* paths). On Linux that mark
 * finds them all in `/proc/<pid>/environ`, even a helper that escaped into its own session:
 * teardown uses it as a safety net beside the pid files, and to prove nothing is left.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { sleep } from '../../../src/index.js';

/**
 * The pid in `file`, or undefined when the file is missing or empty.
 *
 * @example
 * ```ts
 * const pid = readPid('/tmp/x/node-1/beam.pid');
 * ```
 */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The state letter of `/proc/<path>/stat` (R, S, T, Z, …), or undefined without /proc. */
function procState(path: number | string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${path}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/**
 * True while `pid` runs (a zombie, dead but not yet reaped, counts as gone).
 *
 * @example
 * ```ts
 * if (isAlive(pid)) process.kill(pid, 'SIGKILL');
 * ```
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but is not ours to signal — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return procState(pid) !== 'Z';
}

/**
 * True when every thread of `pid` is stopped by SIGSTOP (Linux; false where /proc is missing).
 * A stop is not instant: each thread of the VM stops itself once it is scheduled, which on a busy
 * machine takes a moment after `kill()` returns.
 *
 * @example
 * ```ts
 * isPaused(beamPid); // true once pause(i) resolved
 * ```
 */
export function isPaused(pid: number): boolean {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return threads.length > 0 && threads.every((tid) => procState(`${pid}/task/${tid}`) === 'T');
}

/**
 * Sends `sig` to `pid`; a process already gone is fine.
 *
 * @example
 * ```ts
 * signalPid(pid, 'SIGSTOP');
 * ```
 */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Resolves true once none of `pids` is alive, false if some still are after `ms`.
 *
 * @example
 * ```ts
 * await waitGone([pid], 5_000);
 * ```
 */
export async function waitGone(pids: Iterable<number>, ms: number): Promise<boolean> {
  const list = [...pids];
  const end = Date.now() + ms;
  for (;;) {
    if (!list.some(isAlive)) return true;
    if (Date.now() >= end) return false;
    await sleep(50);
  }
}

/**
 * Live processes whose environment contains `mark` (the run's directory). Linux only: elsewhere
 * (no /proc) the list is empty and only the pid files are used.
 *
 * @example
 * ```ts
 * markedProcesses('/tmp/connkit-rmq-ck1a2b3c'); // [] after teardown
 * ```
 */
export function markedProcesses(mark: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(mark) && isAlive(Number(entry))) {
        found.push(Number(entry));
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * Stops `pids`: SIGCONT (a paused VM cannot act on SIGTERM), SIGTERM (the beam shuts down
 * cleanly, the launcher script forwards it), then SIGKILL to whatever is left after `graceMs`.
 * Resolves with the pids that had to be killed.
 *
 * @example
 * ```ts
 * const killed = await terminate([beam, launcher], 5_000);
 * ```
 */
export async function terminate(pids: Iterable<number>, graceMs: number): Promise<number[]> {
  const alive = [...new Set(pids)].filter(isAlive);
  for (const pid of alive) signalPid(pid, 'SIGCONT');
  for (const pid of alive) signalPid(pid, 'SIGTERM');
  if (await waitGone(alive, graceMs)) return [];
  const stubborn = alive.filter(isAlive);
  for (const pid of stubborn) signalPid(pid, 'SIGKILL');
  await waitGone(stubborn, 5_000);
  return stubborn;
}
