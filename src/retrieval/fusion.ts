/**
 * Reciprocal rank fusion (Cormack et al. 2009): a candidate's fused score is
 * Σ weight / (k + rank) over the rankings that hold it, rank counted from 1.
 * Scores of the two retrievers live on different scales (cosine vs BM25); ranks do not.
 */
export interface FusionWeights {
  dense: number;
  sparse: number;
  /** RRF constant; 60 in the original paper */
  k: number;
}

export interface RankedHit {
  id: string;
  kbId: string;
  documentId: string;
  score: number;
}

export interface FusedHit {
  id: string;
  kbId: string;
  documentId: string;
  score: number;
  dense?: { score: number; rank: number };
  sparse?: { score: number; rank: number };
}

/** `dense` and `sparse` ranked best first. The result is best first; ties keep the dense order. */
export function fuseReciprocalRank(dense: readonly RankedHit[], sparse: readonly RankedHit[], weights: FusionWeights): FusedHit[] {
  const fused = new Map<string, FusedHit>();
  dense.forEach((hit, index) => {
    const rank = index + 1;
    fused.set(hit.id, { id: hit.id, kbId: hit.kbId, documentId: hit.documentId, score: weights.dense / (weights.k + rank), dense: { score: hit.score, rank } });
  });
  sparse.forEach((hit, index) => {
    const rank = index + 1;
    const contribution = weights.sparse / (weights.k + rank);
    const existing = fused.get(hit.id);
    if (existing) {
      existing.score += contribution;
      existing.sparse = { score: hit.score, rank };
    } else {
      fused.set(hit.id, { id: hit.id, kbId: hit.kbId, documentId: hit.documentId, score: contribution, sparse: { score: hit.score, rank } });
    }
  });
  return [...fused.values()].sort((a, b) => b.score - a.score);
}

/** A single retriever's ranking as fused hits (score is the retriever's own). */
export function singleRanking(hits: readonly RankedHit[], kind: 'dense' | 'sparse'): FusedHit[] {
  return hits.map((hit, index) => ({ id: hit.id, kbId: hit.kbId, documentId: hit.documentId, score: hit.score, [kind]: { score: hit.score, rank: index + 1 } }));
}
