export interface EmbeddingResult {
  vectors: Float32Array[];
  /** input tokens as reported by the provider (or counted locally) */
  inputTokens: number;
}

/** Port for turning texts into vectors. Adapters: offline (default), openai-compatible, ollama. */
export abstract class EmbeddingProvider {
  /** provider name as used in metric labels and `gen_ai.provider.name` */
  abstract readonly provider: string;
  abstract embed(model: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingResult>;
  /** vector length for a model (may call the provider once and remember it) */
  abstract dimension(model: string): Promise<number>;
}
