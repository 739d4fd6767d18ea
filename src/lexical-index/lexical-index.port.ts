import type { MetadataFilter } from '../common/metadata-filter';

export interface LexicalRecord {
  /** chunk id; upserting the same id twice replaces, never duplicates */
  id: string;
  tenantId: string;
  kbId: string;
  documentId: string;
  text: string;
  metadata?: Record<string, unknown>;
}

export interface LexicalSearchQuery {
  tenantId: string;
  kbIds: string[];
  /** raw user text: analyzed by the index, never interpreted as query syntax */
  query: string;
  topK: number;
  filter?: MetadataFilter;
}

export interface LexicalHit {
  id: string;
  kbId: string;
  documentId: string;
  /** BM25 score, higher is better */
  score: number;
}

/** Port for sparse (BM25) retrieval over chunk text, scoped by tenant and KB. */
export abstract class LexicalIndex {
  abstract readonly kind: string;
  abstract init(): Promise<void>;
  abstract upsert(records: LexicalRecord[]): Promise<void>;
  abstract deleteByDocument(tenantId: string, documentId: string): Promise<void>;
  abstract deleteByKnowledgeBase(tenantId: string, kbId: string): Promise<void>;
  abstract search(query: LexicalSearchQuery): Promise<LexicalHit[]>;
  abstract count(filter?: { tenantId: string; kbId?: string }): Promise<number>;
  abstract close(): Promise<void>;
}
