export { VectorStoreModule } from './vector-store.module';
export { VectorStore, type VectorHit, type VectorRecord } from './vector-store.port';
export { vectorCollectionName } from './collection-name';
