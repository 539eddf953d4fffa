/**
 * `rabbitmqctl` helpers for fault tests: find, count and close the broker-side connections and
 * channels of one client (by its connection name), so a test disturbs nothing but its own client.
 * Where `rabbitmqctl` is not on PATH (services in Docker), `hasRabbitmqctl()` is false and tests
 * must say what they do instead.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

let found: boolean | undefined;

/** True when `rabbitmqctl` is an executable on PATH. */
export function hasRabbitmqctl(): boolean {
  if (found === undefined) {
    found = (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => {
      try {
        accessSync(path.join(dir, 'rabbitmqctl'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  }
  return found;
}

let usable: Promise<boolean> | undefined;

/**
 * True when `rabbitmqctl` is on PATH *and* can talk to the node (it may be installed but lack the
 * Erlang cookie, e.g. when not run as root). Checked once per test file; a refusal is explained.
 */
export function canUseRabbitmqctl(): Promise<boolean> {
  usable ??= hasRabbitmqctl()
    ? rabbitmqctl('eval', 'ok.').then(
        () => true,
        (err: unknown) => {
          console.log(
            `[faults] rabbitmqctl is on PATH but cannot reach the node: ${String(err).split('\n')[0]}`,
          );
          return false;
        },
      )
    : Promise.resolve(false);
  return usable;
}

/** Runs `rabbitmqctl args…` and returns its stdout. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 120_000 });
  return stdout;
}

/** Broker-side pids of the connections whose client properties mention `clientName`, in `list_connections` order. */
export async function connectionPids(clientName: string): Promise<string[]> {
  const out = await rabbitmqctl(
    'list_connections',
    'pid',
    'client_properties',
    '--quiet',
    '--no-table-headers',
  );
  return out
    .split('\n')
    .filter((line) => line.includes(clientName))
    .map((line) => line.split('\t')[0]!);
}

function connsOf(connectionName: string): string {
  // The name goes into an Erlang binary literal: only plain names, never anything to escape.
  if (!/^[\w.-]+$/.test(connectionName))
    throw new RangeError(`unsupported connection name ${connectionName}`);
  return (
    `Conns = [proplists:get_value(pid, I) || I <- rabbit_networking:connection_info_all([pid, client_properties]), ` +
    `lists:member({<<"connection_name">>, longstr, <<"${connectionName}">>}, proplists:get_value(client_properties, I, []))]`
  );
}

/** Broker-side connections and channels of the client named `connectionName` (one `rabbitmqctl` call). */
export async function clientCounts(
  connectionName: string,
): Promise<{ connections: number; channels: number }> {
  const out = await rabbitmqctl(
    'eval',
    `${connsOf(connectionName)}, {length(Conns), length([1 || [{connection, P}] <- rabbit_channel:info_all([connection]), lists:member(P, Conns)])}.`,
  );
  const m = /\{(\d+),(\d+)\}/.exec(out.replace(/\s/g, ''));
  if (!m) throw new Error(`unexpected rabbitmqctl output: ${out}`);
  return { connections: Number(m[1]), channels: Number(m[2]) };
}

/** Closes (broker side) every connection named `connectionName`; returns how many. */
export async function closeConnectionsNamed(
  connectionName: string,
  reason = 'connkit fault test',
): Promise<number> {
  const out = await rabbitmqctl(
    'eval',
    `${connsOf(connectionName)}, [rabbit_networking:close_connection(P, "${reason.replace(/[^\w .-]/g, '')}") || P <- Conns], length(Conns).`,
  );
  return Number(out.trim()) || 0;
}
