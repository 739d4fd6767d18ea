import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database';
import { HealthModule } from './health';
import { IngestionModule } from './ingestion';
import { KnowledgeBasesModule } from './knowledge-bases';
import { LlmModule } from './llm';
import { RagModule } from './rag';
import { RateLimitModule } from './rate-limit';
import { RetrievalModule } from './retrieval';
import { MetricsModule } from './telemetry/metrics.module';
import { TelemetryModule } from './telemetry/telemetry.module';
import { TenantsModule } from './tenants';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        DatabaseModule,
        TenantsModule,
        RateLimitModule,
        KnowledgeBasesModule,
        TelemetryModule,
        HealthModule,
        IngestionModule,
        LlmModule,
        RetrievalModule,
        RagModule,
      ],
    };
  }
}
