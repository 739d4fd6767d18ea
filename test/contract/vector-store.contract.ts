/**
 * The behaviour every VectorStore adapter promises. Run by vector-store.<adapter>.test.ts with a
 * harness that opens the adapter over one backing store (a data directory, a Qdrant server).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toMetadataFilter } from '../../src/common/metadata-filter';
import type { VectorRecord, VectorStore } from '../../src/vector-store/vector-store.port';

export interface VectorStoreHarness {
  /** a new store instance over the same backing data, as after a restart */
  open(): Promise<VectorStore>;
  /** removes what the harness created (temporary directories, servers) */
  cleanup(): Promise<void>;
}

const DIM = 8;

/** a unit axis vector, nudged toward the next axis so ranking among near vectors is well defined */
function axis(i: number, nudge = 0): Float32Array {
  const v = new Float32Array(DIM);
  v[i % DIM] = 1;
  v[(i + 1) % DIM] = nudge;
  return v;
}

function record(
  tenantId: string,
  kbId: string,
  documentId: string,
  vector: Float32Array,
  metadata?: Record<string, unknown>,
): VectorRecord {
  return { id: randomUUID(), tenantId, kbId, documentId, vector, metadata };
}

/** collection names unique per run, so a real Qdrant shared by several runs never mixes them */
function collectionName(purpose: string): string {
  return `contract_${purpose}_${randomUUID().slice(0, 8)}`;
}

