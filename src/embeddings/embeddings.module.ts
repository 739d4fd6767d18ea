import { Logger, Module } from '@nestjs/common';
import Redis from 'ioredis';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { EmbeddingCache, InProcessEmbeddingCache, RedisEmbeddingCache } from './embedding-cache';
import { EmbeddingProviderRegistry } from './embedding-provider.registry';
import { EmbeddingService } from './embedding.service';
import { OFFLINE_MODELS, OfflineEmbeddingProvider } from './offline/offline-embedding.provider';
import { OllamaEmbeddingProvider } from './ollama/ollama-embedding.provider';
import { OpenAiEmbeddingProvider } from './openai/openai-embedding.provider';

const logger = new Logger('embeddings');

/** The embedding service: provider per model from EMBEDDING_*, cache in process or in Redis. */
@Module({
  providers: [
    {
      provide: EmbeddingProviderRegistry,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const remote = {
          baseUrl: config.embedding.baseUrl ?? '',
          apiKey: config.embedding.apiKey,
          timeoutMs: config.embedding.timeoutMs,
          batchSize: config.embedding.batchSize,
        };
        return new EmbeddingProviderRegistry(config.embedding.provider, Object.keys(OFFLINE_MODELS), {
          offline: () => new OfflineEmbeddingProvider(),
          openai: () => new OpenAiEmbeddingProvider(remote),
          ollama: () => new OllamaEmbeddingProvider(remote),
        });
      },
    },
    {
      provide: EmbeddingCache,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): EmbeddingCache => {
        if (!config.redisUrl) return new InProcessEmbeddingCache(config.embeddingCacheSize);
        const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
        redis.on('error', (error: Error) => logger.warn({ message: 'embedding cache: Redis error', exception: error.message }));
        return new RedisEmbeddingCache(redis);
      },
    },
    EmbeddingService,
  ],
  exports: [EmbeddingService],
})
export class EmbeddingsModule {}
