import { EmbeddingProvider, EmbeddingResult } from './embedding-provider.port';
import { badResponse } from '../common/http';

/**
 * What the HTTP embedding adapters share: inputs cut into batches sent one after the other,
 * one vector per input checked, and each model's dimension learned from its first answer and
 * held to afterwards (a model that changes length would corrupt the vector index).
 */
export abstract class BatchedEmbeddingProvider extends EmbeddingProvider {
  private readonly dimensions = new Map<string, number>();
  private readonly probes = new Map<string, Promise<number>>();

  protected constructor(private readonly batchSize: number) {
    super();
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }

  /** One request: the vectors in input order, or a DependencyError. */
  protected abstract embedBatch(model: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingResult>;

  async embed(model: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingResult> {
    const vectors: Float32Array[] = [];
    let inputTokens = 0;
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const batch = texts.slice(start, start + this.batchSize);
      const result = await this.embedBatch(model, batch, signal);
      if (result.vectors.length !== batch.length) {
        throw badResponse(this.provider, `asked for ${batch.length} embeddings, got ${result.vectors.length}`);
      }
      this.holdDimension(model, result.vectors);
      vectors.push(...result.vectors);
      inputTokens += result.inputTokens;
    }
    return { vectors, inputTokens };
  }

  dimension(model: string): Promise<number> {
    const known = this.dimensions.get(model);
    if (known !== undefined) return Promise.resolve(known);
    let probe = this.probes.get(model);
    if (!probe) {
      probe = this.embed(model, ['dimension probe']).then(
        (result) => result.vectors[0].length,
        (error: unknown) => {
          this.probes.delete(model);
          throw error;
        },
      );
      this.probes.set(model, probe);
    }
    return probe;
  }

  private holdDimension(model: string, vectors: Float32Array[]): void {
    if (vectors.length === 0) return;
    const expected = this.dimensions.get(model) ?? vectors[0].length;
    const odd = vectors.find((v) => v.length !== expected);
    if (odd)
      throw badResponse(
        this.provider,
        `model '${model}' answered a ${odd.length}-dimensional vector where ${expected} dimensions were expected`,
      );
    this.dimensions.set(model, expected);
  }
}
