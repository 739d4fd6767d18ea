export { OfflineEmbeddingProvider, OFFLINE_MODELS, DEFAULT_OFFLINE_MODEL } from './offline-embedding.provider';
