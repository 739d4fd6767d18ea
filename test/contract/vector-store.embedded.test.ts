import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddedVectorStore } from '../../src/vector-store/embedded/embedded-vector-store';
import { describeVectorStoreContract } from './vector-store.contract';

describeVectorStoreContract('embedded', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-'));
  return {
    open: async () => new EmbeddedVectorStore({ dataDir }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
});
