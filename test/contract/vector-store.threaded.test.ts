import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { threadedVectorStore } from '../../src/vector-store/embedded/threaded-vector-store';
import { describeVectorStoreContract } from './vector-store.contract';

// the service's default: the embedded store on its own worker thread must keep the whole contract
describeVectorStoreContract('embedded on a worker thread', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-threaded-'));
  return {
    open: async () => threadedVectorStore({ dataDir }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
});

describe('threadedVectorStore', () => {
  it('survives its thread dying: the next call starts a new thread, which reloads the vectors from SQLite', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-threaded-crash-'));
    const store = threadedVectorStore({ dataDir });
    try {
      await store.ensureCollection('c', 4);
      await store.upsert('c', [
        { id: 'a', tenantId: 't', kbId: 'k', documentId: 'd', vector: Float32Array.of(1, 0, 0, 0) },
        { id: 'b', tenantId: 't', kbId: 'k', documentId: 'd', vector: Float32Array.of(0, 1, 0, 0) },
      ]);
      const firstThread = store.portThread.threadId;
      // stands for an out-of-memory or native crash on the thread
      await store.portThread.kill();
      const hits = await store.search({ collection: 'c', tenantId: 't', kbIds: ['k'], vector: Float32Array.of(0, 1, 0, 0), topK: 1 });
      expect(hits.map((hit) => hit.id)).toEqual(['b']);
      expect(store.portThread.threadId).not.toBe(firstThread);
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
