/**
 * The `pg-lowest` test project runs the PostgreSQL tests on the lowest `pg` that connkit supports
 * (the floor of `peerDependencies.pg`), installed beside the newest as the devDependency alias
 * `pg-lowest` (`npm:pg@<floor>`). vitest.config.ts aliases `pg` to it for every import the tests and
 * the adapter make. `pg-cursor` is CommonJS and `require()`s `pg/lib/…` itself, past vitest's
 * aliases, so the project loads it from a copy placed in `.pg-lowest/node_modules`, whose `pg` is a
 * link to the lowest one ({@link preparePgLowest}, the project's global setup). pg-copy-streams
 * requires no pg: it drives the connection the client hands it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// import.meta.url rather than import.meta.dirname: vitest.config.ts imports this file, and the config
// bundler rewrites import.meta.url to this file's own location.
const root = fileURLToPath(new URL('../..', import.meta.url));
const modules = path.join(root, 'node_modules');

/** Where the alias package lives: `node_modules/pg-lowest`. */
export const PG_LOWEST_DIR = path.join(modules, 'pg-lowest');
/** The newest pg, which nothing in the `pg-lowest` project may load. */
export const PG_DIR = path.join(modules, 'pg');
/** A `node_modules` (git-ignored) whose `pg` is the lowest one, holding the pg-cursor that uses it. */
export const PG_LOWEST_MODULES = path.join(root, '.pg-lowest', 'node_modules');
/** The entry of that pg-cursor copy, which vitest.config.ts aliases `pg-cursor` to. */
export const PG_CURSOR_LOWEST_ENTRY = path.join(PG_LOWEST_MODULES, 'pg-cursor', 'index.js');

interface PackageJson {
  version: string;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** The floor of `peerDependencies.pg` (`^8.23.0` → `8.23.0`): the lowest pg connkit promises to work with. */
export function lowestSupportedPg(): string {
  const range = readPackageJson(root).peerDependencies?.['pg'] ?? '';
  const floor = /^\^(\d+\.\d+\.\d+)$/.exec(range)?.[1];
  if (!floor) throw new Error(`peerDependencies.pg should be a caret range, got '${range}'`);
  return floor;
}

function isCurrent(): boolean {
  try {
    return (
      fs.realpathSync(path.join(PG_LOWEST_MODULES, 'pg')) === fs.realpathSync(PG_LOWEST_DIR) &&
      readPackageJson(path.join(PG_LOWEST_MODULES, 'pg-cursor')).version ===
        readPackageJson(path.join(modules, 'pg-cursor')).version
    );
  } catch {
    return false;
  }
}

/**
 * Makes {@link PG_LOWEST_MODULES}: `pg` a link to `node_modules/pg-lowest`, `pg-cursor` a copy of
 * the installed one. Kept while both still match what is installed; otherwise rebuilt beside it and
 * swapped in with a rename, so a reader never sees half of it.
 */
export function preparePgLowest(): void {
  if (!fs.existsSync(path.join(PG_LOWEST_DIR, 'package.json'))) {
    throw new Error(
      "node_modules/pg-lowest is missing: run npm install (it is the devDependency 'pg-lowest')",
    );
  }
  const installed = readPackageJson(PG_LOWEST_DIR).version;
  const floor = lowestSupportedPg();
  if (installed !== floor) {
    throw new Error(
      `node_modules/pg-lowest is pg ${installed}, but peerDependencies.pg starts at ${floor}: ` +
        `set devDependencies['pg-lowest'] to 'npm:pg@${floor}' and run npm install`,
    );
  }
  if (isCurrent()) return;
  const target = path.dirname(PG_LOWEST_MODULES);
  const staging = `${target}.${process.pid}`;
  const stagingModules = path.join(staging, 'node_modules');
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(stagingModules, { recursive: true });
  // A junction needs no privileges on Windows; elsewhere it is a plain directory symlink.
  fs.symlinkSync(PG_LOWEST_DIR, path.join(stagingModules, 'pg'), 'junction');
  fs.cpSync(path.join(modules, 'pg-cursor'), path.join(stagingModules, 'pg-cursor'), {
    recursive: true,
    dereference: true,
  });
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(staging, target);
}
