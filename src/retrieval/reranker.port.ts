export interface RerankResult {
  /** index into the documents passed in */
  index: number;
  score: number;
}

/** Port for cross-encoder rerankers (`/rerank` endpoints of Cohere, Jina, TEI, vLLM). */
export abstract class Reranker {
  abstract readonly provider: string;
  abstract rerank(query: string, documents: string[], topN: number, signal?: AbortSignal): Promise<RerankResult[]>;
}
