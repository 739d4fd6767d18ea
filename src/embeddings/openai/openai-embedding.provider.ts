import { EmbeddingResult } from '../embedding-provider.port';
import {
  badResponse,
  bearer,
  countOr,
  estimateTokens,
  isRecord,
  openAiApiRoot,
  ProviderClientOptions,
  ProviderHttpClient,
  toVector,
} from '../../common/http';
import { BatchedEmbeddingProvider } from '../batched-embedding-provider';

export interface OpenAiEmbeddingOptions extends ProviderClientOptions {
  /** dependency name in errors and labels; default `openai` */
  provider?: string;
  /** inputs per request; default 64 */
  batchSize?: number;
}

/**
 * Embeddings from any OpenAI-compatible server (OpenAI, vLLM, TEI, LM Studio, Ollama's `/v1`):
 * `POST {api root}/embeddings` with `encoding_format: float`. The API root follows
 * `openAiApiRoot`: `http://host:8000` becomes `http://host:8000/v1`, a URL with a path is used as is.
 */
export class OpenAiEmbeddingProvider extends BatchedEmbeddingProvider {
  readonly provider: string;
  private readonly http: ProviderHttpClient;

  constructor(options: OpenAiEmbeddingOptions) {
    super(options.batchSize ?? 64);
    this.provider = options.provider ?? 'openai';
    this.http = new ProviderHttpClient({
      ...options,
      provider: this.provider,
      baseUrl: openAiApiRoot(options.baseUrl),
      headers: bearer(options.apiKey),
    });
  }

  protected async embedBatch(model: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingResult> {
    const body = await this.http.postJson('/embeddings', { model, input: texts, encoding_format: 'float' }, { signal });
    if (!isRecord(body) || !Array.isArray(body.data)) throw badResponse(this.provider, 'embeddings answer has no `data` array');
    if (body.data.length !== texts.length)
      throw badResponse(this.provider, `asked for ${texts.length} embeddings, got ${body.data.length}`);
    const vectors = new Array<Float32Array>(texts.length);
    body.data.forEach((item: unknown, position: number) => {
      const index = isRecord(item) && item.index !== undefined ? item.index : position;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= texts.length || vectors[index]) {
        throw badResponse(this.provider, `embeddings answer has a missing, repeated or out-of-range index at position ${position}`);
      }
      const vector = isRecord(item) ? toVector(item.embedding) : undefined;
      if (!vector) throw badResponse(this.provider, `embedding ${index} is not an array of numbers`);
      vectors[index] = vector;
    });
    const usage = isRecord(body.usage) ? body.usage : {};
    return { vectors, inputTokens: countOr(usage.prompt_tokens, estimateTokens(texts)) };
  }
}
