/** README.md stays true: its tour is the type-checked code of examples/tour, verbatim. */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const tour = readdirSync(new URL('examples/tour/', root)).filter((f) => f.endsWith('.ts'));

describe('README.md', () => {
  it.each(tour)('shows examples/tour/%s verbatim', (file) => {
    const code = readFileSync(new URL(`examples/tour/${file}`, root), 'utf8').trimEnd();
    expect(readme).toContain(`(\`examples/tour/${file}\`)\n\n\`\`\`ts\n${code}\n\`\`\``);
  });

  it('gives the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
  });
});
