import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadedLexicalIndex } from '../../src/lexical-index/embedded/threaded-lexical-index';
import { lexicalIndexContract } from './lexical-index.contract';

let dataDir: string | undefined;

// the service's default: the embedded BM25 index on its own worker thread must keep the whole contract
lexicalIndexContract('embedded on a worker thread', {
  async create() {
    dataDir = mkdtempSync(join(tmpdir(), 'lexical-threaded-'));
    const index = threadedLexicalIndex({ dataDir });
    await index.init();
    return index;
  },
  async reopen() {
    const index = threadedLexicalIndex({ dataDir: dataDir! });
    await index.init();
    return index;
  },
  async dispose() {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  },
});