export function describeVectorStoreContract(adapter: string, createHarness: () => Promise<VectorStoreHarness>): void {
  describe(`VectorStore contract: ${adapter}`, () => {
    let harness: VectorStoreHarness;
    let store: VectorStore;

    beforeAll(async () => {
      harness = await createHarness();
      store = await harness.open();
    });

    afterAll(async () => {
      await store?.close();
      await harness?.cleanup();
    });

    async function collectionWith(purpose: string, records: VectorRecord[]): Promise<string> {
      const collection = collectionName(purpose);
      await store.ensureCollection(collection, DIM);
      await store.upsert(collection, records);
      return collection;
    }

    it('upserting the same id twice keeps one point, with the latest vector and payload', async () => {
      const first = record('t1', 'kb1', 'doc-a', axis(0), { version: 1 });
      const collection = await collectionWith('idempotent', [first]);
      await store.upsert(collection, [{ ...first, vector: axis(3), documentId: 'doc-b', metadata: { version: 2 } }]);
      await store.upsert(collection, [{ ...first, vector: axis(3), documentId: 'doc-b', metadata: { version: 2 } }]);

      expect(await store.count(collection)).toBe(1);
      const hits = await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: axis(3), topK: 5 });
      expect(hits).toHaveLength(1);
      expect(hits[0]).toMatchObject({ id: first.id, documentId: 'doc-b', kbId: 'kb1' });
      expect(hits[0].score).toBeCloseTo(1, 4);
      expect(await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: axis(3), topK: 5, filter: { version: 1 } })).toEqual(
        [],
      );
    });

    it('ensureCollection is idempotent for the same dimension', async () => {
      const collection = collectionName('ensure');
      await store.ensureCollection(collection, DIM);
      await store.ensureCollection(collection, DIM);
      expect(await store.count(collection)).toBe(0);
    });

    it("a tenant never sees another tenant's points, even under the same KB id", async () => {
      const mine = record('tenant-a', 'shared-kb', 'doc-1', axis(1));
      const theirs = record('tenant-b', 'shared-kb', 'doc-1', axis(1, 0.01));
      const collection = await collectionWith('tenants', [mine, theirs]);

      const a = await store.search({ collection, tenantId: 'tenant-a', kbIds: ['shared-kb'], vector: axis(1), topK: 10 });
      const b = await store.search({ collection, tenantId: 'tenant-b', kbIds: ['shared-kb'], vector: axis(1), topK: 10 });
      expect(a.map((h) => h.id)).toEqual([mine.id]);
      expect(b.map((h) => h.id)).toEqual([theirs.id]);
      expect(await store.search({ collection, tenantId: 'tenant-c', kbIds: ['shared-kb'], vector: axis(1), topK: 10 })).toEqual([]);

      // deleting tenant B's document or KB leaves tenant A's point with the same ids alone
      await store.deleteByDocument(collection, 'tenant-b', 'doc-1');
      await store.deleteByKnowledgeBase(collection, 'tenant-b', 'shared-kb');
      expect(await store.count(collection, { tenantId: 'tenant-a' })).toBe(1);
      expect(await store.count(collection, { tenantId: 'tenant-b' })).toBe(0);
    });

    it('searches only the requested knowledge bases, and says which KB each hit is from', async () => {
      const records = [0, 1, 2].flatMap((kb) => [0, 1, 2].map((i) => record('t1', `kb-${kb}`, `doc-${kb}-${i}`, axis(i, 0.1 * kb))));
      const collection = await collectionWith('kbs', records);

      const hits = await store.search({ collection, tenantId: 't1', kbIds: ['kb-0', 'kb-2'], vector: axis(0), topK: 10 });
      expect(hits).toHaveLength(6);
      expect(new Set(hits.map((h) => h.kbId))).toEqual(new Set(['kb-0', 'kb-2']));
      for (const hit of hits) expect(hit.documentId.startsWith(`doc-${hit.kbId.slice(3)}-`)).toBe(true);

      const one = await store.search({ collection, tenantId: 't1', kbIds: ['kb-1'], vector: axis(0), topK: 10 });
      expect(one.map((h) => h.kbId)).toEqual(['kb-1', 'kb-1', 'kb-1']);
      expect(await store.search({ collection, tenantId: 't1', kbIds: [], vector: axis(0), topK: 10 })).toEqual([]);
      expect(await store.search({ collection, tenantId: 't1', kbIds: ['kb-9'], vector: axis(0), topK: 10 })).toEqual([]);
    });

    it('filters on metadata: equal to a string, number or boolean, one of a list, several fields at once', async () => {
      const en2020 = record('t1', 'kb1', 'd1', axis(0), { lang: 'en', year: 2020, reviewed: true, score: 0.5 });
      const en2021 = record('t1', 'kb1', 'd2', axis(0, 0.1), { lang: 'en', year: 2021, reviewed: false });
      const zh2021 = record('t1', 'kb1', 'd3', axis(0, 0.2), { lang: 'zh', year: 2021, reviewed: true });
      const none = record('t1', 'kb1', 'd4', axis(0, 0.3));
      const collection = await collectionWith('metadata', [en2020, en2021, zh2021, none]);
      const ids = async (filter: Record<string, unknown>) =>
        (await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: axis(0), topK: 10, filter: filter as never }))
          .map((h) => h.id)
          .sort();

      expect(await ids({ lang: 'en' })).toEqual([en2020.id, en2021.id].sort());
      expect(await ids({ year: 2021 })).toEqual([en2021.id, zh2021.id].sort());
      expect(await ids({ reviewed: true })).toEqual([en2020.id, zh2021.id].sort());
      expect(await ids({ score: 0.5 })).toEqual([en2020.id]);
      expect(await ids({ lang: { in: ['zh', 'fr'] } })).toEqual([zh2021.id]);
      expect(await ids({ year: { in: [2020, 2019] } })).toEqual([en2020.id]);
      expect(await ids({ reviewed: { in: [false] } })).toEqual([en2021.id]);
      expect(await ids({ lang: 'en', year: 2021 })).toEqual([en2021.id]);
      expect(await ids({ lang: 'de' })).toEqual([]);
      expect(await ids({})).toHaveLength(4);
    });

    it('filters on metadata fields whose names hold dots, spaces, dashes or other scripts (a name is never a path)', async () => {
      const dotted = record('t1', 'kb1', 'd1', axis(0), { 'source.url': 'https://a.example/x', 'page count': 3, язык: 'ru', 'x-y': true });
      const nested = record('t1', 'kb1', 'd2', axis(0, 0.1), { source: { url: 'https://a.example/x' }, 'page count': 4 });
      const collection = await collectionWith('metadata_names', [dotted, nested]);
      const ids = async (filter: Record<string, unknown>) =>
        (await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: axis(0), topK: 10, filter: filter as never })).map(
          (h) => h.id,
        );

      expect(await ids({ 'source.url': 'https://a.example/x' })).toEqual([dotted.id]);
      expect(await ids({ 'page count': { in: [3, 5] } })).toEqual([dotted.id]);
      expect(await ids({ язык: 'ru' })).toEqual([dotted.id]);
      expect(await ids({ 'x-y': true })).toEqual([dotted.id]);
      expect(await ids({ 'source.url': 'https://b.example/' })).toEqual([]);
    });

    it('filters on fields named like built-ins of JavaScript objects as on any other field, never matching more', async () => {
      const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
      const named = record('t1', 'kb1', 'd1', axis(0), Object.fromEntries(names.map((n) => [n, `v-${n}`])));
      const plain = record('t1', 'kb1', 'd2', axis(0, 0.1), { lang: 'en' });
      const collection = await collectionWith('metadata_builtins', [named, plain]);
      const ids = async (filter: unknown) =>
        (await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: axis(0), topK: 10, filter: filter as never })).map(
          (h) => h.id,
        );
      for (const name of names) {
        expect(await ids({ [name]: `v-${name}` }), name).toEqual([named.id]);
        expect(await ids(toMetadataFilter({ [name]: `v-${name}` })), name).toEqual([named.id]);
        expect(await ids(toMetadataFilter({ [name]: { in: ['other', `v-${name}`] } })), name).toEqual([named.id]);
        expect(await ids(toMetadataFilter({ [name]: 'other' })), name).toEqual([]);
      }
    });

    it("deletes a document's points within its tenant only", async () => {
      const keep = record('t1', 'kb1', 'doc-keep', axis(0));
      const gone = [record('t1', 'kb1', 'doc-gone', axis(1)), record('t1', 'kb2', 'doc-gone', axis(2))];
      const otherTenant = record('t2', 'kb1', 'doc-gone', axis(1));
      const collection = await collectionWith('delete_doc', [keep, ...gone, otherTenant]);

      await store.deleteByDocument(collection, 't1', 'doc-gone');
      expect(await store.count(collection, { tenantId: 't1' })).toBe(1);
      expect(await store.count(collection, { tenantId: 't2' })).toBe(1);
      const hits = await store.search({ collection, tenantId: 't1', kbIds: ['kb1', 'kb2'], vector: axis(1), topK: 10 });
      expect(hits.map((h) => h.id)).toEqual([keep.id]);
      await store.deleteByDocument(collection, 't1', 'no-such-document');
      expect(await store.count(collection)).toBe(2);
    });

    it("deletes a knowledge base's points and nothing else", async () => {
      const records = [record('t1', 'kb1', 'd1', axis(0)), record('t1', 'kb1', 'd2', axis(1)), record('t1', 'kb2', 'd3', axis(2))];
      const collection = await collectionWith('delete_kb', records);
      await store.deleteByKnowledgeBase(collection, 't1', 'kb1');
      expect(await store.count(collection, { tenantId: 't1', kbId: 'kb1' })).toBe(0);
      expect(await store.count(collection, { tenantId: 't1', kbId: 'kb2' })).toBe(1);
      expect(await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: axis(0), topK: 10 })).toEqual([]);

      // the KB can be filled again after its deletion
      await store.upsert(collection, [record('t1', 'kb1', 'd4', axis(0))]);
      expect(await store.count(collection, { tenantId: 't1', kbId: 'kb1' })).toBe(1);
    });

    it('counts points in a collection, a tenant and a knowledge base', async () => {
      const records = [
        ...[0, 1, 2].map((i) => record('t1', 'kb1', `d${i}`, axis(i))),
        ...[0, 1].map((i) => record('t1', 'kb2', `e${i}`, axis(i))),
        record('t2', 'kb1', 'f0', axis(0)),
      ];
      const collection = await collectionWith('count', records);
      expect(await store.count(collection)).toBe(6);
      expect(await store.count(collection, { tenantId: 't1' })).toBe(5);
      expect(await store.count(collection, { tenantId: 't1', kbId: 'kb1' })).toBe(3);
      expect(await store.count(collection, { tenantId: 't2', kbId: 'kb1' })).toBe(1);
      expect(await store.count(collection, { tenantId: 't3' })).toBe(0);
    });

    it('lists collections with their dimension and point count', async () => {
      const collection = await collectionWith('list', [record('t1', 'kb1', 'd', axis(0)), record('t1', 'kb1', 'd', axis(1))]);
      const other = collectionName('list_other');
      await store.ensureCollection(other, 3);
      const listed = await store.listCollections();
      expect(listed).toContainEqual({ name: collection, dimension: DIM, points: 2 });
      expect(listed).toContainEqual({ name: other, dimension: 3, points: 0 });
    });

    it('ranks nearest first by cosine similarity, whatever the vector lengths', async () => {
      const exact = record('t1', 'kb1', 'd', axis(4));
      const near = record('t1', 'kb1', 'd', axis(4, 0.3));
      const far = record('t1', 'kb1', 'd', axis(4, 2));
      const opposite = record(
        't1',
        'kb1',
        'd',
        axis(4).map((v) => -v),
      );
      const collection = await collectionWith('ranking', [far, opposite, near, exact]);

      const query = axis(4).map((v) => v * 7);
      const hits = await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: query, topK: 10 });
      expect(hits.map((h) => h.id)).toEqual([exact.id, near.id, far.id, opposite.id]);
      expect(hits[0].score).toBeCloseTo(1, 4);
      expect(hits[1].score).toBeCloseTo(1 / Math.sqrt(1.09), 4);
      expect(hits[3].score).toBeCloseTo(-1, 4);

      const top2 = await store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: query, topK: 2 });
      expect(top2.map((h) => h.id)).toEqual([exact.id, near.id]);
    });

    it('keeps every point across a close and re-open', async () => {
      const records = [record('t1', 'kb1', 'd1', axis(0), { lang: 'en' }), record('t1', 'kb2', 'd2', axis(5))];
      const collection = await collectionWith('persist', records);
      await store.deleteByDocument(collection, 't1', 'd2');
      await store.close();
      store = await harness.open();

      expect(await store.count(collection)).toBe(1);
      const hits = await store.search({
        collection,
        tenantId: 't1',
        kbIds: ['kb1', 'kb2'],
        vector: axis(0),
        topK: 5,
        filter: { lang: 'en' },
      });
      expect(hits).toEqual([{ id: records[0].id, kbId: 'kb1', documentId: 'd1', score: expect.closeTo(1, 4) }]);
      expect((await store.listCollections()).map((c) => c.name)).toContain(collection);
    });

    it('rejects vectors and collections of the wrong dimension and writes nothing', async () => {
      const collection = await collectionWith('dimension', [record('t1', 'kb1', 'd', axis(0))]);
      await expect(store.upsert(collection, [record('t1', 'kb1', 'd', new Float32Array(DIM + 1))])).rejects.toThrow(/dimension/i);
      await expect(
        store.search({ collection, tenantId: 't1', kbIds: ['kb1'], vector: new Float32Array(DIM - 1), topK: 3 }),
      ).rejects.toThrow(/dimension/i);
      await expect(store.ensureCollection(collection, DIM * 2)).rejects.toThrow(/dimension/i);
      expect(await store.count(collection)).toBe(1);
    });

    it('answers a ping while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
