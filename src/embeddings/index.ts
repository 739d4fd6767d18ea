export { EmbeddingsModule } from './embeddings.module';
export { EmbeddingService } from './embedding.service';
export { isOfflineModel } from './offline/offline-embedding.provider';
