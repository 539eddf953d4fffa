/**
 * {@link runProcess}: run a program (no shell), feed it input, collect its output, kill it on
 * abort or timeout.
 * @module
 */
import { spawn } from 'node:child_process';
import { TimeoutError } from './errors.js';
import { checkDuration, checkSignal, describeValue } from './options.js';
import { unwatchAbort, watchAbort } from './internal/abort-watch.js';
import type { AbortWatcher } from './internal/abort-watch.js';
import { startTimeout } from './internal/at-once.js';
import { startTimer } from './internal/timer.js';

/**
 * Options of {@link runProcess}.
 * @example
 * ```ts
 * await runProcess('pg_dump', ['mydb'], { timeout: 60_000, killTimeout: 2000 } satisfies RunProcessOptions);
 * ```
 */
export interface RunProcessOptions {
  /** Aborting it kills the child and rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /**
   * Milliseconds the child may run; then it is killed and the call rejects with `TimeoutError`. `0`
   * rejects at once without starting it (no process finishes at once). @default Infinity
   */
  timeout?: number | undefined;
  /** Written to the child's stdin, which is then closed. Without it stdin is empty. */
  input?: string | Uint8Array | undefined;
  /** Working directory of the child. @default process.cwd() */
  cwd?: string | undefined;
  /** Environment of the child. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
  /** Milliseconds between SIGTERM and SIGKILL when the child must be killed (`0`: at once). @default 5_000 */
  killTimeout?: number | undefined;
}

/**
 * Outcome of {@link runProcess}; a non-zero exit is a result, not an error.
 * @example
 * ```ts
 * const r: ProcessResult = await runProcess('false');
 * if (r.exitCode !== 0) console.error(r.stderr);
 * ```
 */
export interface ProcessResult {
  /** Exit code, or `null` if the child was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the child, or `null`. */
  signal: NodeJS.Signals | null;
  /** Everything the child wrote to stdout, decoded as UTF-8. */
  stdout: string;
  /** Everything the child wrote to stderr, decoded as UTF-8. */
  stderr: string;
}

/**
 * Runs `file` with `args` (never through a shell, so arguments need no quoting) and resolves with
 * its exit status and output once it has exited and closed its output. On abort or timeout the
 * child gets SIGTERM, then SIGKILL after `killTimeout`; the call rejects with `signal.reason` /
 * `TimeoutError` once the child has exited. A spawn failure (e.g. `ENOENT`) rejects with Node's error.
 * Messages name `file` but never `args` (which may hold secrets).
 *
 * @example
 * ```ts
 * const { exitCode, stdout } = await runProcess('git', ['rev-parse', 'HEAD'], { timeout: 5000 });
 * const { stdout: sorted } = await runProcess('sort', [], { input: 'b\na\n' });
 * ```
 */
export function runProcess(
  file: string,
  args: readonly string[] = [],
  opts?: RunProcessOptions,
): Promise<ProcessResult> {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`runProcess() file must be a non-empty string, got ${describeValue(file)}`);
  }
  if (!Array.isArray(args)) {
    throw new TypeError(`runProcess() args must be an array of strings, got ${describeValue(args)}`);
  }
  // Only the offending element is quoted: the others may hold secrets, and it is not a string anyway.
  const bad = args.findIndex((a) => typeof a !== 'string');
  if (bad !== -1) {
    throw new TypeError(
      `runProcess() args must be an array of strings, got ${describeValue(args[bad])} at index ${bad}`,
    );
  }
  const timeout = checkDuration(opts?.timeout, 'timeout', Infinity);
  const killTimeout = checkDuration(opts?.killTimeout, 'killTimeout', 5_000);
  const signal = checkSignal(opts?.signal);
  const input = opts?.input;
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new TypeError(`input must be a string or a Uint8Array, got ${describeValue(input)}`);
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  // A process never finishes "at once" (timeout 0): reject before starting one.
  if (timeout === 0) {
    return Promise.reject(
      new TimeoutError(`runProcess(${JSON.stringify(file)}) timed out after 0 ms (not started)`),
    );
  }

  return new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts?.cwd,
      env: opts?.env,
      shell: false,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let failure: { error: unknown } | undefined;
    let cancelKill = noop;
    const cleanup = (): void => {
      cancelTimer();
      cancelKill();
      if (signal !== undefined) unwatchAbort(signal, watcher);
    };
    const kill = (error: unknown): void => {
      if (failure !== undefined) return;
      failure = { error };
      cancelTimer();
      if (signal !== undefined) unwatchAbort(signal, watcher);
      child.kill('SIGTERM');
      cancelKill = startTimeout(killTimeout, () => child.kill('SIGKILL'));
    };
    const watcher: AbortWatcher = { giveUp: (reason) => kill(reason) };
    const cancelTimer = startTimer(timeout, () =>
      kill(
        new TimeoutError(
          `runProcess(${JSON.stringify(file)}) timed out after ${timeout} ms (pid ${child.pid})`,
        ),
      ),
    );
    if (signal !== undefined) watchAbort(signal, watcher);

    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      // Spawn failures (ENOENT, EACCES) arrive here; kill failures too, after an exit we still await.
      if (child.pid === undefined) {
        cleanup();
        reject(err);
      }
    });
    // A killed child may leave grandchildren holding its pipes: after a kill, 'exit' is enough.
    child.once('exit', () => {
      if (failure === undefined) return;
      cleanup();
      reject(failure.error);
    });
    child.once('close', (exitCode, exitSignal) => {
      cleanup();
      if (failure !== undefined) return reject(failure.error);
      resolve({
        exitCode,
        signal: exitSignal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    if (child.stdin) {
      // The child may exit without reading its input: EPIPE is expected, not a crash.
      child.stdin.on('error', noop);
      child.stdin.end(input);
    }
  });
}

function noop(): void {}
