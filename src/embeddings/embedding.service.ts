import { setImmediate } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AppMetrics } from '../telemetry/app-metrics';
import { STATUS } from '../telemetry/metric-names';
import { withSpan } from '../telemetry/spans';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
} from '../telemetry/semconv';
import { EmbeddingCache } from './embedding-cache';
import type { EmbeddingResult } from './embedding-provider.port';
import { EmbeddingProviderRegistry } from './embedding-provider.registry';

/**
 * Embeds texts with the provider serving a model: cache first (model, text hash), the misses in
 * batches of EMBEDDING_BATCH_SIZE, each batch one `embeddings` span and one embedding_calls_total.
 */
@Injectable()
export class EmbeddingService implements OnApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: EmbeddingProviderRegistry,
    private readonly cache: EmbeddingCache,
    private readonly metrics: AppMetrics,
  ) {}

  /** Throws ValidationFailedError when no configured provider serves the model. */
  assertServes(model: string): void {
    this.registry.providerFor(model);
  }

  dimension(model: string): Promise<number> {
    return this.registry.providerFor(model).dimension(model);
  }

  async embed(model: string, texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const provider = this.registry.providerFor(model);
    const cached = await this.cache.getMany(model, texts);
    const missing: number[] = [];
    cached.forEach((vector, i) => vector === undefined && missing.push(i));
    this.metrics.recordCache(texts.length - missing.length, missing.length);
    const vectors = cached as Float32Array[];
    const batchSize = this.config.embedding.batchSize;
    for (let start = 0; start < missing.length; start += batchSize) {
      // an offline model embeds on this thread and the cache answers at once: between batches, let
      // the event loop serve requests (a 10 M-character document is thousands of chunks)
      if (start > 0) await setImmediate();
      signal?.throwIfAborted();
      const indexes = missing.slice(start, start + batchSize);
      const batch = indexes.map((i) => texts[i]);
      const result = await this.call(provider.provider, model, () => provider.embed(model, batch, signal));
      if (result.length !== batch.length)
        throw new Error(`${provider.provider} returned ${result.length} vectors for ${batch.length} texts`);
      indexes.forEach((textIndex, j) => (vectors[textIndex] = result[j]));
      await this.cache.setMany(
        model,
        batch.map((text, j) => ({ text, vector: result[j] })),
      );
    }
    return vectors;
  }

  private call(providerName: string, model: string, work: () => Promise<EmbeddingResult>): Promise<Float32Array[]> {
    const started = performance.now();
    return withSpan(
      `embeddings ${model}`,
      () => ({
        [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
        [ATTR_GEN_AI_PROVIDER_NAME]: providerName,
        [ATTR_GEN_AI_REQUEST_MODEL]: model,
      }),
      async (span) => {
        try {
          const result = await work();
          span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, result.inputTokens);
          this.metrics.recordEmbeddingCall(providerName, model, STATUS.success, (performance.now() - started) / 1000, {
            inputTokens: result.inputTokens,
            outputTokens: 0,
          });
          return result.vectors;
        } catch (error) {
          this.metrics.recordEmbeddingCall(providerName, model, STATUS.error, (performance.now() - started) / 1000);
          throw error;
        }
      },
      SpanKind.CLIENT,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.cache.close();
  }
}
