/**
 * Finds the installed RabbitMQ server's own scripts (not the wrappers on PATH) and `epmd`.
 *
 * Why not the commands on PATH: on Debian/Ubuntu `/usr/sbin/rabbitmq-server` and friends are
 * `rabbitmq-script-wrapper`, which runs the real script through `su rabbitmq` — that resets HOME,
 * so the node and the CLI read the *system* node's Erlang cookie, never ours. The real scripts
 * (`/usr/lib/rabbitmq/bin/rabbitmq-server` → `…/rabbitmq_server-<v>/sbin/rabbitmq-server`) run as
 * the calling user with the environment we give them.
 */
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** Where the server's own scripts and the Erlang port mapper live. */
export interface RabbitInstall {
  /** Directory holding the real `rabbitmq-server`, `rabbitmqctl`, `rabbitmq-env`, … */
  scriptsDir: string;
  /** The `epmd` executable. */
  epmd: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, extra: string[]): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), ...extra];
  for (const dir of dirs) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The directory of the real scripts behind a `rabbitmq-server` found on PATH (wrapper or not). */
function scriptsDirOf(found: string): string | undefined {
  const real = realpathSync(found);
  const dir = path.dirname(real);
  // The Debian wrapper lives next to symlinks to the real scripts; a generic-unix or Homebrew
  // install has the real script itself on PATH. Either way the real one sources rabbitmq-env.
  const candidate = path.join(dir, 'rabbitmq-server');
  if (!executable(candidate) || !executable(path.join(dir, 'rabbitmqctl'))) return undefined;
  const text = readFileSync(realpathSync(candidate), 'utf8');
  return text.includes('rabbitmq-env') ? dir : undefined;
}

/**
 * The local RabbitMQ install, or a sentence saying why there is none usable.
 *
 * @example
 * ```ts
 * const found = findRabbitInstall();
 * if ('missing' in found) console.log(found.missing);
 * else console.log(found.scriptsDir); // /usr/lib/rabbitmq/bin
 * ```
 */
export function findRabbitInstall(): RabbitInstall | { missing: string } {
  // /usr/sbin is not on every user's PATH; /usr/lib/rabbitmq/bin is where Debian keeps the real ones.
  const server = onPath('rabbitmq-server', ['/usr/sbin', '/usr/lib/rabbitmq/bin']);
  if (server === undefined)
    return { missing: 'rabbitmq-server is not installed (not on PATH nor in /usr/sbin)' };
  const scriptsDir = scriptsDirOf(server);
  if (scriptsDir === undefined) {
    return { missing: `found ${server}, but not the server's own scripts (rabbitmq-env) beside it` };
  }
  const epmd = onPath('epmd', ['/usr/lib/erlang/bin']);
  if (epmd === undefined) return { missing: `found ${scriptsDir}, but no epmd (Erlang) on PATH` };
  return { scriptsDir, epmd };
}
