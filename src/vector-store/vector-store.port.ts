import type { MetadataFilter } from '../common/metadata-filter';

/** One chunk's vector with the payload every query filters on. */
export interface VectorRecord {
  /** chunk id (UUID); upserting the same id twice replaces, never duplicates */
  id: string;
  tenantId: string;
  kbId: string;
  documentId: string;
  vector: Float32Array;
  /** the document's metadata, used by metadata filters */
  metadata?: Record<string, unknown>;
}

export interface VectorSearchQuery {
  collection: string;
  tenantId: string;
  kbIds: string[];
  vector: Float32Array;
  topK: number;
  filter?: MetadataFilter;
}

export interface VectorHit {
  id: string;
  kbId: string;
  documentId: string;
  /** cosine similarity, higher is better */
  score: number;
}

export interface VectorCollectionInfo {
  name: string;
  dimension: number;
  points: number;
}

/**
 * Port for dense vector storage. A collection holds one embedding model/dimension for all tenants;
 * tenant and KB are payload fields every call filters on (Qdrant's recommended multitenancy).
 */
export abstract class VectorStore {
  abstract readonly kind: string;
  abstract ensureCollection(collection: string, dimension: number): Promise<void>;
  abstract upsert(collection: string, records: VectorRecord[]): Promise<void>;
  abstract deleteByDocument(collection: string, tenantId: string, documentId: string): Promise<void>;
  abstract deleteByKnowledgeBase(collection: string, tenantId: string, kbId: string): Promise<void>;
  abstract search(query: VectorSearchQuery): Promise<VectorHit[]>;
  abstract count(collection: string, filter?: { tenantId: string; kbId?: string }): Promise<number>;
  abstract listCollections(): Promise<VectorCollectionInfo[]>;
  /** cheap round trip for readiness checks; throws when unreachable */
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
}
