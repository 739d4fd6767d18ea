import { OfflineEmbeddingProvider, DEFAULT_OFFLINE_MODEL } from '../../src/embeddings/offline';
import { Bm25Partition, searchBm25 } from '../../src/lexical-index/embedded/bm25-partition';
import { DEFAULT_BM25_PARAMETERS } from '../../src/lexical-index/bm25';
import { fuseConvex, fuseReciprocalRank, type FusionMethod, type RankedHit } from '../../src/retrieval/fusion';
import { chunkText, chunkTextWithContext } from '../../src/ingestion/chunking/chunk-text';
import { parseDocument } from '../../src/ingestion/parsing/document-parser';
import { detectDocumentType } from '../../src/ingestion/parsing/document-type';
import { DEFAULT_CHUNKER } from '../../src/knowledge-bases/knowledge-bases.dto';
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
  /** query id → ranked hits with their scores (what fusion sees): documents, or chunks when chunked */
  sparseHits: Map<string, RankedHit[]>;
  denseHits: Map<string, RankedHit[]>;
  /** hits are chunks: fused hits are cut to the fusion depth, as the service cuts them, before they become documents */
  chunked: boolean;
}

/** one indexed unit: a whole document, or one of its chunks (`chunked`) */
interface Unit {
  id: string;
  documentId: string;
  text: string;
}

/**
 * `chunked`: index what the service indexes (`eval:beir`): each document uploaded as
 * "title\ntext", parsed and cut by the default chunker (512 tokens, 64 overlap), a chunk's text
 * with its heading path; runs then rank a document where its best chunk ranks. Otherwise each
 * document is one unit (title and text), as BEIR's baselines index it.
 */
export async function componentRuns(
  dataset: BeirDataset,
  depth = 100,
  model = DEFAULT_OFFLINE_MODEL,
  options: { chunked?: boolean } = {},
): Promise<ComponentRuns> {
  const units = options.chunked
    ? await chunkUnits(dataset)
    : dataset.corpus.map((document) => ({ id: document.id, documentId: document.id, text: documentText(document) }));
  const partition = new Bm25Partition();
  for (const unit of units) {
    partition.put({ id: unit.id, kbId: 'kb', documentId: unit.documentId, metadata: undefined }, termFrequencies(analyze(unit.text)));
  }
  const embedder = new OfflineEmbeddingProvider();
  const { vectors } = await embedder.embed(
    model,
    units.map((unit) => unit.text),
  );
  const queryVectors = (
    await embedder.embed(
      model,
      dataset.queries.map((query) => query.text),
    )
  ).vectors;
  const sparseHits = new Map<string, RankedHit[]>();
  const denseHits = new Map<string, RankedHit[]>();
  const hit = (unit: Pick<Unit, 'id' | 'documentId'>, score: number): RankedHit => ({
    id: unit.id,
    kbId: 'kb',
    documentId: unit.documentId,
    score,
  });
  dataset.queries.forEach((query, index) => {
    sparseHits.set(
      query.id,
      searchBm25([partition], analyze(query.text), DEFAULT_BM25_PARAMETERS, depth).map((found) => hit(found.item, found.score)),
    );
    denseHits.set(
      query.id,
      exactCosineTop(queryVectors[index], vectors, depth).map(({ index: i, score }) => hit(units[i], score)),
    );
  });
  return { sparse: documentsOf(sparseHits), dense: documentsOf(denseHits), sparseHits, denseHits, chunked: options.chunked ?? false };
}

async function chunkUnits(dataset: BeirDataset): Promise<Unit[]> {
  const units: Unit[] = [];
  const uploaded = new Set<string>();
  for (const document of dataset.corpus) {
    const content = document.title ? `${document.title}\n${document.text}` : document.text;
    // the service keeps one document per distinct content in a KB
    if (uploaded.has(content)) continue;
    uploaded.add(content);
    const bytes = Buffer.from(content, 'utf8');
    const parsed = await parseDocument(bytes, detectDocumentType(bytes));
    for (const chunk of chunkText(parsed.text, DEFAULT_CHUNKER)) {
      units.push({ id: `${document.id}#${chunk.position}`, documentId: document.id, text: chunkTextWithContext(chunk) });
    }
  }
  return units;
}

/** each ranking as document ids, a document where its best unit ranks */
function documentsOf(hits: Map<string, readonly RankedHit[]>): Run {
  return new Map([...hits].map(([queryId, ranked]) => [queryId, [...new Set(ranked.map((entry) => entry.documentId))]]));
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
    fused.set(queryId, [...new Set((runs.chunked ? hits.slice(0, settings.depth) : hits).map((entry) => entry.documentId))]);
  }
  return fused;
}
