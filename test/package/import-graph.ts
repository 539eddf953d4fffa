/**
 * The static import graph of built JavaScript or declaration files: which packages an entry point
 * reaches through its relative imports. Read with TypeScript's own pre-processor, which sees
 * `import`/`export … from`, dynamic `import()` and `import("x")` type references alike.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

/** `pg/lib/result.js` → `pg`, `@types/pg` → `@types/pg`; `node:fs` and `fs` → `node:fs`. */
export function packageOf(specifier: string): string {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0] ?? '')) {
    return `node:${specifier.replace(/^node:/, '').split('/')[0]}`;
  }
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * Follows the relative imports from `entry` (a `.js` or `.d.ts` file) and returns the packages
 * named along the way, sorted, with the files that name them.
 */
export function packagesReachedFrom(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>();
  const seen = new Set<string>();
  const pending = [path.resolve(entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) {
        // Declarations name the .js file; the .d.ts beside it is what TypeScript reads.
        const target = path.resolve(path.dirname(file), specifier);
        pending.push(file.endsWith('.d.ts') ? target.replace(/\.js$/, '.d.ts') : target);
      } else {
        const name = packageOf(specifier);
        reached.set(name, [...(reached.get(name) ?? []), path.basename(file)]);
      }
    }
  }
  return new Map([...reached].sort(([a], [b]) => a.localeCompare(b)));
}
