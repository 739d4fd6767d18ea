import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IngestionModule } from './ingestion/ingestion.module';
import { KnowledgeBasesModule } from './knowledge-bases/knowledge-bases.module';
import { LlmModule } from './llm/llm.module';
import { RagModule } from './rag/rag.module';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { RetrievalModule } from './retrieval/retrieval.module';
import { TelemetryModule } from './telemetry/telemetry.module';
import { TenantsModule } from './tenants/tenants.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule, TenantsModule, RateLimitModule, KnowledgeBasesModule, TelemetryModule, HealthModule, IngestionModule, LlmModule, RetrievalModule, RagModule],
    };
  }
}
