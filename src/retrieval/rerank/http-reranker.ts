import { Reranker, RerankResult } from '../reranker.port';
import { badResponse, bearer, isRecord, ProviderClientOptions, ProviderHttpClient } from '../../common/http';

export interface HttpRerankerOptions extends ProviderClientOptions {
  /** dependency name in errors and labels (`cohere`, `jina`, `openai`…) */
  provider: string;
  model: string;
  /** default 10 000 ms */
  timeoutMs?: number;
}

/**
 * Cross-encoder reranking over a Cohere/Jina-style endpoint (also vLLM's): `POST {baseUrl}/rerank`
 * `{model, query, documents, top_n}` → `{results: [{index, relevance_score}]}`. The base URL
 * carries the version prefix the vendor needs: `https://api.cohere.com/v2`,
 * `https://api.jina.ai/v1`, or a vLLM server's root.
 */
export class HttpReranker extends Reranker {
  readonly provider: string;
  private readonly http: ProviderHttpClient;
  private readonly model: string;

  constructor(options: HttpRerankerOptions) {
    super();
    this.provider = options.provider;
    this.model = options.model;
    this.http = new ProviderHttpClient({ ...options, headers: bearer(options.apiKey), timeoutMs: options.timeoutMs ?? 10_000 });
  }

  /** The `topN` best documents, best first. */
  async rerank(query: string, documents: string[], topN: number, signal?: AbortSignal): Promise<RerankResult[]> {
    const wanted = Math.min(topN, documents.length);
    if (wanted <= 0) return [];
    const body = await this.http.postJson('/rerank', { model: this.model, query, documents, top_n: wanted }, { signal });
    if (!isRecord(body) || !Array.isArray(body.results)) throw badResponse(this.provider, 'rerank answer has no `results` array');
    const seen = new Set<number>();
    const results = body.results.map((item: unknown, position: number): RerankResult => {
      const index = isRecord(item) ? item.index : undefined;
      const score = isRecord(item) ? item.relevance_score : undefined;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= documents.length || seen.has(index)) {
        throw badResponse(this.provider, `rerank result ${position} has a missing, repeated or out-of-range index`);
      }
      if (typeof score !== 'number' || !Number.isFinite(score))
        throw badResponse(this.provider, `rerank result ${position} has no numeric relevance_score`);
      seen.add(index);
      return { index, score };
    });
    return results.sort((a, b) => b.score - a.score).slice(0, wanted);
  }
}
