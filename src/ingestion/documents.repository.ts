import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { nowIso } from '../common/clock';
import { NotFoundError } from '../common/errors';
import type { Cursor } from '../common/pagination';
import {
  ChunkEntity,
  DocumentContentEntity,
  DocumentEntity,
  IngestionJobEntity,
  batches,
  INSERT_BATCH,
  lockDocuments,
  applyKeyset,
  isUniqueViolation,
  type DocumentStatus,
} from '../database';
import type { TenantContext } from '../tenants';

/** Documents removed per purge transaction: short transactions, bounded statements. */
const PURGE_BATCH = 100;
/** Postgres deadlock (a purge and a claim or re-queue locking the same jobs in other orders): the loser retries. */
const DEADLOCK = '40P01';
const PURGE_TRIES = 5;

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

  list(
    tenant: TenantContext,
    kbId: string,
    status: DocumentStatus | undefined,
    cursor: Cursor | undefined,
    limit: number,
  ): Promise<DocumentEntity[]> {
    const query = this.dataSource
      .getRepository(DocumentEntity)
      .createQueryBuilder('d')
      .where('d.tenant_id = :tenantId AND d.kb_id = :kbId', { tenantId: tenant.tenantId, kbId });
    if (status) query.andWhere('d.status = :status', { status });
    return applyKeyset(query, 'd', cursor, limit).getMany();
  }

  /** Documents of the tenant's existing KBs: what its document quota counts (not those of a KB being purged). */
  countForTenant(tenant: TenantContext): Promise<number> {
    return this.dataSource
      .getRepository(DocumentEntity)
      .createQueryBuilder('d')
      .where('d.tenant_id = :tenantId AND d.kb_id IN (SELECT k.id FROM knowledge_bases k WHERE k.tenant_id = :tenantId)', {
        tenantId: tenant.tenantId,
      })
      .getCount();
  }

  /**
   * Stores a new document with its bytes and its first job. When the same content is already in
   * the KB (the unique index on kb_id, content_hash decides, also under a race) nothing is
   * written and the existing document is returned. The KB and its tenant are checked in the same
   * transaction (404 when a delete got there first), so a concurrent delete purges the document.
   */
  async insertWithJob(
    document: DocumentEntity,
    content: Buffer,
    job: IngestionJobEntity,
  ): Promise<{ created: boolean; document: DocumentEntity }> {
    try {
      await this.dataSource.transaction(async (manager) => {
        await requireLiveKnowledgeBase(manager, document.tenantId, document.kbId);
        await manager.insert(DocumentEntity, { ...document, metadata: document.metadata as never });
        await manager.insert(DocumentContentEntity, {
          documentId: document.id,
          tenantId: document.tenantId,
          contentBase64: content.toString('base64'),
        });
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
  async requeue(
    tenant: TenantContext,
    documents: DocumentEntity[],
    newJob: (document: DocumentEntity) => IngestionJobEntity,
  ): Promise<IngestionJobEntity[]> {
    if (documents.length === 0) return [];
    const now = nowIso();
    const jobs: IngestionJobEntity[] = [];
    await this.dataSource.transaction(async (manager) => {
      for (const kbId of new Set(documents.map((d) => d.kbId))) await requireLiveKnowledgeBase(manager, tenant.tenantId, kbId);
      for (const ids of batches(
        documents.map((d) => d.id),
        INSERT_BATCH,
      )) {
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
    await this.purgeDocuments(tenant.tenantId, [document.id]);
  }

  /**
   * Removes every document of a KB with its bytes, chunks and jobs, a batch per transaction. The
   * KB row is deleted first: no upload can add a document after it (see insertWithJob), so
   * repeating until none is left cannot miss one.
   */
  async deleteKnowledgeBase(tenant: TenantContext, kbId: string): Promise<void> {
    const scope = { tenantId: tenant.tenantId, kbId };
    await this.purgeWhere(scope);
    // rows no document holds any more (left by an earlier version)
    await this.dataSource.transaction(async (manager) => {
      await manager.delete(ChunkEntity, scope);
      await manager.delete(IngestionJobEntity, scope);
    });
  }

  /** KBs (existing or not) the tenant still has documents or chunks in. */
  async knowledgeBaseIdsOf(tenant: TenantContext): Promise<string[]> {
    const ids = new Set<string>();
    for (const entity of [DocumentEntity, ChunkEntity]) {
      const rows = await this.dataSource
        .getRepository(entity)
        .createQueryBuilder('r')
        .select('DISTINCT r.kb_id', 'kb_id')
        .where('r.tenant_id = :tenantId', { tenantId: tenant.tenantId })
        .getRawMany<{ kb_id: string }>();
      for (const row of rows) ids.add(row.kb_id);
    }
    return [...ids];
  }

  /** Removes every document of a tenant (its KBs are already deleted), like deleteKnowledgeBase. */
  async deleteTenant(tenant: TenantContext): Promise<void> {
    const scope = { tenantId: tenant.tenantId };
    await this.purgeWhere(scope);
    await this.dataSource.transaction(async (manager) => {
      await manager.delete(ChunkEntity, scope);
      await manager.delete(IngestionJobEntity, scope);
      await manager.delete(DocumentContentEntity, scope);
    });
  }

  private async purgeWhere(scope: { tenantId: string; kbId?: string }): Promise<void> {
    for (;;) {
      const ids = (await this.dataSource.getRepository(DocumentEntity).find({ select: { id: true }, where: scope, take: PURGE_BATCH })).map(
        (d) => d.id,
      );
      if (ids.length === 0) return;
      await this.purgeDocuments(scope.tenantId, ids);
    }
  }

  /**
   * Removes documents of one tenant with their bytes, chunks and jobs, in one transaction. The
   * document rows go first, locked in id order on Postgres: an ingestion run finishing one of
   * them locks it as well (IngestionWorkRepository.finish), so its chunks are either committed
   * before this transaction deletes chunks or never written.
   */
  async purgeDocuments(tenantId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.dataSource.transaction(async (manager) => {
          await lockDocuments(manager, ids);
          await manager.delete(DocumentEntity, { tenantId, id: In(ids) });
          await manager.delete(DocumentContentEntity, { tenantId, documentId: In(ids) });
          await manager.delete(ChunkEntity, { tenantId, documentId: In(ids) });
          await manager.delete(IngestionJobEntity, { tenantId, documentId: In(ids) });
        });
        return;
      } catch (error) {
        if (attempt >= PURGE_TRIES || !isDeadlock(error)) throw error;
      }
    }
  }

  private async cancelJobs(manager: EntityManager, tenant: TenantContext, documentIds: string[], now: string): Promise<void> {
    await manager.update(
      IngestionJobEntity,
      { tenantId: tenant.tenantId, documentId: In(documentIds), status: In(['queued', 'running']) },
      { status: 'cancelled', updatedAt: now },
    );
  }
}

/**
 * Inside a transaction: the KB still exists, else a 404. On Postgres its row stays locked FOR
 * SHARE until the transaction ends, so a KB delete (also each KB of a tenant delete) waits for
 * it, and this waits for a delete in progress and then finds the row gone. SQLite transactions
 * take turns.
 */
export async function requireLiveKnowledgeBase(manager: EntityManager, tenantId: string, kbId: string): Promise<void> {
  const postgres = manager.connection.options.type === 'postgres';
  const sql = postgres
    ? 'SELECT id FROM knowledge_bases WHERE id = $1 AND tenant_id = $2 FOR SHARE'
    : 'SELECT id FROM knowledge_bases WHERE id = ? AND tenant_id = ?';
  const kb = await manager.query<unknown[]>(sql, [kbId, tenantId]);
  if (kb.length === 0) throw new NotFoundError('knowledge base', kbId);
}

function isDeadlock(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return (e?.driverError?.code ?? e?.code) === DEADLOCK;
}
