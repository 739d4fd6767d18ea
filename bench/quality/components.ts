import { OfflineEmbeddingProvider, DEFAULT_OFFLINE_MODEL } from '../../src/embeddings/offline';
import { Bm25Partition, searchBm25 } from '../../src/lexical-index/embedded/bm25-partition';
import { DEFAULT_BM25_PARAMETERS } from '../../src/lexical-index/bm25';
import { fuseConvex, fuseReciprocalRank, type FusionMethod, type RankedHit } from '../../src/retrieval/fusion';
import { analyze, termFrequencies } from '../../src/text/analyzer';
import { BeirDataset, documentText, Run } from './beir';

/**
 * Sparse (the embedded index's BM25), dense (offline embedder, exact cosine) and their runs,
 * computed straight from the components, with no service around them. Hybrid runs use the
 * service's own fusion functions (`src/retrieval/fusion.ts`).
 */
export interface ComponentRuns {
  sparse: Run;
  dense: Run;
  /** query id → ranked hits with their scores (what fusion sees) */
  sparseHits: Map<string, RankedHit[]>;
  denseHits: Map<string, RankedHit[]>;
}

export async function componentRuns(dataset: BeirDataset, depth = 100, model = DEFAULT_OFFLINE_MODEL): Promise<ComponentRuns> {
  const partition = new Bm25Partition();
  for (const document of dataset.corpus) {
    partition.put(
      { id: document.id, kbId: 'kb', documentId: document.id, metadata: undefined },
      termFrequencies(analyze(documentText(document))),
    );
  }
  const embedder = new OfflineEmbeddingProvider();
  const { vectors } = await embedder.embed(model, dataset.corpus.map(documentText));
  const queryVectors = (await embedder.embed(model, dataset.queries.map((query) => query.text))).vectors;
  const sparseHits = new Map<string, RankedHit[]>();
  const denseHits = new Map<string, RankedHit[]>();
  const hit = (id: string, score: number): RankedHit => ({ id, kbId: 'kb', documentId: id, score });
  dataset.queries.forEach((query, index) => {
    sparseHits.set(query.id, searchBm25([partition], analyze(query.text), DEFAULT_BM25_PARAMETERS, depth).map((found) => hit(found.item.id, found.score)));
    denseHits.set(query.id, exactCosineTop(queryVectors[index], vectors, depth).map(({ index: i, score }) => hit(dataset.corpus[i].id, score)));
  });
  return { sparse: idsOf(sparseHits), dense: idsOf(denseHits), sparseHits, denseHits };
}

function idsOf(hits: Map<string, RankedHit[]>): Run {
  return new Map([...hits].map(([queryId, ranked]) => [queryId, ranked.map((entry) => entry.id)]));
}

/** the `k` vectors most similar to `query` (all L2-normalized: dot product = cosine), best first */
export function exactCosineTop(query: Float32Array, vectors: readonly Float32Array[], k: number): { index: number; score: number }[] {
  const scored = vectors.map((vector, index) => {
    let dot = 0;
    for (let i = 0; i < vector.length; i++) dot += vector[i] * query[i];
    return { index, score: dot };
  });
  scored.sort((a, b) => b.score - a.score);
  return scored.slice(0, k);
}

export interface HybridSettings {
  method: FusionMethod;
  sparseWeight: number;
  denseWeight: number;
  /** RRF constant (default 60) */
  k?: number;
  /** candidates each retriever hands to fusion (default: all the run holds); the service hands max(top_k, 50) */
  depth?: number;
}

export function hybridRun(runs: ComponentRuns, settings: HybridSettings): Run {
  const fused: Run = new Map();
  const weights = { dense: settings.denseWeight, sparse: settings.sparseWeight, k: settings.k ?? 60 };
  for (const [queryId, sparseAll] of runs.sparseHits) {
    const sparse = sparseAll.slice(0, settings.depth);
    const dense = (runs.denseHits.get(queryId) ?? []).slice(0, settings.depth);
    const hits = settings.method === 'convex' ? fuseConvex(dense, sparse, weights) : fuseReciprocalRank(dense, sparse, weights);
    fused.set(queryId, hits.map((entry) => entry.id));
  }
  return fused;
}
