/**
 * The package as users get it: `npm pack` (which builds through `prepack`), then the tarball
 * installed into scratch projects with the README's own install commands — `connkit pg`, then
 * `amqplib` added to it, and `connkit amqplib` alone — a strict TypeScript app using every entry
 * point (./consumer/app.ts) type-checked against the installed declarations, and a CommonJS file
 * (./consumer/require.cts) compiled and run. Needs the npm registry or npm's cache (installs run
 * with --prefer-offline); the scratch directory is removed afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagesReachedFrom } from './import-graph.js';
import {
  createApp,
  install,
  node,
  npm,
  pkg,
  readmeInstall,
  readmeInstallCommands,
  readmeSection,
  root,
} from './scratch.js';

const consumer = path.join(import.meta.dirname, 'consumer');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const typesNode = `@types/node@${process.versions.node.split('.')[0]}`;
// The README's commands, checked below: [pg], [amqplib], [pg, amqplib].
const [forPostgres = [], forAmqp = [], forBoth = []] = readmeInstallCommands();

let scratch = '';
let tarball = '';
let files: string[] = [];

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'connkit-pack-'));
  const packed = await npm(['pack', '--json', '--pack-destination', scratch], root);
  expect(packed.exitCode, packed.stderr).toBe(0);
  const [report] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = path.join(scratch, report.filename);
  files = report.files.map((f) => f.path);
}, 600_000);

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** `node -e <code>` in `cwd` as an ES module or as CommonJS; resolves with what it printed. */
async function evaluate(type: 'module' | 'commonjs', code: string, cwd: string): Promise<string> {
  const ran = await node([`--input-type=${type}`, '-e', code], cwd);
  expect(ran.exitCode, ran.stderr).toBe(0);
  return ran.stdout.trim();
}

/** Packages the built entry point `entry` (an `exports` key) reaches, from its `.js` or its `.d.ts`. */
function reach(dir: string, entry: string, kind: 'types' | 'default'): string[] {
  const target = pkg.exports[entry];
  if (typeof target !== 'object') throw new Error(`exports['${entry}'] should have conditions`);
  return [...packagesReachedFrom(path.join(dir, target[kind])).keys()];
}

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
    expect(pkg.license).toBe('MIT');
    expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(
      /^MIT License\n\nCopyright \(c\) \d{4} connkit contributors\n/,
    );
  });

  it('matches the README: its install commands and the versions it names', () => {
    expect([forPostgres, forAmqp, forBoth]).toEqual([['pg'], ['amqplib'], ['pg', 'amqplib']]);
    expect(readmeInstallCommands()).toHaveLength(3);
    const section = readmeInstall().replaceAll('\\|', '|');
    for (const range of [pkg.engines.node, pkg.peerDependencies['pg'], pkg.peerDependencies['amqplib']]) {
      expect(section).toContain(`\`${range}\``);
    }
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@opentelemetry/api', 'amqplib', 'pg']);
    expect(Object.values(pkg.peerDependenciesMeta).map((meta) => meta.optional)).toEqual([true, true, true]);
    // The optional OpenTelemetry API: its range is named where the README says how to turn telemetry on.
    expect(readmeSection('Observability')).toContain(`\`${pkg.peerDependencies['@opentelemetry/api']}\``);
  });
});

