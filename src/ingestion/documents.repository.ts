import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { nowIso } from '../common/clock';
import type { Cursor } from '../common/pagination';
import { ChunkEntity, DocumentContentEntity, DocumentEntity, IngestionJobEntity } from '../database/entities';
import type { DocumentStatus } from '../database/entities/document.entity';
import { applyKeyset } from '../database/keyset';
import { isUniqueViolation } from '../database/unique-violation';
import type { TenantContext } from '../tenants/principal';

/** Rows per multi-row INSERT: under SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_BATCH = 400;

export type NewJob = Pick<IngestionJobEntity, 'id' | 'traceContext'>;

/**
 * Documents, their stored bytes and their chunks. Every query is scoped by the caller's tenant;
 * writes that must not be half-done (a document with its content and job, a delete, a re-queue)
 * are one transaction.
 */
@Injectable()
export class DocumentsRepository {
  constructor(private readonly dataSource: DataSource) {}

  findById(tenant: TenantContext, kbId: string, id: string): Promise<DocumentEntity | null> {
    return this.dataSource.getRepository(DocumentEntity).findOneBy({ id, kbId, tenantId: tenant.tenantId });
  }

  findByHash(tenant: TenantContext, kbId: string, contentHash: string): Promise<DocumentEntity | null> {
    return this.dataSource.getRepository(DocumentEntity).findOneBy({ kbId, contentHash, tenantId: tenant.tenantId });
  }

  list(tenant: TenantContext, kbId: string, status: DocumentStatus | undefined, cursor: Cursor | undefined, limit: number): Promise<DocumentEntity[]> {
    const query = this.dataSource
      .getRepository(DocumentEntity)
      .createQueryBuilder('d')
      .where('d.tenant_id = :tenantId AND d.kb_id = :kbId', { tenantId: tenant.tenantId, kbId });
    if (status) query.andWhere('d.status = :status', { status });
    return applyKeyset(query, 'd', cursor, limit).getMany();
  }

  countForTenant(tenant: TenantContext): Promise<number> {
    return this.dataSource.getRepository(DocumentEntity).countBy({ tenantId: tenant.tenantId });
  }

  /**
   * Stores a new document with its bytes and its first job. When the same content is already in
   * the KB (the unique index on kb_id, content_hash decides, also under a race) nothing is
   * written and the existing document is returned.
   */
  async insertWithJob(document: DocumentEntity, content: Buffer, job: IngestionJobEntity): Promise<{ created: boolean; document: DocumentEntity }> {
    try {
      await this.dataSource.transaction(async (manager) => {
        await manager.insert(DocumentEntity, { ...document, metadata: document.metadata as never });
        await manager.insert(DocumentContentEntity, { documentId: document.id, tenantId: document.tenantId, contentBase64: content.toString('base64') });
        await manager.insert(IngestionJobEntity, job);
      });
      return { created: true, document };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const existing = await this.findByHash({ tenantId: document.tenantId }, document.kbId, document.contentHash);
      if (!existing) throw error;
      return { created: false, document: existing };
    }
  }

  /**
   * Starts a new generation for the given documents: status queued, progress 0, their queued or
   * running jobs cancelled (a running one notices at its next heartbeat and writes nothing) and a
   * new job each. Returns the new jobs.
   */
  async requeue(tenant: TenantContext, documents: DocumentEntity[], newJob: (document: DocumentEntity) => IngestionJobEntity): Promise<IngestionJobEntity[]> {
    if (documents.length === 0) return [];
    const now = nowIso();
    const jobs: IngestionJobEntity[] = [];
    await this.dataSource.transaction(async (manager) => {
      for (const ids of batches(documents.map((d) => d.id), INSERT_BATCH)) {
        await manager
          .createQueryBuilder()
          .update(DocumentEntity)
          .set({ status: 'queued', progress: 0, error: null, updatedAt: now, generation: () => 'generation + 1' })
          .where('tenant_id = :tenantId AND id IN (:...ids)', { tenantId: tenant.tenantId, ids })
          .execute();
        await this.cancelJobs(manager, tenant, ids, now);
      }
      const fresh = await manager.findBy(DocumentEntity, { tenantId: tenant.tenantId, id: In(documents.map((d) => d.id)) });
      for (const document of fresh) jobs.push(newJob(document));
      for (const batch of batches(jobs, INSERT_BATCH / 20)) await manager.insert(IngestionJobEntity, batch);
    });
    return jobs;
  }

  listAllInKb(tenant: TenantContext, kbId: string): Promise<DocumentEntity[]> {
    return this.dataSource.getRepository(DocumentEntity).findBy({ tenantId: tenant.tenantId, kbId });
  }

  /** Removes a document, its bytes, chunks and jobs (one transaction). Indexes are cleaned by the caller. */
  async delete(tenant: TenantContext, document: DocumentEntity): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const scope = { tenantId: tenant.tenantId, documentId: document.id };
      await this.cancelJobs(manager, tenant, [document.id], nowIso());
      await manager.delete(IngestionJobEntity, scope);
      await manager.delete(ChunkEntity, scope);
      await manager.delete(DocumentContentEntity, scope);
      await manager.delete(DocumentEntity, { tenantId: tenant.tenantId, id: document.id });
    });
  }

  /** Removes every document of a KB with its bytes, chunks and jobs. */
  async deleteKnowledgeBase(tenant: TenantContext, kbId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const scope = { tenantId: tenant.tenantId, kbId };
      await manager.update(IngestionJobEntity, { ...scope, status: In(['queued', 'running']) }, { status: 'cancelled', leaseOwner: null, leaseExpiresAt: null });
      await manager.delete(IngestionJobEntity, scope);
      await manager.delete(ChunkEntity, scope);
      const ids = (await manager.find(DocumentEntity, { select: { id: true }, where: scope })).map((d) => d.id);
      for (const batch of batches(ids, INSERT_BATCH)) await manager.delete(DocumentContentEntity, { tenantId: tenant.tenantId, documentId: In(batch) });
      await manager.delete(DocumentEntity, scope);
    });
  }

  private async cancelJobs(manager: EntityManager, tenant: TenantContext, documentIds: string[], now: string): Promise<void> {
    await manager.update(
      IngestionJobEntity,
      { tenantId: tenant.tenantId, documentId: In(documentIds), status: In(['queued', 'running']) },
      { status: 'cancelled', updatedAt: now },
    );
  }
}

export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export { INSERT_BATCH };
