import { Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { HttpReranker } from './rerank/http-reranker';
import { Reranker } from './reranker.port';

/** The reranker named by RERANK_PROVIDER, or none (`null`: retrieval then keeps the fused order). */
export function createReranker(config: AppConfig['rerank']): Reranker | null {
  if (config.provider === 'none' || !config.baseUrl) return null;
  return new HttpReranker({
    provider: config.provider,
    model: config.model,
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
  });
}

@Module({
  providers: [{ provide: Reranker, inject: [APP_CONFIG], useFactory: (config: AppConfig) => createReranker(config.rerank) }],
  exports: [Reranker],
})
export class RerankModule {}
