import { Test } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../src/common/errors';
import { loadConfig } from '../../../src/config/app-config';
import type { KnowledgeBaseEntity } from '../../../src/database/entities';
import { KnowledgeBasesRepository } from '../../../src/knowledge-bases/knowledge-bases.repository';
import { ChunkLookupRepository } from '../../../src/retrieval/chunk-lookup.repository';
import { Reranker, type RerankResult } from '../../../src/retrieval/reranker.port';
import { RetrievalService, type RetrievalRequest } from '../../../src/retrieval/retrieval.service';
import { DenseRetriever, SparseRetriever } from '../../../src/retrieval/retrievers';
import { TenantContext } from '../../../src/tenants/principal';
import {
  InMemoryChunkLookupRepository,
  InMemoryDatabase,
  InMemoryKnowledgeBasesRepository,
} from '../../support/fakes/in-memory-repositories';
import { SearchStack } from '../../support/fakes/search-stack';

const A = new TenantContext('tenant-a');
const B = new TenantContext('tenant-b');

/** A reranker that behaves like one: it scores each text by how many of the query's words it holds. */
class WordOverlapReranker extends Reranker {
  readonly provider = 'word-overlap';
  readonly calls: string[][] = [];

  async rerank(query: string, documents: string[], topN: number): Promise<RerankResult[]> {
    this.calls.push(documents);
    const words = new Set(query.toLowerCase().match(/\w+/g) ?? []);
    return documents
      .map((text, index) => ({ index, score: (text.toLowerCase().match(/\w+/g) ?? []).filter((w) => words.has(w)).length / 100 }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topN);
  }
}

async function build(env: Record<string, string> = {}, reranker: Reranker | null = null) {
  const db = new InMemoryDatabase();
  const stack = new SearchStack(loadConfig(env), db);
  await stack.init();
  const moduleRef = await Test.createTestingModule({
    providers: [
      ...stack.providers(),
      RetrievalService,
      DenseRetriever,
      SparseRetriever,
      { provide: KnowledgeBasesRepository, useValue: new InMemoryKnowledgeBasesRepository(db) },
      { provide: ChunkLookupRepository, useValue: new InMemoryChunkLookupRepository(db) },
      { provide: Reranker, useValue: reranker },
    ],
  }).compile();
  return { db, stack, retrieval: moduleRef.get(RetrievalService) };
}

const CORPUS = [
  {
    title: 'volcanoes',
    metadata: { topic: 'geology', year: 2020 },
    chunks: ['Volcanic eruptions eject magma, ash and sulfur dioxide into the stratosphere.'],
  },
  {
    title: 'tides',
    metadata: { topic: 'oceans', year: 2021 },
    chunks: ['Ocean tides are caused by the gravitational pull of the moon and the sun.'],
  },
  {
    title: 'glaciers',
    metadata: { topic: 'geology', year: 2022 },
    chunks: ['Glaciers carve valleys as compacted snow slowly flows downhill under its own weight.'],
  },
  {
    title: 'photosynthesis',
    metadata: { topic: 'biology', year: 2020 },
    chunks: ['Plants convert sunlight, water and carbon dioxide into glucose through photosynthesis.'],
  },
];

describe('RetrievalService', () => {
  let setup: Awaited<ReturnType<typeof build>>;
  let kb: KnowledgeBaseEntity;

  const request = (query: string, extra: Partial<RetrievalRequest> = {}): RetrievalRequest => ({
    query,
    kbIds: [kb.id],
    topK: 3,
    retriever: 'hybrid',
    ...extra,
  });

  async function seed(target: Awaited<ReturnType<typeof build>>): Promise<KnowledgeBaseEntity> {
    const created = target.stack.knowledgeBase(A.tenantId, 'science');
    for (const doc of CORPUS) await target.stack.index({ tenantId: A.tenantId, kb: created, ...doc });
    return created;
  }

  beforeEach(async () => {
    setup = await build();
    kb = await seed(setup);
  });

  afterEach(async () => {
    await setup.stack.close();
  });

  it.each(['dense', 'sparse', 'hybrid'] as const)('finds the passage that answers the question first (%s)', async (retriever) => {
    const outcome = await setup.retrieval.retrieve(A, request('what causes ocean tides and the pull of the moon', { retriever }));
    expect(outcome.retriever).toBe(retriever);
    expect(outcome.results[0]).toMatchObject({ documentTitle: 'tides', kbId: kb.id, metadata: { topic: 'oceans' }, position: 0 });
    expect(outcome.results.length).toBeLessThanOrEqual(3);
    const explain = outcome.results[0].explain;
    if (retriever === 'dense') expect(explain).toMatchObject({ sparseScore: null, fusedScore: null });
    if (retriever === 'sparse') expect(explain).toMatchObject({ denseScore: null, fusedScore: null });
    if (retriever === 'hybrid')
      expect(explain.denseScore !== null && explain.sparseScore !== null && explain.fusedScore !== null).toBe(true);
  });

  it('returns at most topK results, best first', async () => {
    const outcome = await setup.retrieval.retrieve(A, request('geology volcanic glaciers tides photosynthesis', { topK: 2 }));
    expect(outcome.results).toHaveLength(2);
    expect(outcome.results[0].score).toBeGreaterThanOrEqual(outcome.results[1].score);
  });

  it('keeps only documents whose metadata matches the filter', async () => {
    const outcome = await setup.retrieval.retrieve(
      A,
      request('volcanic eruptions and glaciers and tides', { topK: 10, filters: { topic: 'geology' } }),
    );
    expect(outcome.results.map((r) => r.documentTitle).sort()).toEqual(['glaciers', 'volcanoes']);
    const years = await setup.retrieval.retrieve(
      A,
      request('volcanic eruptions and glaciers and tides', { topK: 10, filters: { year: { in: [2021, 2022] } } }),
    );
    expect(years.results.map((r) => r.documentTitle).sort()).toEqual(['glaciers', 'tides']);
  });

  it('drops results under the score threshold', async () => {
    const all = await setup.retrieval.retrieve(A, request('ocean tides moon', { retriever: 'dense', topK: 10 }));
    expect(all.results.length).toBeGreaterThan(2);
    const threshold = all.results[1].score;
    const kept = await setup.retrieval.retrieve(
      A,
      request('ocean tides moon', { retriever: 'dense', topK: 10, scoreThreshold: threshold }),
    );
    expect(kept.results.length).toBeGreaterThan(0);
    expect(kept.results.every((r) => r.score >= threshold)).toBe(true);
    expect(kept.results.length).toBeLessThan(all.results.length);
  });

  it("never returns another tenant's chunks, even with the same words; another tenant's KB id is a 404", async () => {
    const foreign = setup.stack.knowledgeBase(B.tenantId, 'theirs');
    await setup.stack.index({
      tenantId: B.tenantId,
      kb: foreign,
      title: 'secret tides',
      chunks: ['Ocean tides are caused by the gravitational pull of the moon, says tenant B.'],
    });
    const outcome = await setup.retrieval.retrieve(A, request('ocean tides moon gravitational pull', { topK: 10 }));
    expect(outcome.results.every((r) => r.kbId === kb.id && r.documentTitle !== 'secret tides')).toBe(true);
    await expect(setup.retrieval.retrieve(A, request('tides', { kbIds: [foreign.id] }))).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.retrieval.requireKnowledgeBases(A, [kb.id, foreign.id])).rejects.toBeInstanceOf(NotFoundError);
  });

  it('resolves KB ids case-insensitively, once each, in the order asked', async () => {
    const second = setup.stack.knowledgeBase(A.tenantId, 'second');
    const found = await setup.retrieval.requireKnowledgeBases(A, [second.id.toUpperCase(), kb.id, second.id]);
    expect(found.map((k) => k.id)).toEqual([second.id, kb.id]);
  });

  it('skips a hit whose document is gone from the database', async () => {
    const tides = [...setup.db.documents.values()].find((d) => d.title === 'tides')!;
    setup.db.documents.delete(tides.id);
    const outcome = await setup.retrieval.retrieve(A, request('ocean tides moon', { topK: 10 }));
    expect(outcome.results.some((r) => r.documentId === tides.id)).toBe(false);
  });

  it('fuses by convex combination on offline KBs (HYBRID_FUSION=auto): dense weight × cosine + sparse weight × BM25 / best', async () => {
    const outcome = await setup.retrieval.retrieve(A, request('ocean tides moon sunlight', { topK: 4 }));
    const bestSparse = Math.max(...outcome.results.map((r) => r.explain.sparseScore ?? 0));
    for (const { explain } of outcome.results) {
      const expected = 0.5 * Math.min(1, Math.max(0, explain.denseScore ?? 0)) + 1 * ((explain.sparseScore ?? 0) / bestSparse);
      expect(explain.fusedScore).toBeCloseTo(expected, 9);
    }
  });

  it('fuses by reciprocal rank when asked per request or by HYBRID_FUSION, with the configured k and weights', async () => {
    const check = (results: Awaited<ReturnType<RetrievalService['retrieve']>>['results'], dense: number, sparse: number, k: number) => {
      for (const { explain } of results) {
        const expected =
          (explain.denseRank ? dense / (k + explain.denseRank) : 0) + (explain.sparseRank ? sparse / (k + explain.sparseRank) : 0);
        expect(explain.fusedScore).toBeCloseTo(expected, 12);
      }
    };
    const perRequest = await setup.retrieval.retrieve(
      A,
      request('ocean tides moon', { fusion: { method: 'rrf', k: 10, dense: 2, sparse: 1 } }),
    );
    check(perRequest.results, 2, 1, 10);

    const configured = await build({ HYBRID_FUSION: 'rrf', HYBRID_RRF_K: '30', HYBRID_SPARSE_WEIGHT: '3' });
    try {
      kb = await seed(configured);
      const outcome = await configured.retrieval.retrieve(A, request('ocean tides moon'));
      // offline KBs only: the dense weight is HYBRID_OFFLINE_DENSE_WEIGHT
      check(outcome.results, 0.5, 3, 30);
    } finally {
      await configured.stack.close();
    }
  });

  it("puts the reranker's order last, scoring by it, over the texts of the fused candidates", async () => {
    const reranker = new WordOverlapReranker();
    const reranked = await build({}, reranker);
    try {
      kb = await seed(reranked);
      const outcome = await reranked.retrieval.retrieve(A, request('glucose sunlight water carbon dioxide plants', { topK: 2 }));
      expect(reranker.calls).toHaveLength(1);
      // it saw more candidates than it was asked to return (depth max(2 topK, 20))
      expect(reranker.calls[0].length).toBeGreaterThan(2);
      expect(outcome.results).toHaveLength(2);
      expect(outcome.results[0]).toMatchObject({ documentTitle: 'photosynthesis' });
      for (const result of outcome.results) expect(result.score).toBe(result.explain.rerankScore);
      expect(outcome.results[0].score).toBeGreaterThan(outcome.results[1].score);
    } finally {
      await reranked.stack.close();
    }
  });
});
