import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ASSETS_DIR, readCompressedJsonAsset } from '../../../src/common/assets';

const REPO_ROOT = join(__dirname, '..', '..', '..');

describe('assets/', () => {
  it('is found beside src/ here and beside dist/ once built: the build keeps src/common at dist/common', () => {
    expect(relative(REPO_ROOT, ASSETS_DIR)).toBe('assets');
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')).compilerOptions;
    expect([build.rootDir, build.outDir]).toEqual(['./src', './dist']);
  });

  it('describes every file in its README, and every file decodes', () => {
    const readme = readFileSync(join(ASSETS_DIR, 'README.md'), 'utf8');
    const files = readdirSync(ASSETS_DIR).filter((name) => name !== 'README.md');
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) {
      expect(readme, name).toContain(`| \`${name}\` |`);
      expect(readCompressedJsonAsset<{ source: string }>(name).source, name).toMatch(/licence/);
    }
  });
});
