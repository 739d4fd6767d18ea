import { Injectable } from '@nestjs/common';
import type { KnowledgeBaseEntity } from '../database';
import type { TenantContext } from '../tenants';

type Listener = (tenant: TenantContext, kb: KnowledgeBaseEntity) => Promise<void>;
type Validator = (kb: Pick<KnowledgeBaseEntity, 'embeddingModel' | 'chunker'>) => Promise<void>;

/**
 * What other modules do when a KB is validated, deleted or re-configured (ingestion removes
 * documents and indexes, re-indexes on a new chunker or embedding model) without a module cycle.
 */
@Injectable()
export class KnowledgeBaseEvents {
  private readonly deleted: Listener[] = [];
  private readonly reconfigured: Listener[] = [];
  private readonly validators: Validator[] = [];

  onDeleted(listener: Listener): void {
    this.deleted.push(listener);
  }

  onReconfigured(listener: Listener): void {
    this.reconfigured.push(listener);
  }

  addValidator(validator: Validator): void {
    this.validators.push(validator);
  }

  async validate(kb: Pick<KnowledgeBaseEntity, 'embeddingModel' | 'chunker'>): Promise<void> {
    for (const validator of this.validators) await validator(kb);
  }

  async emitDeleted(tenant: TenantContext, kb: KnowledgeBaseEntity): Promise<void> {
    for (const listener of this.deleted) await listener(tenant, kb);
  }

  async emitReconfigured(tenant: TenantContext, kb: KnowledgeBaseEntity): Promise<void> {
    for (const listener of this.reconfigured) await listener(tenant, kb);
  }
}
