import { OfflineEmbeddingProvider, DEFAULT_OFFLINE_MODEL } from '../../src/embeddings/offline';
import { Bm25Partition, searchBm25 } from '../../src/lexical-index/embedded/bm25-partition';
import { DEFAULT_BM25_PARAMETERS } from '../../src/lexical-index/bm25';
import { analyze, termFrequencies } from '../../src/text/analyzer';
import { BeirDataset, documentText, reciprocalRankFusion, Run } from './beir';

/**
 * Sparse (the embedded index's BM25), dense (offline embedder, exact cosine) and their runs,
 * computed straight from the components, with no service around them.
 */
export interface ComponentRuns {
  sparse: Run;
  dense: Run;
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
  const sparse: Run = new Map();
  const dense: Run = new Map();
  dataset.queries.forEach((query, index) => {
    sparse.set(query.id, searchBm25([partition], analyze(query.text), DEFAULT_BM25_PARAMETERS, depth).map((hit) => hit.item.id));
    dense.set(query.id, exactCosineTop(queryVectors[index], vectors, depth).map((i) => dataset.corpus[i].id));
  });
  return { sparse, dense };
}

/** indexes of the `k` vectors most similar to `query` (all L2-normalized: dot product = cosine) */
export function exactCosineTop(query: Float32Array, vectors: readonly Float32Array[], k: number): number[] {
  const scored = vectors.map((vector, index) => {
    let dot = 0;
    for (let i = 0; i < vector.length; i++) dot += vector[i] * query[i];
    return { index, dot };
  });
  scored.sort((a, b) => b.dot - a.dot);
  return scored.slice(0, k).map((entry) => entry.index);
}

export function hybridRun(runs: ComponentRuns, sparseWeight: number, denseWeight: number, k = 60): Run {
  const fused: Run = new Map();
  for (const [queryId, sparseIds] of runs.sparse) {
    fused.set(
      queryId,
      reciprocalRankFusion([{ ids: sparseIds, weight: sparseWeight }, { ids: runs.dense.get(queryId) ?? [], weight: denseWeight }], k),
    );
  }
  return fused;
}
