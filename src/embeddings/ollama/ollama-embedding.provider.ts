import { EmbeddingResult } from '../embedding-provider.port';
import {
  badResponse,
  bearer,
  countOr,
  estimateTokens,
  isRecord,
  ProviderClientOptions,
  ProviderHttpClient,
  toVector,
} from '../../common/http';
import { BatchedEmbeddingProvider } from '../batched-embedding-provider';

export interface OllamaEmbeddingOptions extends ProviderClientOptions {
  /** dependency name in errors and labels; default `ollama` */
  provider?: string;
  /** inputs per request; default 64 */
  batchSize?: number;
}

/** Embeddings from Ollama's native API: `POST {baseUrl}/api/embed` `{model, input: [...]}` → `{embeddings}`. */
export class OllamaEmbeddingProvider extends BatchedEmbeddingProvider {
  readonly provider: string;
  private readonly http: ProviderHttpClient;

  constructor(options: OllamaEmbeddingOptions) {
    super(options.batchSize ?? 64);
    this.provider = options.provider ?? 'ollama';
    this.http = new ProviderHttpClient({ ...options, provider: this.provider, headers: bearer(options.apiKey) });
  }

  protected async embedBatch(model: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingResult> {
    const body = await this.http.postJson('/api/embed', { model, input: texts }, { signal });
    if (!isRecord(body) || !Array.isArray(body.embeddings)) throw badResponse(this.provider, 'embed answer has no `embeddings` array');
    const vectors = body.embeddings.map((item: unknown, index: number) => {
      const vector = toVector(item);
      if (!vector) throw badResponse(this.provider, `embedding ${index} is not an array of numbers`);
      return vector;
    });
    return { vectors, inputTokens: countOr(body.prompt_eval_count, estimateTokens(texts)) };
  }
}
