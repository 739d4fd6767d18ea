export interface Bm25Parameters {
  /** term-frequency saturation (BEIR's baseline: 0.9; this index: 1.2) */
  k1: number;
  /** length normalization (BEIR's baseline: 0.4; this index: 0.75) */
  b: number;
}

/**
 * Tuned on SciFact's train split with this analyzer (k1 0.9–2, b 0.4–0.9 all within 0.005 of
 * each other there); Lucene's defaults won by a hair and generalize.
 */
export const DEFAULT_BM25_PARAMETERS: Readonly<Bm25Parameters> = Object.freeze({ k1: 1.2, b: 0.75 });

/** Lucene's (and BEIR's Elasticsearch baseline's) always-positive BM25 idf */
export function bm25Idf(documentCount: number, documentFrequency: number): number {
  return Math.log(1 + (documentCount - documentFrequency + 0.5) / (documentFrequency + 0.5));
}
