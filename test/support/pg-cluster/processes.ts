/**
 * Process bookkeeping for the HA harness, all by pid: running a program to completion, the ledger of
 * server pids, finding a server's children, pausing and ending them. Linux only (reads /proc).
 */
import { execFile } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';

/** A program that exited non-zero or timed out; the message carries its output. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/**
 * Runs `argv` to completion and resolves with its stdout; rejects with {@link CommandError} (stdout,
 * stderr and `hint` in the message) when it fails or outlives `timeout` ms.
 * @example
 * await run(['/usr/lib/postgresql/15/bin/pg_ctl', '--version']);
 */
export function run(
  argv: readonly string[],
  opts: { timeout?: number; env?: NodeJS.ProcessEnv; hint?: () => string } = {},
): Promise<string> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('run() needs a program');
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeout ?? 90_000, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 8 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const hint = opts.hint?.() ?? '';
        reject(
          new CommandError(
            `${argv.join(' ')} failed (${err.killed ? 'timed out' : `exit ${String(err.code)}`}):\n${stderr}${stdout}${hint}`,
          ),
        );
      },
    );
  });
}

/**
 * True when `pid` runs. A zombie counts as gone: PID 1 of a container may take a second or more to
 * reap an orphan (a daemonized PgBouncer, a postmaster's leftovers).
 */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The command line (or the title a server set) of `pid`, '' when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // Field 4 of /proc/<pid>/stat, after the parenthesised name (which may itself hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Direct children of `pid` (a postmaster's backends and auxiliary processes). */
export function childrenOf(pid: number): number[] {
  return allPids().filter((p) => parentOf(p) === pid);
}

/**
 * Pids whose command line contains `needle` — the verification that a run's unique tag left no
 * process behind (what `pgrep -f <tag>` shows).
 */
export function pidsMatching(needle: string): number[] {
  return allPids().filter((p) => p !== process.pid && commandLine(p).includes(needle));
}

/** Sends `signal` to `pid`, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Appends `pid` to the run's ledger, so teardown can end it even when a worker started it. */
export function recordPid(ledger: string, pid: number): void {
  appendFileSync(ledger, `${pid}\n`);
}

/** Every pid in the ledger (empty when there is none yet). */
export function ledgerPids(ledger: string): number[] {
  try {
    return readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map(Number).filter(Number.isInteger);
  } catch {
    return [];
  }
}

/** Polls every 25 ms until `check()` is true; false after `ms`. */
export async function pollUntil(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
