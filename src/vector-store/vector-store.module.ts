import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AppMetrics } from '../telemetry/app-metrics';
import { EmbeddedVectorStore } from './embedded/embedded-vector-store';
import { threadedVectorStore } from './embedded/threaded-vector-store';
import { InstrumentedVectorStore } from './instrumented-vector-store';
import { QdrantVectorStore } from './qdrant/qdrant-vector-store';
import { VectorStore } from './vector-store.port';

/** The vector store chosen by VECTOR_STORE (embedded under DATA_DIR, on its own thread by default, or Qdrant), instrumented. */
@Module({
  providers: [
    {
      provide: VectorStore,
      inject: [APP_CONFIG, AppMetrics],
      useFactory: (config: AppConfig, metrics: AppMetrics): VectorStore =>
        new InstrumentedVectorStore(
          config.vectorStore.kind === 'qdrant' && config.vectorStore.qdrantUrl
            ? new QdrantVectorStore({ url: config.vectorStore.qdrantUrl, apiKey: config.vectorStore.qdrantApiKey })
            : config.embeddedThreads
              ? threadedVectorStore({ dataDir: config.dataDir })
              : new EmbeddedVectorStore({ dataDir: config.dataDir }),
          metrics,
        ),
    },
  ],
  exports: [VectorStore],
})
export class VectorStoreModule implements OnApplicationShutdown {
  constructor(@Inject(VectorStore) private readonly store: VectorStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
