import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

/** clustered unit vectors from a seeded generator, so runs are repeatable */
function clusteredVectors(count: number, dimension: number, seed: number): Float32Array[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  const centroids = Array.from({ length: 8 }, () => Float32Array.from({ length: dimension }, next));
  return Array.from({ length: count }, (_, i) => centroids[i % 8].map((v) => v + 0.8 * next()));
}

describe('EmbeddedVectorStore', () => {
  it('switches a large partition to an HNSW graph built in the background, with the same neighbours as the exact scan', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-hnsw-'));
    const graphed = new EmbeddedVectorStore({ dataDir: join(dataDir, 'graph'), hnswThreshold: 300 });
    const exact = new EmbeddedVectorStore({ dataDir: join(dataDir, 'exact') });
    try {
      const vectors = clusteredVectors(1500, 32, 1);
      const records = vectors.map((vector, i) => ({
        id: randomUUID(),
        tenantId: 't1',
        kbId: i % 10 === 0 ? 'small' : 'big',
        documentId: `d${i % 50}`,
        vector,
      }));
      for (const store of [graphed, exact]) {
        await store.ensureCollection('c', 32);
        await store.upsert('c', records);
      }
      await waitFor(async () => (await graphed.partitionStats('c')).find((p) => p.kbId === 'big')?.search === 'hnsw');
      // built on a worker thread from a snapshot, not a slice per event-loop turn
      expect((await graphed.partitionStats('c')).find((p) => p.kbId === 'big')).toMatchObject({ graphBuild: 'worker' });
      expect((await graphed.partitionStats('c')).find((p) => p.kbId === 'small')).toMatchObject({ points: 150, search: 'exact' });
      expect((await exact.partitionStats('c')).every((p) => p.search === 'exact')).toBe(true);

      const queries = clusteredVectors(30, 32, 2);
      const recallAgainstExact = async () => {
        let found = 0;
        for (const vector of queries) {
          const query = { collection: 'c', tenantId: 't1', kbIds: ['big', 'small'], vector, topK: 10 };
          const want = new Set((await exact.search(query)).map((h) => h.id));
          found += (await graphed.search(query)).filter((h) => want.has(h.id)).length;
        }
        return found / (queries.length * 10);
      };
      expect(await recallAgainstExact()).toBeGreaterThanOrEqual(0.95);

      // deletes and rewrites reach the graph: no deleted id is ever returned, rewritten vectors are found
      for (const store of [graphed, exact]) await store.deleteByDocument('c', 't1', 'd7');
      const moved = records[1];
      for (const store of [graphed, exact]) await store.upsert('c', [{ ...moved, vector: queries[0] }]);
      await waitFor(async () => (await graphed.partitionStats('c')).find((p) => p.kbId === 'big')?.search === 'hnsw');
      const top = await graphed.search({ collection: 'c', tenantId: 't1', kbIds: ['big'], vector: queries[0], topK: 50 });
      expect(top[0]).toMatchObject({ id: moved.id });
      expect(top[0].score).toBeCloseTo(1, 4);
      expect(top.some((h) => h.documentId === 'd7')).toBe(false);
      expect(await recallAgainstExact()).toBeGreaterThanOrEqual(0.95);
    } finally {
      await graphed.close();
      await exact.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps a graph built on a worker thread in step with writes made while it was being built, and removes stale graph files at start-up', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-hnsw-writes-'));
    await writeFile(join(dataDir, 'hnsw-build-left-by-a-crash.usearch'), 'stale');
    const graphed = new EmbeddedVectorStore({ dataDir, hnswThreshold: 300 });
    expect(readdirSync(dataDir).some((name) => name.startsWith('hnsw-build-'))).toBe(false);
    try {
      const vectors = clusteredVectors(3600, 32, 3);
      const record = (vector: Float32Array, i: number) => ({ id: `p${i}`, tenantId: 't1', kbId: 'kb', documentId: `d${i % 60}`, vector });
      await graphed.ensureCollection('c', 32);
      await graphed.upsert('c', vectors.slice(0, 600).map(record));
      await new Promise((done) => setTimeout(done, 300)); // writes paused: the worker has its snapshot
      // while it builds: many new rows (a second worker build), a deleted document, a rewritten row
      await graphed.upsert(
        'c',
        vectors.slice(600).map((vector, i) => record(vector, i + 600)),
      );
      await graphed.deleteByDocument('c', 't1', 'd7');
      const rewritten = clusteredVectors(1, 32, 99)[0];
      await graphed.upsert('c', [record(rewritten, 1)]);
      await waitFor(async () => (await graphed.partitionStats('c'))[0]?.search === 'hnsw');
      expect((await graphed.partitionStats('c'))[0]).toMatchObject({ points: 3600 - 60, graphBuild: 'worker' });
      const top = await graphed.search({ collection: 'c', tenantId: 't1', kbIds: ['kb'], vector: rewritten, topK: 20 });
      expect(top[0]).toMatchObject({ id: 'p1' });
      expect(top[0].score).toBeCloseTo(1, 4);
      for (const i of [650, 2000, 3599]) {
        const [hit] = await graphed.search({ collection: 'c', tenantId: 't1', kbIds: ['kb'], vector: vectors[i], topK: 1 });
        expect(hit.id).toBe(i % 60 === 7 ? hit.id : `p${i}`);
      }
      for (let i = 0; i < 20; i++) {
        const hits = await graphed.search({ collection: 'c', tenantId: 't1', kbIds: ['kb'], vector: vectors[i * 7], topK: 50 });
        expect(hits.some((h) => h.documentId === 'd7')).toBe(false);
      }
      expect(readdirSync(dataDir).some((name) => name.startsWith('hnsw-build-'))).toBe(false);
    } finally {
      await graphed.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps every committed upsert when the process is killed with SIGKILL mid-write', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-crash-'));
    const writer = join(dataDir, 'writer.ts');
    const storeModule = resolve(__dirname, '../../src/vector-store/embedded/embedded-vector-store');
    await writeFile(
      writer,
      `import { randomUUID } from 'node:crypto';
       import { EmbeddedVectorStore } from ${JSON.stringify(storeModule)};
       const store = new EmbeddedVectorStore({ dataDir: ${JSON.stringify(join(dataDir, 'data'))} });
       void (async () => {
         await store.ensureCollection('c', 64);
         for (let batch = 0; ; batch++) {
           const records = Array.from({ length: 100 }, (_, i) => ({
             id: randomUUID(), tenantId: 't1', kbId: 'kb1', documentId: 'd' + batch,
             vector: Float32Array.from({ length: 64 }, (_, d) => Math.sin(batch * 100 + i + d)),
           }));
           await store.upsert('c', records);
           process.stdout.write('committed ' + (batch + 1) * 100 + '\\n');
         }
       })();`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
    let committed = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      const counts = [...chunk.toString().matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
      if (counts.length > 0) committed = Math.max(committed, ...counts);
      if (committed >= 3000) child.kill('SIGKILL');
    });
    await new Promise((done) => child.on('exit', done));
    expect(child.signalCode).toBe('SIGKILL');

    const store = new EmbeddedVectorStore({ dataDir: join(dataDir, 'data') });
    try {
      const count = await store.count('c');
      expect(count).toBeGreaterThanOrEqual(committed);
      expect(count % 100).toBe(0); // a batch is one transaction: never half written
      const hits = await store.search({ collection: 'c', tenantId: 't1', kbIds: ['kb1'], vector: new Float32Array(64).fill(1), topK: 5 });
      expect(hits).toHaveLength(5);
      expect((await store.partitionStats('c'))[0].points).toBe(count);
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses calls after close', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vector-store-closed-'));
    const store = new EmbeddedVectorStore({ dataDir });
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toThrow(/closed/);
    await rm(dataDir, { recursive: true, force: true });
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((done) => setTimeout(done, 20));
  }
}
