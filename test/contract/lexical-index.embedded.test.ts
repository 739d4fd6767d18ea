import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedLexicalIndex } from '../../src/lexical-index/embedded/embedded-lexical-index';
import { lexicalIndexContract } from './lexical-index.contract';

let dataDir: string | undefined;

lexicalIndexContract('embedded (SQLite-persisted in-memory BM25)', {
  async create() {
    dataDir = mkdtempSync(join(tmpdir(), 'lexical-embedded-'));
    const index = new EmbeddedLexicalIndex({ dataDir });
    await index.init();
    return index;
  },
  async reopen() {
    const index = new EmbeddedLexicalIndex({ dataDir: dataDir! });
    await index.init();
    return index;
  },
  async dispose() {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  },
});
