import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';

/**
 * The repository's `assets/` folder: generated data tables that are not code (see its README).
 * It sits beside `src/` and `dist/`, so this file finds it from either (`src/common/` under tsx
 * and vitest, `dist/common/` once built) and the image ships it next to `dist/`.
 */
export const ASSETS_DIR = join(__dirname, '..', '..', 'assets');

/** Reads and decodes a brotli-compressed JSON asset: synchronous, so callers do it once and keep the result. */
export function readCompressedJsonAsset<T>(name: string): T {
  return JSON.parse(brotliDecompressSync(readFileSync(join(ASSETS_DIR, name))).toString('utf8')) as T;
}
