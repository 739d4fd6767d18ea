import { QdrantVectorStore } from '../../src/vector-store/qdrant/qdrant-vector-store';
import { startFakeQdrantServer } from '../support/fake-qdrant-server';
import { describeVectorStoreContract } from './vector-store.contract';

/** against a real Qdrant when QDRANT_URL is set (QDRANT_API_KEY optional), else the protocol-level fake */
describeVectorStoreContract(process.env.QDRANT_URL ? 'qdrant (real server)' : 'qdrant (fake server)', async () => {
  const real = process.env.QDRANT_URL;
  const fake = real ? undefined : await startFakeQdrantServer();
  const url = real ?? fake!.url;
  return {
    open: async () => new QdrantVectorStore({ url, apiKey: real ? process.env.QDRANT_API_KEY : undefined, timeoutMs: 10_000 }),
    cleanup: async () => fake?.close(),
  };
});
