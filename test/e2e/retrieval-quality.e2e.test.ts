import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetDir } from '../../bench/quality/datasets';
import { documentText, evaluateRun, loadBeirDataset, type Run } from '../../bench/quality/beir';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';
import { createIndexedKnowledgeBase } from './retrieval-fixtures';

/**
 * A slice of SciFact through the whole service (upload, chunk, embed, index, retrieve) on the
 * embedded default: the first test queries, their judged abstracts and distractors. Floors sit
 * a little under what was measured, so a change that hurts ranking fails here.
 */
const QUERIES = 50;
const DOCUMENTS = 250;
/** measured on this slice (title + abstract indexed, as BEIR does; offline-hash-v2, convex fusion): sparse 0.928, dense 0.868, hybrid 0.928 */
const FLOORS = { sparse: 0.9, dense: 0.84, hybrid: 0.9 };

describe('retrieval quality on a SciFact slice (embedded default)', () => {
  let app: TestApp;
  let readKey: string;
  let kbId: string;
  const dataset = loadBeirDataset(datasetDir('scifact'), 'test');
  const queries = dataset.queries.slice(0, QUERIES);
  const qrels = new Map(queries.map((q) => [q.id, dataset.qrels.get(q.id)!]));
  const judged = new Set([...qrels.values()].flatMap((docs) => [...docs.keys()]));
  const corpus = [...dataset.corpus.filter((d) => judged.has(d.id)), ...dataset.corpus.filter((d) => !judged.has(d.id))].slice(
    0,
    DOCUMENTS,
  );

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_RPS: '100000', INGESTION_CONCURRENCY: '2' });
    const tenant = await createTenantWithKeys(app.baseUrl, 'quality');
    readKey = tenant.keys.read;
    kbId = (
      await createIndexedKnowledgeBase(
        app.baseUrl,
        tenant.keys,
        'scifact',
        corpus.map((d) => ({ title: d.title, content: documentText(d), metadata: { source_id: d.id } })),
        { timeoutMs: 100_000 },
      )
    ).kbId;
  }, 110_000);

  afterAll(async () => {
    await app?.close();
  });

  it.each(Object.entries(FLOORS))('%s nDCG@10 stays above its floor', async (retriever, floor) => {
    const run: Run = new Map();
    for (const query of queries) {
      const res = await api(app.baseUrl, readKey).post('/v1/retrieve', { query: query.text, kb_ids: [kbId], retriever, top_k: 20 });
      expect(res.status).toBe(200);
      run.set(query.id, [...new Set<string>(res.body.results.map((r: { metadata: { source_id: string } }) => r.metadata.source_id))]);
    }
    const scores = evaluateRun(run, qrels);
    process.stdout.write(`SciFact slice ${retriever}: nDCG@10 ${scores.ndcg10.toFixed(3)}\n`);
    expect(scores.ndcg10).toBeGreaterThanOrEqual(floor);
  });
});
