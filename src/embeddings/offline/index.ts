export { OfflineEmbeddingProvider, OFFLINE_MODELS, DEFAULT_OFFLINE_MODEL, isOfflineModel } from './offline-embedding.provider';
