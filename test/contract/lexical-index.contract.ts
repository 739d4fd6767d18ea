import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toMetadataFilter } from '../../src/common/metadata-filter';
import type { LexicalIndex, LexicalRecord } from '../../src/lexical-index/lexical-index.port';

export interface LexicalIndexHarness {
  /** an initialized, empty index */
  create(): Promise<LexicalIndex>;
  /** a second instance over the same storage as the last one created (a restart) */
  reopen(): Promise<LexicalIndex>;
  /** removes what create() made */
  dispose(): Promise<void>;
}

const A = 'tenant-a';
const B = 'tenant-b';

function chunk(id: string, text: string, extra: Partial<LexicalRecord> = {}): LexicalRecord {
  return { id, tenantId: A, kbId: 'kb-1', documentId: `doc-${id}`, text, ...extra };
}

const CORPUS: LexicalRecord[] = [
  chunk('c-quantum', 'Quantum chromodynamics describes the strong interaction between quarks and gluons.'),
  chunk('c-photo', 'Photosynthesis converts light energy into chemical energy in plants.'),
  chunk('c-kafka', 'Kafka consumers commit offsets after processing each batch of records.'),
  chunk('c-redis', 'Redis keeps rate limit counters with expiring keys for every API client.'),
  chunk('c-otel', 'The OpenTelemetry collector batches spans and exports them to Tempo over OTLP.'),
];

/**
 * What every LexicalIndex adapter must do; run by lexical-index.<adapter>.test.ts with a harness
 * over real storage.
 */
