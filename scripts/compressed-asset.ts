import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { ASSETS_DIR } from '../src/common/assets';

/** Brotli at its highest quality, text mode: the assets are written once and read on every start. */
export function compressJson(value: unknown): Buffer {
  return brotliCompressSync(Buffer.from(JSON.stringify(value), 'utf8'), {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT },
  });
}

/** Writes `value` as `assets/<name>`, the format `readCompressedJsonAsset` reads. */
export function writeCompressedJsonAsset(name: string, value: unknown): void {
  writeFileSync(join(ASSETS_DIR, name), compressJson(value));
}
