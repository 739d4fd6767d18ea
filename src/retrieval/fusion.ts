/**
 * The two ways hybrid retrieval fuses the dense and the sparse ranking:
 * - `rrf`, reciprocal rank fusion (Cormack et al. 2009): a candidate's fused score is
 *   Σ weight / (k + rank) over the rankings that hold it, rank counted from 1. It uses ranks only,
 *   so the retrievers' score scales (cosine vs BM25) do not matter;
 * - `convex`, a convex combination of scores (Bruch et al. 2023, "An Analysis of Fusion Functions
 *   for Hybrid Retrieval"): dense weight × cosine + sparse weight × BM25 score / best BM25 score
 *   of the ranking. Each score is brought into [0, 1] by a bound that does not depend on the other
 *   candidates below the best: the cosine by its own range (negative cosines count 0), BM25, which
 *   has no fixed range, by the query's best score. The cosine is not divided by the best cosine:
 *   how close the dense side's best match is tells how much it knows about the query, and dividing
 *   that away gave a query the dense side matches poorly as much dense say as one it matches
 *   closely (offline embedder, SciFact chunked as the service does, each variant at its best dense
 *   weight on train: nDCG@10 train 0.7069 → 0.7081, test 0.698 → 0.703; bench/quality/README.md).
 *   A candidate absent from a ranking gets 0 from it. Unlike RRF it keeps how far apart the scores
 *   are, so a weak retriever can break near-ties of a strong one without overturning clear wins,
 *   and the fused order does not depend on how many candidates each retriever returned.
 */
export const FUSION_METHODS = ['rrf', 'convex'] as const;
export type FusionMethod = (typeof FUSION_METHODS)[number];

export interface FusionWeights {
  dense: number;
  sparse: number;
  /** RRF constant; 60 in the original paper (unused by `convex`) */
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
    fused.set(hit.id, {
      id: hit.id,
      kbId: hit.kbId,
      documentId: hit.documentId,
      score: weights.dense / (weights.k + rank),
      dense: { score: hit.score, rank },
    });
  });
  sparse.forEach((hit, index) => {
    const rank = index + 1;
    const contribution = weights.sparse / (weights.k + rank);
    const existing = fused.get(hit.id);
    if (existing) {
      existing.score += contribution;
      existing.sparse = { score: hit.score, rank };
    } else {
      fused.set(hit.id, {
        id: hit.id,
        kbId: hit.kbId,
        documentId: hit.documentId,
        score: contribution,
        sparse: { score: hit.score, rank },
      });
    }
  });
  return [...fused.values()].sort((a, b) => b.score - a.score);
}

/** `dense` and `sparse` ranked best first. The result is best first; ties keep the dense order. */
export function fuseConvex(
  dense: readonly RankedHit[],
  sparse: readonly RankedHit[],
  weights: Pick<FusionWeights, 'dense' | 'sparse'>,
): FusedHit[] {
  const fused = new Map<string, FusedHit>();
  const sparseScale = scaleOf(sparse);
  dense.forEach((hit, index) => {
    // a cosine similarity: its own range [-1, 1] bounds it, negative counts 0
    fused.set(hit.id, {
      id: hit.id,
      kbId: hit.kbId,
      documentId: hit.documentId,
      score: weights.dense * Math.min(1, Math.max(0, hit.score)),
      dense: { score: hit.score, rank: index + 1 },
    });
  });
  sparse.forEach((hit, index) => {
    const contribution = weights.sparse * Math.max(0, hit.score * sparseScale);
    const existing = fused.get(hit.id);
    if (existing) {
      existing.score += contribution;
      existing.sparse = { score: hit.score, rank: index + 1 };
    } else {
      fused.set(hit.id, {
        id: hit.id,
        kbId: hit.kbId,
        documentId: hit.documentId,
        score: contribution,
        sparse: { score: hit.score, rank: index + 1 },
      });
    }
  });
  return [...fused.values()].sort((a, b) => b.score - a.score);
}

/** 1 / the best score of a ranking, or 0 when it is empty or its best score is not positive */
function scaleOf(hits: readonly RankedHit[]): number {
  let best = 0;
  for (const hit of hits) if (hit.score > best) best = hit.score;
  return best > 0 ? 1 / best : 0;
}

/** A single retriever's ranking as fused hits (score is the retriever's own). */
export function singleRanking(hits: readonly RankedHit[], kind: 'dense' | 'sparse'): FusedHit[] {
  return hits.map((hit, index) => ({
    id: hit.id,
    kbId: hit.kbId,
    documentId: hit.documentId,
    score: hit.score,
    [kind]: { score: hit.score, rank: index + 1 },
  }));
}
