/**
 * Runs the server's own CLI scripts (`rabbitmqctl`, `rabbitmq-diagnostics`, …) against one node of
 * a local cluster, with that node's environment (our HOME and cookie, our epmd, its dist port).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { waitFor } from '../../../src/index.js';
import type { WaitOptions } from '../../../src/index.js';
import { nodeEnv, nodeLayout, type ClusterPorts, type LocalDescriptor } from './layout.js';

/** A CLI call that exited non-zero (or was cut short); `stderr` says why. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number | string | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Default deadline of one CLI call: they take ≈ 0.8 s each, far longer on a busy machine. */
export const CLI_TIMEOUT = 60_000;

/**
 * Runs `<scriptsDir>/<script> -n <node> args…` and resolves with its stdout.
 *
 * @example
 * ```ts
 * const out = await runCli(d, ports, 0, 'rabbitmqctl', ['cluster_status', '--formatter', 'json']);
 * ```
 */
export function runCli(
  d: LocalDescriptor,
  ports: ClusterPorts,
  index: number,
  script: string,
  args: readonly string[],
  opts: WaitOptions = {},
): Promise<string> {
  const node = nodeLayout(d, index).name;
  const argv = ['-n', node, ...args];
  const what = `${script} ${argv.join(' ')}`;
  return waitFor(
    (signal) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          path.join(d.scriptsDir, script),
          argv,
          { env: nodeEnv(d, ports, index), signal, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) => {
            if (err === null) {
              resolve(stdout);
              return;
            }
            if (signal.aborted) {
              reject(signal.reason);
              return;
            }
            const detail = (stderr || stdout).trim().split('\n').slice(0, 12).join('\n');
            reject(
              new CliError(`${what} failed (exit ${String(err.code)}): ${detail}`, err.code ?? null, stderr),
            );
          },
        );
      }),
    opts.timeout ?? CLI_TIMEOUT,
    { signal: opts.signal },
  );
}
