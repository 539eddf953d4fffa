/**
 * Where the PostgreSQL server programs and PgBouncer live on this machine, and which user runs them.
 * Debian puts the server programs in a versioned lib directory (`/usr/lib/postgresql/<ver>/bin`)
 * that is not on PATH; `pg_config --bindir` names it when the client package is installed.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';

/** The programs the harness runs, and how it becomes the user they must run as. */
export interface PgPrograms {
  /** Directory holding initdb, pg_ctl, pg_basebackup. */
  bindir: string;
  /** The pgbouncer executable. */
  pgbouncer: string;
  /**
   * Argument vector prefix that runs a command as the owner of the data directories: `setpriv` to
   * the `postgres` user when we are root (initdb and pgbouncer refuse root), empty otherwise.
   */
  runAs: string[];
  /** uid/gid the temp files must belong to (the `postgres` user when root, else ourselves). */
  owner: { uid: number; gid: number };
}

const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasServerPrograms(dir: string): boolean {
  return SERVER_PROGRAMS.every((p) => executable(path.join(dir, p)));
}

function onPath(name: string, extra: string[] = []): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), ...extra];
  return dirs.map((d) => path.join(d, name)).find(executable);
}

/** Candidate bin directories, best first: `$PG_BINDIR`, `pg_config --bindir`, newest `/usr/lib/postgresql/<ver>/bin`. */
function candidateBindirs(): string[] {
  const found: string[] = [];
  const fromEnv = process.env['PG_BINDIR'];
  if (fromEnv) found.push(fromEnv);
  const pgConfig = onPath('pg_config');
  if (pgConfig) {
    try {
      found.push(execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8' }).trim());
    } catch {
      // A broken pg_config only means one candidate less.
    }
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    found.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // No Debian layout here.
  }
  return found;
}

function idOf(user: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds the server programs, pgbouncer and the user to run them as.
 * @returns the programs, or a sentence saying what is missing (printed as the reason HA tests skip).
 * @example
 * const found = findPgPrograms();
 * if (typeof found === 'string') console.log(`no local cluster: ${found}`);
 */
export function findPgPrograms(): PgPrograms | string {
  const bindir = candidateBindirs().find(hasServerPrograms);
  if (!bindir) {
    return 'PostgreSQL server programs (initdb, pg_ctl, pg_basebackup) not found via $PG_BINDIR, `pg_config --bindir` or /usr/lib/postgresql/<ver>/bin (Debian: apt-get install postgresql)';
  }
  const pgbouncer = onPath('pgbouncer', ['/usr/sbin', '/usr/local/sbin']);
  if (!pgbouncer) return 'pgbouncer not found on PATH or in /usr/sbin (Debian: apt-get install pgbouncer)';
  if (process.getuid?.() !== 0) {
    return {
      bindir,
      pgbouncer,
      runAs: [],
      owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    };
  }
  const owner = idOf('postgres');
  if (!owner) return 'running as root but there is no `postgres` user to run the servers as';
  // setpriv execs the program itself (no forked parent in between, unlike runuser/su), so the pid we
  // see is the program's own.
  const setpriv = onPath('setpriv', ['/usr/bin', '/bin']);
  const runuser = onPath('runuser', ['/usr/sbin', '/sbin']);
  const runAs = setpriv
    ? [setpriv, '--reuid=postgres', '--regid=postgres', '--init-groups', '--']
    : runuser
      ? [runuser, '-u', 'postgres', '--']
      : undefined;
  if (!runAs) return 'running as root but neither setpriv nor runuser is available to become `postgres`';
  return { bindir, pgbouncer, runAs, owner };
}
