import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyError, ValidationFailedError } from '../../src/common/errors';
import { payloadKey, QdrantVectorStore } from '../../src/vector-store/qdrant/qdrant-vector-store';
import { startFakeQdrantServer, type FakeQdrantServer } from '../support/fake-qdrant-server';
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

describe('QdrantVectorStore against the protocol-level server', () => {
  let server: FakeQdrantServer;
  beforeAll(async () => {
    server = await startFakeQdrantServer({ apiKey: 'secret-key' });
  });
  afterAll(() => server.close());

  const store = (options: Partial<ConstructorParameters<typeof QdrantVectorStore>[0]> = {}) =>
    new QdrantVectorStore({ url: server.url, apiKey: 'secret-key', ...options });

  it('creates a cosine collection with keyword payload indexes, tenant_id as the tenant key', async () => {
    await store().ensureCollection('indexed', 4);
    const collection = server.collections.get('indexed')!;
    expect(collection.distance).toBe('Cosine');
    expect(collection.size).toBe(4);
    expect(Object.fromEntries(collection.payloadSchema)).toEqual({
      tenant_id: { type: 'keyword', is_tenant: true },
      kb_id: { type: 'keyword' },
      document_id: { type: 'keyword' },
    });
  });

  it('upserts in batches that wait for the write, with metadata under the metadata payload key', async () => {
    const qdrant = store({ batchSize: 2 });
    await qdrant.ensureCollection('batched', 4);
    const before = server.requests.length;
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await qdrant.upsert(
      'batched',
      ids.map((id, i) => ({
        id,
        tenantId: 't1',
        kbId: 'kb1',
        documentId: `d${i}`,
        vector: new Float32Array([1, i, 0, 0]),
        metadata: { lang: 'en' },
      })),
    );
    const upserts = server.requests.slice(before).filter((r) => r.startsWith('PUT /collections/batched/points'));
    expect(upserts).toHaveLength(3);
    for (const request of upserts) expect(request).toContain('wait=true');
    expect(server.collections.get('batched')!.points.get(ids[0])!.payload).toEqual({
      tenant_id: 't1',
      kb_id: 'kb1',
      document_id: 'd0',
      metadata: { lang: 'en' },
    });
  });

  it('quotes metadata names that are not plain keys, and refuses with 422 a name Qdrant cannot address', async () => {
    expect(payloadKey('lang')).toBe('lang');
    expect(payloadKey('x_y-2')).toBe('x_y-2');
    expect(payloadKey('source.url')).toBe('"source.url"');
    expect(payloadKey('a[0]')).toBe('"a[0]"');
    expect(payloadKey('язык')).toBe('"язык"');
    await store().ensureCollection('names', 4);
    const search = (filter: Record<string, unknown>) =>
      store().search({
        collection: 'names',
        tenantId: 't1',
        kbIds: ['kb1'],
        vector: Float32Array.of(1, 0, 0, 0),
        topK: 3,
        filter: filter as never,
      });
    const before = server.requests.length;
    for (const field of ['say "hi"', 'back\\slash']) {
      const error = await search({ [field]: 'x' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ValidationFailedError);
      expect(error).toMatchObject({ status: 422, errors: [{ field: `filters.${field}` }] });
    }
    // refused before any request reached Qdrant
    expect(server.requests.length).toBe(before);
  });

  it('turns an unknown collection into a non-retryable DependencyError naming qdrant', async () => {
    const error = await store()
      .count('no_such_collection')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({ dependency: 'qdrant', failure: 'rejected', retryable: false, status: 502 });
    expect((error as Error).message).toMatch(/404.*doesn't exist/);
  });

  it('turns a wrong API key into a DependencyError', async () => {
    await expect(store({ apiKey: 'wrong' }).ping()).rejects.toMatchObject({ dependency: 'qdrant', failure: 'rejected' });
  });

  it('turns an unreachable server into a retryable unavailable DependencyError', async () => {
    const closed = await startFakeQdrantServer();
    await closed.close();
    const error = await new QdrantVectorStore({ url: closed.url, timeoutMs: 2_000 }).ping().catch((e: unknown) => e);
    expect(error).toMatchObject({ dependency: 'qdrant', failure: 'unavailable', retryable: true, status: 503 });
  });

  it('gives up after its timeout with a timeout DependencyError', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      const error = await new QdrantVectorStore({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 }).ping().catch((e: unknown) => e);
      expect(error).toMatchObject({ dependency: 'qdrant', failure: 'timeout', status: 504 });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
