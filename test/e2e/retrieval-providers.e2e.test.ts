import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';
import { createIndexedKnowledgeBase, HANDBOOK } from './retrieval-fixtures';

/**
 * Retrieval with hosted providers, against the protocol-level fake server: KBs with different
 * embedding models in one request (the query embedded once per model), and a /rerank endpoint
 * reordering the fused candidates.
 */
describe('POST /v1/retrieve with an OpenAI-compatible embedder and a reranker', () => {
  let fake: FakeLlmServer;
  let app: TestApp;
  let tenant: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let largeKb: string;
  let hostedKb: string;

  beforeAll(async () => {
    fake = await startFakeLlmServer({ embeddingDimension: (model) => (model === 'fake-embed-large' ? 96 : 64) });
    app = await startTestApp({
      RATE_LIMIT_RPS: '100000',
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_BASE_URL: `${fake.url}/v1`,
      EMBEDDING_MODEL: 'fake-embed-small',
      RERANK_PROVIDER: 'jina',
      RERANK_BASE_URL: fake.url,
      RERANK_MODEL: 'fake-reranker',
    });
    tenant = await createTenantWithKeys(app.baseUrl, 'providers');
    [largeKb, hostedKb] = await Promise.all([
      createIndexedKnowledgeBase(app.baseUrl, tenant.keys, 'large-kb', HANDBOOK.slice(0, 3), { embeddingModel: 'fake-embed-large' }).then(
        (kb) => kb.kbId,
      ),
      createIndexedKnowledgeBase(app.baseUrl, tenant.keys, 'hosted-kb', HANDBOOK.slice(3)).then((kb) => kb.kbId),
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  const retrieve = (body: Record<string, unknown>) => api(app.baseUrl, tenant.keys.read).post('/v1/retrieve', body);

  it('searches KBs of different embedding models (and dimensions) together, embedding the query once per model', async () => {
    fake.reset();
    const query = 'API keys and photosynthesis light energy';
    const res = await retrieve({ query, kb_ids: [largeKb, hostedKb], retriever: 'dense', top_k: 10 });
    expect(res.status).toBe(200);
    expect(new Set(res.body.results.map((r: { kb_id: string }) => r.kb_id))).toEqual(new Set([largeKb, hostedKb]));
    const embedCalls = fake.requestsTo('/v1/embeddings').filter((r) => JSON.stringify(r.body.input).includes(query));
    expect(embedCalls.map((r) => r.body.model).sort()).toEqual(['fake-embed-large', 'fake-embed-small']);
  });

  it('cancels the query embedding when the client goes away', async () => {
    fake.reset();
    fake.fail('/v1/embeddings', { kind: 'delay', ms: 5_000 }, 1);
    const controller = new AbortController();
    const call = fetch(`${app.baseUrl}/v1/retrieve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.keys.read}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'a question nobody waits for', kb_ids: [hostedKb], retriever: 'dense' }),
      signal: controller.signal,
    }).catch((error: Error) => error.name);
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    expect(await call).toBe('AbortError');
    const started = Date.now();
    while (!fake.requestsTo('/v1/embeddings')[0]?.closedEarly && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 50));
    // well before the 5 s the embedder would have taken
    expect(fake.requestsTo('/v1/embeddings')[0]?.closedEarly).toBe(true);
    fake.clearFaults();
    expect((await retrieve({ query: 'API keys', kb_ids: [hostedKb] })).status).toBe(200);
  });

  it('reranks the fused candidates: the order and scores are the reranker’s', async () => {
    fake.reset();
    const res = await retrieve({ query: 'light energy chlorophyll', kb_ids: [largeKb, hostedKb], top_k: 3, explain: true });
    expect(res.status).toBe(200);
    const rerankCalls = fake.requestsTo('/rerank');
    expect(rerankCalls).toHaveLength(1);
    expect(rerankCalls[0].body).toMatchObject({ model: 'fake-reranker', query: 'light energy chlorophyll', top_n: 3 });
    expect(rerankCalls[0].body.documents.length).toBeGreaterThanOrEqual(res.body.results.length);
    expect(res.body.results[0].document_title).toBe('Photosynthesis');
    for (const result of res.body.results) {
      expect(result.score).toBe(result.explain.rerank_score);
      expect(result.explain.fused_score).toEqual(expect.any(Number));
    }
    const scores = res.body.results.map((r: { score: number }) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('a reranker that fails is a 503 problem naming it', async () => {
    fake.fail('/rerank', { kind: 'status', status: 503 }, Infinity);
    const res = await retrieve({ query: 'light energy', kb_ids: [hostedKb] });
    expect([502, 503]).toContain(res.status);
    expect(res.body.dependency).toBe('jina');
    fake.clearFaults();
  });
});