describe('npm install connkit pg', () => {
  let app = '';
  beforeAll(async () => {
    app = createApp(scratch, 'app');
    await install([tarball, ...forPostgres, typesNode], app);
  }, 600_000);

  it('installs no amqplib, and connkit, pg-cursor and @types/pg share the app’s own pg', () => {
    const modules = path.join(app, 'node_modules');
    expect(fs.existsSync(path.join(modules, 'amqplib'))).toBe(false);
    expect(fs.existsSync(path.join(modules, 'pg', 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(modules, '@types', 'pg', 'index.d.ts'))).toBe(true);
    // Nothing nested: connkit and pg-cursor resolve the one pg at the top.
    expect(fs.existsSync(path.join(modules, 'connkit', 'node_modules'))).toBe(false);
    expect(fs.existsSync(path.join(modules, 'pg-cursor', 'node_modules'))).toBe(false);
  });

  it('installs no @opentelemetry/api, and a Pool works without loading anything of OpenTelemetry', async () => {
    expect(fs.existsSync(path.join(app, 'node_modules', '@opentelemetry'))).toBe(false);
    const code = [
      "import { createRequire } from 'node:module';",
      "const { Pool } = await import('connkit');",
      'let n = 0;',
      'const pool = new Pool({ create: async () => ({ id: ++n }), destroy: async () => {} }, { name: "p" });',
      'const id = await pool.use((r) => r.id);',
      'await pool.close();',
      'const cache = Object.keys(createRequire(import.meta.url).cache);',
      "console.log(id, cache.some((f) => f.includes('@opentelemetry')));",
    ].join('\n');
    expect(await evaluate('module', code, app)).toBe('1 false');
  });

  it('loads connkit and connkit/postgres through import and through require()', async () => {
    const code = (load: string) =>
      `Promise.all([${load}('connkit'), ${load}('connkit/postgres')]).then(([c, p]) => console.log(typeof c.Pool, typeof p.Database))`;
    expect(await evaluate('module', code('import'), app)).toBe('function function');
    // require() of ES modules: on by default from Node 20.19 and 22.12, the floors of engines.node.
    expect(await evaluate('commonjs', code('require'), app)).toBe('function function');
  });

  it('keeps each entry point to its own driver: core names neither, postgres no amqplib, amqp no pg', () => {
    const installed = path.join(app, 'node_modules', 'connkit');
    const declared = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)];
    const pgSide = ['pg', 'pg-cursor', 'pg-copy-streams', '@types/pg'];
    for (const kind of ['default', 'types'] as const) {
      const [core, postgres, amqp, outbox] = ['.', './postgres', './amqp', './outbox'].map((entry) =>
        reach(installed, entry, kind),
      ) as [string[], string[], string[], string[]];
      for (const name of [...core, ...postgres, ...amqp, ...outbox]) {
        if (!name.startsWith('node:')) expect(declared, `${name} (${kind})`).toContain(name);
      }
      // @opentelemetry/api is required lazily (only if installed) by the code, and named by no declaration:
      // an app without it type-checks with skipLibCheck off.
      expect(core.filter((name) => !name.startsWith('node:'))).toEqual(
        kind === 'default' ? ['@opentelemetry/api', 'generic-pool'] : [],
      );
      if (kind === 'types') {
        for (const name of [...postgres, ...amqp, ...outbox]) expect(name).not.toBe('@opentelemetry/api');
      }
      expect(postgres).toContain('pg');
      expect(postgres).not.toContain('amqplib');
      expect(amqp).toContain('amqplib');
      expect(amqp.filter((name) => pgSide.includes(name))).toEqual([]);
      // The outbox works on the Database and Broker it is given: it names their types, not their drivers.
      if (kind === 'types') expect(outbox).toEqual(expect.arrayContaining(['pg', 'amqplib']));
    }
    expect(reach(installed, './postgres', 'default')).toEqual(
      expect.arrayContaining(['pg-cursor', 'pg-copy-streams']),
    );
  });

  describe('then npm install amqplib', () => {
    beforeAll(async () => {
      await install(
        forBoth.filter((name) => !forPostgres.includes(name)),
        app,
      );
      for (const file of ['app.ts', 'require.cts']) {
        fs.copyFileSync(path.join(consumer, file), path.join(app, file));
      }
    }, 600_000);

    it('type-checks an app using every entry point: strict, skipLibCheck off, node and bundler resolution', async () => {
      const config = (compilerOptions: Record<string, unknown>, included: string[]) =>
        JSON.stringify({
          compilerOptions: { target: 'ES2022', strict: true, skipLibCheck: false, ...compilerOptions },
          files: included,
        });
      fs.writeFileSync(
        path.join(app, 'tsconfig.json'),
        config({ module: 'nodenext', outDir: 'out' }, ['app.ts', 'require.cts']),
      );
      fs.writeFileSync(
        path.join(app, 'tsconfig.bundler.json'),
        config({ module: 'preserve', moduleResolution: 'bundler', noEmit: true }, ['app.ts']),
      );
      for (const project of ['tsconfig.json', 'tsconfig.bundler.json']) {
        const checked = await node([tsc, '-p', project], app);
        expect(checked.stdout + checked.stderr, project).toBe('');
        expect(checked.exitCode).toBe(0);
      }
      // The CommonJS file, compiled by the nodenext project above, require()s every entry point.
      const ran = await node([path.join('out', 'require.cjs')], app);
      expect(ran.exitCode, ran.stderr).toBe(0);
      expect(JSON.parse(ran.stdout)).toEqual({ core: true, postgres: true, amqp: true, outbox: true });
    });
  });
});

describe('npm install connkit amqplib', () => {
  it('installs without peer warnings, and connkit/amqp loads without loading pg', async () => {
    const app = createApp(scratch, 'amqp-app');
    await install([tarball, ...forAmqp], app);
    const loaded = await evaluate(
      'module',
      [
        "import { createRequire } from 'node:module';",
        "const { Broker } = await import('connkit/amqp');",
        'const cache = Object.keys(createRequire(import.meta.url).cache);',
        "console.log(typeof Broker, cache.some((f) => f.includes('amqplib')), cache.some((f) => /[\\\\/]pg[\\\\/]/.test(f)));",
      ].join('\n'),
      app,
    );
    expect(loaded).toBe('function true false');
  });
});
