import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';
import { createIndexedKnowledgeBase, HANDBOOK } from './retrieval-fixtures';

describe.each(DATABASES)('POST /v1/retrieve on %s', (database) => {
  let db: DatabaseHandle;
  let app: TestApp;
  let tenantA: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let tenantB: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let handbook: string;
  let extra: string;
  let foreign: string;

  beforeAll(async () => {
    db = await startDatabase(database);
    app = await startTestApp({ ...db.env, RATE_LIMIT_RPS: '100000' });
    tenantA = await createTenantWithKeys(app.baseUrl, 'retrieval-a');
    tenantB = await createTenantWithKeys(app.baseUrl, 'retrieval-b');
    [handbook, extra, foreign] = await Promise.all([
      createIndexedKnowledgeBase(app.baseUrl, tenantA.keys, 'handbook', HANDBOOK).then((kb) => kb.kbId),
      createIndexedKnowledgeBase(app.baseUrl, tenantA.keys, 'extra', [
        {
          title: 'Key rotation',
          content: 'Rotate API keys every ninety days: create a new key, deploy it, then revoke the old key.',
          metadata: { topic: 'security', year: 2025 },
        },
      ]).then((kb) => kb.kbId),
      createIndexedKnowledgeBase(app.baseUrl, tenantB.keys, 'secret', [
        {
          title: 'Secret',
          content: 'Tenant B keeps its API keys in a vault; they are stored hashed as well.',
          metadata: { topic: 'security' },
        },
      ]).then((kb) => kb.kbId),
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await db?.stop();
  });

  const retrieve = (body: Record<string, unknown>, key = tenantA.keys.read) => api(app.baseUrl, key).post('/v1/retrieve', body);
  const titles = (results: Array<{ document_title: string }>) => results.map((r) => r.document_title);

  it.each(['dense', 'sparse', 'hybrid'] as const)(
    '%s: ranks the document that answers first, with ids, text, score and metadata',
    async (retriever) => {
      const res = await retrieve({ query: 'How are API keys stored?', kb_ids: [handbook], retriever, top_k: 3 });
      expect(res.status).toBe(200);
      expect(res.body.retriever).toBe(retriever);
      expect(res.body.took_ms).toEqual(expect.any(Number));
      expect(res.body.results.length).toBeGreaterThan(0);
      expect(res.body.results.length).toBeLessThanOrEqual(3);
      const [top] = res.body.results;
      expect(top).toMatchObject({ kb_id: handbook, document_title: 'API keys', metadata: { topic: 'security', year: 2024, lang: 'en' } });
      expect(top.text).toContain('stored hashed');
      expect(top.chunk_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(top.document_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(top.score).toBeGreaterThan(0);
      const scores = res.body.results.map((r: { score: number }) => r.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      expect(top.explain).toBeUndefined();
    },
  );

  it('defaults to hybrid and explains each result: dense and sparse score/rank and the fused score (convex on offline KBs)', async () => {
    const res = await retrieve({ query: 'nightly database backups kept for thirty days', kb_ids: [handbook], explain: true, top_k: 20 });
    expect(res.status).toBe(200);
    expect(res.body.retriever).toBe('hybrid');
    const [top] = res.body.results;
    expect(top.document_title).toBe('Backups');
    expect(top.explain).toMatchObject({ dense_rank: 1, sparse_rank: 1 });
    expect(top.explain.dense_score).toBeGreaterThan(0);
    expect(top.explain.sparse_score).toBeGreaterThan(0);
    // offline KB: dense weight 0.5 (HYBRID_OFFLINE_DENSE_WEIGHT) × cosine + BM25 score / best BM25 score
    const bestSparse = Math.max(...res.body.results.map((r: { explain: { sparse_score: number | null } }) => r.explain.sparse_score ?? 0));
    for (const result of res.body.results) {
      const { dense_score, sparse_score, fused_score } = result.explain;
      const expected =
        (dense_score === null ? 0 : 0.5 * Math.max(0, dense_score)) + (sparse_score === null ? 0 : sparse_score / bestSparse);
      expect(fused_score).toBeCloseTo(expected, 10);
      expect(result.score).toBeCloseTo(fused_score, 10);
    }
  });

  it('fuses by RRF when asked, with the weights and k from the request', async () => {
    const equal = await retrieve({
      query: 'nightly database backups kept for thirty days',
      kb_ids: [handbook],
      explain: true,
      fusion: { method: 'rrf', dense_weight: 1, sparse_weight: 1 },
    });
    expect(equal.status).toBe(200);
    expect(equal.body.results[0].document_title).toBe('Backups');
    for (const result of equal.body.results) {
      const { dense_rank, sparse_rank, fused_score } = result.explain;
      const expected = (dense_rank ? 1 / (60 + dense_rank) : 0) + (sparse_rank ? 1 / (60 + sparse_rank) : 0);
      expect(fused_score).toBeCloseTo(expected, 10);
      expect(result.score).toBeCloseTo(fused_score, 10);
    }
    const res = await retrieve({
      query: 'nightly database backups',
      kb_ids: [handbook],
      explain: true,
      fusion: { method: 'rrf', dense_weight: 0, sparse_weight: 2, k: 10 },
    });
    expect(res.status).toBe(200);
    for (const result of res.body.results) {
      const { sparse_rank, fused_score } = result.explain;
      expect(fused_score).toBeCloseTo(sparse_rank ? 2 / (10 + sparse_rank) : 0, 10);
    }
  });

  it('applies convex weights from the request and refuses an unknown fusion method', async () => {
    const res = await retrieve({
      query: 'nightly database backups',
      kb_ids: [handbook],
      explain: true,
      fusion: { dense_weight: 0, sparse_weight: 2 },
    });
    expect(res.status).toBe(200);
    const bestSparse = Math.max(...res.body.results.map((r: { explain: { sparse_score: number | null } }) => r.explain.sparse_score ?? 0));
    for (const result of res.body.results) {
      const { sparse_score, fused_score } = result.explain;
      expect(fused_score).toBeCloseTo(sparse_score === null ? 0 : (2 * sparse_score) / bestSparse, 10);
    }
    const wrong = await retrieve({ query: 'nightly database backups', kb_ids: [handbook], fusion: { method: 'linear' } });
    expect(wrong.status).toBe(422);
    expect(JSON.stringify(wrong.body)).toContain('method');
  });

  it('filters on document metadata: equality and in', async () => {
    const operations = await retrieve({ query: 'API keys status', kb_ids: [handbook], filters: { topic: 'operations' }, top_k: 10 });
    expect(operations.status).toBe(200);
    expect(operations.body.results.length).toBeGreaterThan(0);
    for (const r of operations.body.results) expect(r.metadata.topic).toBe('operations');
    expect(titles(operations.body.results)).not.toContain('API keys');

    const years = await retrieve({
      query: 'database backup logs',
      kb_ids: [handbook],
      retriever: 'dense',
      filters: { year: { in: [2023] } },
      top_k: 10,
    });
    expect(years.status).toBe(200);
    expect(years.body.results.length).toBeGreaterThan(0);
    for (const r of years.body.results) expect(r.metadata.year).toBe(2023);

    const none = await retrieve({ query: 'API keys', kb_ids: [handbook], filters: { topic: 'astrology' } });
    expect(none.body.results).toEqual([]);
  });

  it('segments Chinese: a Chinese question finds the Chinese document with every retriever', async () => {
    for (const retriever of ['sparse', 'dense', 'hybrid']) {
      const res = await retrieve({ query: '错误率超过多少会触发告警？', kb_ids: [handbook], retriever, top_k: 3 });
      expect(res.status).toBe(200);
      expect(res.body.results[0].document_title).toBe('监控告警');
    }
    const mixed = await retrieve({ query: '日志由Loki收集吗', kb_ids: [handbook], retriever: 'sparse', top_k: 1 });
    expect(mixed.body.results[0].document_title).toBe('日志收集');
  });

  it('searches several knowledge bases of the tenant at once', async () => {
    const res = await retrieve({ query: 'revoke API keys', kb_ids: [handbook, extra], top_k: 10 });
    expect(res.status).toBe(200);
    const kbs = new Set(res.body.results.map((r: { kb_id: string }) => r.kb_id));
    expect(kbs).toEqual(new Set([handbook, extra]));
  });

  it('drops results under score_threshold', async () => {
    const all = await retrieve({ query: 'API keys', kb_ids: [handbook], retriever: 'sparse', top_k: 10 });
    const cut = all.body.results[0].score - 1e-9;
    const res = await retrieve({ query: 'API keys', kb_ids: [handbook], retriever: 'sparse', top_k: 10, score_threshold: cut });
    expect(res.body.results.length).toBeGreaterThanOrEqual(1);
    expect(res.body.results.length).toBeLessThan(all.body.results.length);
    for (const r of res.body.results) expect(r.score).toBeGreaterThanOrEqual(cut);
  });

  it("answers 404 for another tenant's or an unknown knowledge base, even mixed with the caller's own", async () => {
    const foreignOnly = await retrieve({ query: 'API keys vault', kb_ids: [foreign] });
    expect(foreignOnly.status).toBe(404);
    expect(foreignOnly.headers.get('content-type')).toContain('application/problem+json');
    expect(foreignOnly.text).not.toContain('vault');
    expect((await retrieve({ query: 'API keys', kb_ids: [handbook, foreign] })).status).toBe(404);
    expect((await retrieve({ query: 'API keys', kb_ids: ['00000000-0000-4000-8000-000000000000'] })).status).toBe(404);
    const own = await retrieve({ query: 'API keys vault', kb_ids: [foreign] }, tenantB.keys.read);
    expect(own.status).toBe(200);
    expect(own.body.results[0].kb_id).toBe(foreign);
  });

  it('needs a key with read scope', async () => {
    expect((await api(app.baseUrl).post('/v1/retrieve', { query: 'x', kb_ids: [handbook] })).status).toBe(401);
    expect((await retrieve({ query: 'API keys', kb_ids: [handbook] }, tenantA.keys.write)).status).toBe(200);
  });

  it.each([
    ['an empty query', { query: '' }, 'query'],
    ['a query of blanks and punctuation', { query: '  ?! ' }, 'query'],
    ['a 100 kB query', { query: 'a'.repeat(100_000) }, 'query'],
    ['top_k 0', { top_k: 0 }, 'top_k'],
    ['top_k 10,000', { top_k: 10_000 }, 'top_k'],
    ['a fractional top_k', { top_k: 2.5 }, 'top_k'],
    ['an unknown retriever', { retriever: 'magic' }, 'retriever'],
    ['no kb_ids', { kb_ids: [] }, 'kb_ids'],
    ['a kb id that is not a UUID', { kb_ids: ['handbook'] }, 'kb_ids'],
    ['filters as a list', { filters: [1, 2] }, 'filters'],
    ['a filter with an unknown operator', { filters: { year: { gt: 2020 } } }, 'filters'],
    ['a filter value that is an object list', { filters: { topic: [{ a: 1 }] } }, 'filters'],
    ['an empty in list', { filters: { topic: { in: [] } } }, 'filters'],
    ['a negative fusion weight', { fusion: { dense_weight: -1 } }, 'fusion.dense_weight'],
    ['an unknown field', { rerank: true }, 'rerank'],
  ])('refuses %s with a 422 naming the field', async (_what, change, field) => {
    const res = await retrieve({ query: 'API keys', kb_ids: [handbook], ...change });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});
