/**
 * Helpers of test/package/pack.test.ts: npm and node run in a scratch project the way a user runs
 * them, and the install commands the README's Install section tells users to type.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { runProcess, type ProcessResult } from '../../src/process.js';

export const root = path.resolve(import.meta.dirname, '../..');

export interface PackageJson {
  name: string;
  license: string;
  files: string[];
  engines: { node: string };
  exports: Record<string, string | { types: string; default: string }>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}

export const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;

/**
 * The bound on one npm or node (tsc) process: a guard against a hang, not a speed check — tsc over the
 * scratch project took over 30 s on the 2-core machine at load 14.
 */
const PROCESS_TIMEOUT = 240_000;

/**
 * npm as the user runs it: the `npm_*` variables of the `npm test` around us are dropped
 * (`npm_config_local_prefix` would aim the install at this repository), except where npm's cache,
 * registry and user config are.
 */
export function npm(args: string[], cwd: string): Promise<ProcessResult> {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') || keep.has(name)),
  );
  env['npm_config_update_notifier'] = 'false';
  const npmCli = process.env['npm_execpath'];
  return npmCli?.endsWith('.js')
    ? runProcess(process.execPath, [npmCli, ...args], { cwd, env, timeout: PROCESS_TIMEOUT })
    : runProcess('npm', args, { cwd, env, timeout: PROCESS_TIMEOUT });
}

/**
 * `npm install <specs>` from npm's cache where it can; asserts that it succeeded without a peer,
 * ERESOLVE or engine warning (so no `--legacy-peer-deps` is needed) and that `npm ls --all` finds the
 * tree complete (no missing or invalid peer).
 */
export async function install(specs: string[], cwd: string): Promise<void> {
  const result = await npm(['install', ...specs, '--prefer-offline', '--no-audit', '--no-fund'], cwd);
  expect(result.exitCode, result.stderr).toBe(0);
  const warnings = result.stderr.split('\n').filter((line) => /^npm warn/i.test(line));
  expect(warnings.filter((line) => /peer|ERESOLVE|EBADENGINE/i.test(line))).toEqual([]);
  const tree = await npm(['ls', '--all'], cwd);
  expect(tree.exitCode, tree.stdout + tree.stderr).toBe(0);
}

/** Runs `node <args>` in `cwd`. */
export function node(args: string[], cwd: string): Promise<ProcessResult> {
  return runProcess(process.execPath, args, { cwd, timeout: PROCESS_TIMEOUT });
}

/** A fresh ESM application directory `name` under `scratch`. */
export function createApp(scratch: string, name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  return dir;
}

/** The README's `## <title>` section (empty when there is none). */
export function readmeSection(title: string): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  return readme.split(/^## /m).find((section) => section.startsWith(`${title}\n`)) ?? '';
}

/** The README's Install section. */
export function readmeInstall(): string {
  return readmeSection('Install');
}

/** What follows `npm install connkit` on each command line of the README's Install section. */
export function readmeInstallCommands(): string[][] {
  return [...readmeInstall().matchAll(/^npm install connkit ([^#\n]*)/gm)].map((m) =>
    (m[1] ?? '').trim().split(/\s+/),
  );
}
