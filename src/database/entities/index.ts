import { ApiKeyEntity } from './api-key.entity';
import { ChunkEntity } from './chunk.entity';
import { DocumentContentEntity } from './document-content.entity';
import { DocumentEntity } from './document.entity';
import { IngestionJobEntity } from './ingestion-job.entity';
import { KnowledgeBaseEntity } from './knowledge-base.entity';
import { TenantEntity } from './tenant.entity';

export { ApiKeyEntity, ChunkEntity, DocumentContentEntity, DocumentEntity, IngestionJobEntity, KnowledgeBaseEntity, TenantEntity };

export const ENTITIES = [
  TenantEntity,
  ApiKeyEntity,
  KnowledgeBaseEntity,
  DocumentEntity,
  DocumentContentEntity,
  ChunkEntity,
  IngestionJobEntity,
];
