/**
 * The package as users get it: `npm pack` (which builds through `prepack`), then the tarball
 * installed into a scratch project the way the README's Install section says — `npm install connkit
 * pg` first, `amqplib` added after — and a strict TypeScript app using every entry point
 * (./consumer/app.ts) type-checked against the installed declarations, plus a CommonJS file
 * (./consumer/require.cts) compiled and run. Needs the npm registry (or npm's cache: installs run
 * with --prefer-offline); the scratch directory is removed afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess, type ProcessResult } from '../../src/process.js';
import { packagesReachedFrom } from './import-graph.js';

const root = path.resolve(import.meta.dirname, '../..');
const consumer = path.join(import.meta.dirname, 'consumer');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const nodeMajor = process.versions.node.split('.')[0] ?? '20';

interface PackageJson {
  name: string;
  license: string;
  files: string[];
  exports: Record<string, string | { types: string; default: string }>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;

/**
 * npm as the user runs it: the `npm_*` variables of the `npm test` around us (`npm_config_local_prefix`
 * would point the install at this repository) are dropped, except where npm's cache and registry are.
 */
function npm(args: string[], cwd: string): Promise<ProcessResult> {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') || keep.has(name)),
  );
  env['npm_config_update_notifier'] = 'false';
  const npmCli = process.env['npm_execpath'];
  return npmCli?.endsWith('.js')
    ? runProcess(process.execPath, [npmCli, ...args], { cwd, env, timeout: 90_000 })
    : runProcess('npm', args, { cwd, env, timeout: 90_000 });
}

async function install(specs: string[], cwd: string): Promise<void> {
  const result = await npm(['install', ...specs, '--prefer-offline', '--no-audit', '--no-fund'], cwd);
  expect(result.exitCode, result.stderr).toBe(0);
  // Missing or conflicting peers and unsupported engines: none, and no --legacy-peer-deps needed.
  const warnings = result.stderr.split('\n').filter((line) => /^npm warn/i.test(line));
  expect(warnings.filter((line) => /peer|ERESOLVE|EBADENGINE/i.test(line))).toEqual([]);
  const tree = await npm(['ls', '--all'], cwd);
  expect(tree.exitCode, tree.stdout + tree.stderr).toBe(0);
}

function node(args: string[], cwd: string): Promise<ProcessResult> {
  return runProcess(process.execPath, args, { cwd, timeout: 30_000 });
}

let scratch: string;
let tarball: string;
let files: string[];
const app = () => path.join(scratch, 'app');
const installed = () => path.join(app(), 'node_modules', 'connkit');

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'connkit-pack-'));
  fs.mkdirSync(app());
  const packed = await npm(['pack', '--json', '--pack-destination', scratch], root);
  expect(packed.exitCode, packed.stderr).toBe(0);
  const [report] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = path.join(scratch, report.filename);
  files = report.files.map((f) => f.path);
}, 120_000);

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships dist/, README.md, LICENSE and package.json only: no sources, tests or source maps', () => {
    expect(pkg.files).toEqual(['dist', 'README.md', 'LICENSE']);
    expect(files.filter((f) => !f.startsWith('dist/')).sort()).toEqual([
      'LICENSE',
      'README.md',
      'package.json',
    ]);
    expect(files.filter((f) => /\.map$|\.test\.|(^|\/)test\/|(?<!\.d)\.ts$/.test(f))).toEqual([]);
    for (const target of Object.values(pkg.exports)) {
      for (const file of typeof target === 'string' ? [target] : [target.types, target.default]) {
        expect(files).toContain(file.replace(/^\.\//, ''));
      }
    }
    const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
    expect(pkg.license).toBe('MIT');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} connkit contributors\n/);
  });
});