export function lexicalIndexContract(name: string, harness: LexicalIndexHarness): void {
  describe(`LexicalIndex contract: ${name}`, () => {
    let index: LexicalIndex;

    beforeEach(async () => {
      index = await harness.create();
    });

    afterEach(async () => {
      await index.close();
      await harness.dispose();
    });

    const ids = async (query: string, kbIds = ['kb-1'], tenantId = A, topK = 10) =>
      (await index.search({ tenantId, kbIds, query, topK })).map((hit) => hit.id);

    it('finds a chunk by its words and reports its KB, document and a positive score', async () => {
      await index.upsert(CORPUS);
      const hits = await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'how do quarks interact?', topK: 3 });
      expect(hits[0]).toMatchObject({ id: 'c-quantum', kbId: 'kb-1', documentId: 'doc-c-quantum' });
      expect(hits[0].score).toBeGreaterThan(0);
    });

    it('matches inflected English forms (stemming) and ignores stopwords', async () => {
      await index.upsert(CORPUS);
      expect((await ids('committing offset'))[0]).toBe('c-kafka');
      expect(await ids('the of and to')).toEqual([]);
    });

    it('upserting the same chunk id replaces it, never duplicates it', async () => {
      await index.upsert([chunk('c-1', 'original wording about glaciers')]);
      await index.upsert([chunk('c-1', 'replacement wording about volcanoes')]);
      await index.upsert([chunk('c-1', 'replacement wording about volcanoes')]);
      expect(await index.count({ tenantId: A })).toBe(1);
      expect(await ids('glaciers')).toEqual([]);
      expect(await ids('volcanoes')).toEqual(['c-1']);
    });

    it('the same chunk id twice in one batch keeps the last', async () => {
      await index.upsert([chunk('c-1', 'first glaciers'), chunk('c-1', 'second volcanoes')]);
      expect(await index.count({ tenantId: A })).toBe(1);
      expect(await ids('glaciers')).toEqual([]);
      expect(await ids('volcanoes')).toEqual(['c-1']);
    });

    it('a chunk of tenant A is never seen by tenant B, even under the same KB id', async () => {
      await index.upsert(CORPUS);
      await index.upsert([chunk('b-1', 'Tenant B writes about sourdough bread.', { tenantId: B })]);
      expect(await ids('quantum chromodynamics quarks', ['kb-1'], B)).toEqual([]);
      expect(await ids('sourdough bread', ['kb-1'], A)).toEqual([]);
      expect(await ids('sourdough bread', ['kb-1'], B)).toEqual(['b-1']);
      expect(await index.count({ tenantId: B })).toBe(1);
      expect(await index.count({ tenantId: B, kbId: 'kb-1' })).toBe(1);
      expect(await index.count({ tenantId: A, kbId: 'kb-1' })).toBe(CORPUS.length);
    });

    it('the same chunk id in two tenants is two chunks', async () => {
      await index.upsert([chunk('shared-id', 'alpine glaciers'), chunk('shared-id', 'alpine glaciers', { tenantId: B })]);
      await index.deleteByDocument(B, 'doc-shared-id');
      expect(await ids('glaciers')).toEqual(['shared-id']);
      expect(await ids('glaciers', ['kb-1'], B)).toEqual([]);
    });

    it('searches only the KBs asked for, and several at once', async () => {
      await index.upsert([
        chunk('k1', 'vector database monitoring', { kbId: 'kb-1' }),
        chunk('k2', 'vector database backups', { kbId: 'kb-2' }),
        chunk('k3', 'vector database sharding', { kbId: 'kb-3' }),
      ]);
      expect(await ids('vector database', ['kb-2'])).toEqual(['k2']);
      expect((await ids('vector database', ['kb-1', 'kb-3'])).sort()).toEqual(['k1', 'k3']);
      const hits = await index.search({ tenantId: A, kbIds: ['kb-1', 'kb-2'], query: 'backups', topK: 5 });
      expect(hits.map((hit) => [hit.id, hit.kbId])).toEqual([['k2', 'kb-2']]);
      expect(await ids('vector', [])).toEqual([]);
    });

    it('moving a chunk id to another KB takes it out of the first', async () => {
      await index.upsert([chunk('m', 'migrating glaciers', { kbId: 'kb-1' })]);
      await index.upsert([chunk('m', 'migrating glaciers', { kbId: 'kb-2' })]);
      expect(await ids('glaciers', ['kb-1'])).toEqual([]);
      expect(await ids('glaciers', ['kb-2'])).toEqual(['m']);
    });

    it('filters on metadata: equality of strings, numbers and booleans, and `in`', async () => {
      await index.upsert([
        chunk('f1', 'latency alert runbook', { metadata: { lang: 'en', year: 2021, public: true } }),
        chunk('f2', 'latency alert runbook', { metadata: { lang: 'zh', year: 2022, public: false } }),
        chunk('f3', 'latency alert runbook', { metadata: { lang: 'en', year: 2023 } }),
        chunk('f4', 'latency alert runbook'),
      ]);
      const filtered = async (filter: Record<string, unknown>) =>
        (await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'latency runbook', topK: 10, filter: filter as never }))
          .map((hit) => hit.id)
          .sort();
      expect(await filtered({ lang: 'en' })).toEqual(['f1', 'f3']);
      expect(await filtered({ year: 2022 })).toEqual(['f2']);
      expect(await filtered({ year: '2022' })).toEqual([]);
      expect(await filtered({ public: true })).toEqual(['f1']);
      expect(await filtered({ year: { in: [2021, 2023] } })).toEqual(['f1', 'f3']);
      expect(await filtered({ lang: 'en', year: { in: [2022, 2023] } })).toEqual(['f3']);
      expect(await filtered({ missing: 'x' })).toEqual([]);
      expect(await filtered({})).toEqual(['f1', 'f2', 'f3', 'f4']);
    });

    it('filters on fields named like built-ins of JavaScript objects as on any other field, never matching more', async () => {
      const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
      await index.upsert([
        chunk('p1', 'latency alert runbook', { metadata: Object.fromEntries(names.map((n) => [n, `v-${n}`])) }),
        chunk('p2', 'latency alert runbook', { metadata: { lang: 'en' } }),
      ]);
      for (const name of names) {
        for (const filter of [{ [name]: `v-${name}` }, toMetadataFilter({ [name]: `v-${name}` })]) {
          const hits = await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'latency runbook', topK: 10, filter: filter as never });
          expect(
            hits.map((hit) => hit.id),
            name,
          ).toEqual(['p1']);
        }
        const none = await index.search({
          tenantId: A,
          kbIds: ['kb-1'],
          query: 'latency runbook',
          topK: 10,
          filter: toMetadataFilter({ [name]: { in: ['other'] } }) as never,
        });
        expect(none, name).toEqual([]);
      }
    });

    it('a query none of whose words is indexed finds nothing, not chunks scored 0', async () => {
      await index.upsert(CORPUS);
      expect(await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'zebra xylophone', topK: 10 })).toEqual([]);
      expect(
        await index.search({
          tenantId: A,
          kbIds: ['kb-1'],
          query: 'zebra xylophone',
          topK: 10,
          filter: toMetadataFilter({ lang: 'en' }) as never,
        }),
      ).toEqual([]);
    });

    it('a filter still returns top_k matches when the best-scoring chunks do not pass it', async () => {
      const records = Array.from({ length: 30 }, (_, i) =>
        chunk(`n${i}`, i < 25 ? 'glacier glacier glacier melt' : 'glacier melt in a long text about other things entirely', {
          metadata: { keep: i >= 25 },
        }),
      );
      await index.upsert(records);
      const hits = await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'glacier', topK: 3, filter: { keep: true } });
      expect(hits).toHaveLength(3);
      expect(hits.every((hit) => Number(hit.id.slice(1)) >= 25)).toBe(true);
    });

    it('deletes by document: only that document, only in that tenant', async () => {
      await index.upsert([
        chunk('d1a', 'glacier retreat measurements', { documentId: 'doc-1' }),
        chunk('d1b', 'glacier mass balance', { documentId: 'doc-1' }),
        chunk('d2', 'glacier tourism', { documentId: 'doc-2' }),
        chunk('b1', 'glacier photography', { documentId: 'doc-1', tenantId: B }),
      ]);
      await index.deleteByDocument(A, 'doc-1');
      expect(await ids('glacier')).toEqual(['d2']);
      expect(await ids('glacier', ['kb-1'], B)).toEqual(['b1']);
      expect(await index.count({ tenantId: A })).toBe(1);
    });

    it('deletes by KB: only that KB, only in that tenant', async () => {
      await index.upsert([
        chunk('x1', 'glacier retreat', { kbId: 'kb-1' }),
        chunk('x2', 'glacier tourism', { kbId: 'kb-2' }),
        chunk('xb', 'glacier photography', { kbId: 'kb-1', tenantId: B }),
      ]);
      await index.deleteByKnowledgeBase(A, 'kb-1');
      expect(await ids('glacier', ['kb-1', 'kb-2'])).toEqual(['x2']);
      expect(await ids('glacier', ['kb-1'], B)).toEqual(['xb']);
      expect(await index.count({ tenantId: A, kbId: 'kb-1' })).toBe(0);
      await index.upsert([chunk('x3', 'glacier again', { kbId: 'kb-1' })]);
      expect(await ids('glacier', ['kb-1'])).toEqual(['x3']);
    });

    it('treats query syntax as plain text: quotes, stars, NEAR, OR, AND, SQL, control characters', async () => {
      await index.upsert([...CORPUS, chunk('c-near', 'The NEAR operator and the OR keyword appear in this text.')]);
      const hostile = [
        '"',
        '""',
        '"quantum',
        'quantum*',
        '*',
        'NEAR(quantum photosynthesis, 2)',
        'quantum OR photosynthesis',
        'AND',
        'OR OR OR',
        "'; DROP TABLE lexical_chunks; --",
        "') OR 1=1 --",
        '\\',
        '(((',
        ':-) ^ ~ { } [ ] | & !',
        '\u0000\u0001\u007f',
        '',
        '   ',
        'a'.repeat(10_000),
        'quantum '.repeat(5_000),
      ];
      for (const query of hostile) {
        const hits = await index.search({ tenantId: A, kbIds: ['kb-1'], query, topK: 5 });
        expect(Array.isArray(hits)).toBe(true);
      }
      expect((await ids('"quantum'))[0]).toBe('c-quantum');
      expect((await ids('quantum*'))[0]).toBe('c-quantum');
      expect((await ids('NEAR(operator'))[0]).toBe('c-near');
      expect(await index.count({ tenantId: A })).toBe(CORPUS.length + 1);
    });

    it('segments Chinese: a question finds its passage by words, not by whole sentences', async () => {
      await index.upsert([
        chunk('zh-vector', '向量数据库的监控需要关注查询延迟和索引大小，延迟过高时应扩容。'),
        chunk('zh-alert', '告警规则应该按服务聚合错误率，避免不同状态码的序列相除。'),
        chunk('zh-log', '日志以每行一个JSON对象输出，包含请求编号和追踪编号。'),
      ]);
      expect((await ids('如何监控向量数据库的查询延迟？'))[0]).toBe('zh-vector');
      expect((await ids('错误率告警'))[0]).toBe('zh-alert');
      expect((await ids('追踪'))[0]).toBe('zh-log');
    });

    it('handles mixed Chinese and English text and queries', async () => {
      await index.upsert([
        chunk('mix-k8s', '在Kubernetes上部署时，readiness探针检查数据库和Redis。'),
        chunk('mix-otel', 'OpenTelemetry Collector负责把指标发送到Prometheus。'),
        chunk('en-only', 'Kubernetes liveness probes restart stuck containers.'),
      ]);
      expect((await ids('Kubernetes 部署 readiness'))[0]).toBe('mix-k8s');
      expect((await ids('collector 指标'))[0]).toBe('mix-otel');
      expect((await ids('prometheus'))[0]).toBe('mix-otel');
    });

    it('ranks sensibly: rarer and more frequent matches first, scores descending, top_k respected', async () => {
      await index.upsert([
        chunk('r-strong', 'Glacier melt: glacier melt rates and glacier melt models.'),
        chunk('r-weak', 'A study of coastal erosion mentions glacier melt once among many other unrelated topics of coastal science.'),
        chunk('r-none', 'Coastal erosion and sediment transport.'),
        ...Array.from({ length: 20 }, (_, i) => chunk(`r-filler-${i}`, `Coastal erosion survey number ${i} of sediment.`)),
      ]);
      const hits = await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'glacier melt coastal', topK: 5 });
      expect(hits).toHaveLength(5);
      expect(hits[0].id).toBe('r-strong');
      expect(hits[1].id).toBe('r-weak');
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1].score).toBeGreaterThanOrEqual(hits[i].score);
      expect(await index.search({ tenantId: A, kbIds: ['kb-1'], query: 'glacier', topK: 0 })).toEqual([]);
      expect(await ids('glacier', ['kb-1'], A, 1)).toEqual(['r-strong']);
    });

    it('keeps everything across a restart', async () => {
      await index.upsert(CORPUS);
      await index.deleteByDocument(A, 'doc-c-photo');
      await index.close();
      index = await harness.reopen();
      expect(await index.count({ tenantId: A })).toBe(CORPUS.length - 1);
      expect((await ids('quarks gluons'))[0]).toBe('c-quantum');
      expect(await ids('photosynthesis')).toEqual([]);
    });

    it('counts per tenant, per KB and in all', async () => {
      await index.upsert([
        chunk('1', 'one', { kbId: 'kb-1' }),
        chunk('2', 'two', { kbId: 'kb-2' }),
        chunk('3', 'three', { kbId: 'kb-2', tenantId: B }),
      ]);
      expect(await index.count({ tenantId: A })).toBe(2);
      expect(await index.count({ tenantId: A, kbId: 'kb-2' })).toBe(1);
      expect(await index.count()).toBe(3);
    });
  });
}