describe('the tarball installed into a project with pg alone', () => {
  beforeAll(async () => {
    fs.writeFileSync(
      path.join(app(), 'package.json'),
      JSON.stringify({ name: 'connkit-consumer', private: true, type: 'module' }),
    );
    await install([tarball, 'pg', `@types/node@${nodeMajor}`], app());
  }, 120_000);

  it('installs no amqplib, and connkit, pg-cursor and the types share the app’s own pg', () => {
    const modules = path.join(app(), 'node_modules');
    expect(fs.existsSync(path.join(modules, 'amqplib'))).toBe(false);
    // One pg, one @types/pg: nothing nested under connkit or pg-cursor.
    expect(fs.existsSync(path.join(installed(), 'node_modules'))).toBe(false);
    expect(fs.existsSync(path.join(modules, 'pg-cursor', 'node_modules'))).toBe(false);
    expect(fs.existsSync(path.join(modules, '@types', 'pg', 'index.d.ts'))).toBe(true);
  });

  it('loads connkit and connkit/postgres through import and through require()', async () => {
    const imported = await node(
      [
        '--input-type=module',
        '-e',
        "const [c, p] = await Promise.all([import('connkit'), import('connkit/postgres')]); console.log(typeof c.Pool, typeof p.Database)",
      ],
      app(),
    );
    expect(imported.stdout.trim(), imported.stderr).toBe('function function');
    const required = await node(
      [
        '--input-type=commonjs',
        '-e',
        "console.log(typeof require('connkit').Pool, typeof require('connkit/postgres').Database)",
      ],
      app(),
    );
    // require() of ES modules: unflagged from Node 20.19 / 22.12, the floor of engines.node.
    expect(required.stdout.trim(), required.stderr).toBe('function function');
  });

  it('keeps each entry point to its own peer: core imports neither, postgres no amqplib, amqp no pg', () => {
    const reach = (entry: string, kind: 'types' | 'default') => {
      const target = pkg.exports[entry];
      if (typeof target !== 'object') throw new Error(`exports['${entry}'] should have conditions`);
      return [...packagesReachedFrom(path.join(installed(), target[kind])).keys()];
    };
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    const pgSide = ['pg', 'pg-cursor', 'pg-copy-streams', '@types/pg'];
    for (const kind of ['default', 'types'] as const) {
      const core = reach('.', kind);
      const postgres = reach('./postgres', kind);
      const amqp = reach('./amqp', kind);
      const outbox = reach('./outbox', kind);
      for (const name of [...core, ...postgres, ...amqp, ...outbox]) {
        if (!name.startsWith('node:')) expect([...declared], `${name} (${kind})`).toContain(name);
      }
      expect(core.filter((name) => !name.startsWith('node:'))).toEqual(
        kind === 'default' ? ['generic-pool'] : [],
      );
      expect(postgres).toContain('pg');
      expect(postgres).not.toContain('amqplib');
      expect(amqp).toContain('amqplib');
      expect(amqp.filter((name) => pgSide.includes(name))).toEqual([]);
      // The outbox works on the Database and Broker it is given: it names their types, not their drivers.
      if (kind === 'types') expect(outbox).toEqual(expect.arrayContaining(['pg', 'amqplib']));
    }
    expect(reach('./postgres', 'default')).toEqual(expect.arrayContaining(['pg-cursor', 'pg-copy-streams']));
    expect(Object.keys(pkg.peerDependenciesMeta).sort()).toEqual(['amqplib', 'pg']);
    expect(Object.values(pkg.peerDependenciesMeta).every((meta) => meta.optional)).toBe(true);
  });
});

describe('amqplib added to that project', () => {
  beforeAll(async () => {
    await install(['amqplib'], app());
    for (const file of ['app.ts', 'require.cts']) {
      fs.copyFileSync(path.join(consumer, file), path.join(app(), file));
    }
  }, 120_000);

  it('type-checks an app using every entry point under strict, skipLibCheck off, by node and bundler resolution', async () => {
    const config = (compilerOptions: Record<string, unknown>, included: string[]) =>
      JSON.stringify({
        compilerOptions: { target: 'ES2022', strict: true, skipLibCheck: false, ...compilerOptions },
        files: included,
      });
    fs.writeFileSync(
      path.join(app(), 'tsconfig.json'),
      config({ module: 'nodenext', outDir: 'out' }, ['app.ts', 'require.cts']),
    );
    fs.writeFileSync(
      path.join(app(), 'tsconfig.bundler.json'),
      config({ module: 'preserve', moduleResolution: 'bundler', noEmit: true }, ['app.ts']),
    );
    for (const project of ['tsconfig.json', 'tsconfig.bundler.json']) {
      const checked = await node([tsc, '-p', project], app());
      expect(checked.stdout + checked.stderr, project).toBe('');
      expect(checked.exitCode).toBe(0);
    }
  });

  it('runs a compiled CommonJS module that require()s connkit and its adapters', async () => {
    const ran = await node([path.join('out', 'require.cjs')], app());
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual({ core: true, postgres: true, amqp: true, outbox: true });
  });
});
