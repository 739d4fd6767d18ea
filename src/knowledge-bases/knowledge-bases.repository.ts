import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { Cursor } from '../common/pagination';
import { KnowledgeBaseEntity, HotReads, applyKeyset } from '../database';
import type { TenantContext } from '../tenants';

/** Every query is scoped by the caller's tenant: another tenant's KB is simply not found. */
@Injectable()
export class KnowledgeBasesRepository {
  private readonly kbs: Repository<KnowledgeBaseEntity>;

  constructor(
    dataSource: DataSource,
    private readonly hotReads: HotReads,
  ) {
    this.kbs = dataSource.getRepository(KnowledgeBaseEntity);
  }

  insert(kb: KnowledgeBaseEntity): Promise<unknown> {
    return this.kbs.insert(kb);
  }

  findById(tenant: TenantContext, id: string): Promise<KnowledgeBaseEntity | null> {
    return this.kbs.findOneBy({ id, tenantId: tenant.tenantId });
  }

  /** every retrieval and RAG call: a prepared statement, not a query builder */
  findByIds(tenant: TenantContext, ids: string[]): Promise<KnowledgeBaseEntity[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.hotReads.entities(KnowledgeBaseEntity, 'SELECT * FROM knowledge_bases WHERE id IN (:...ids) AND tenant_id = :tenantId', {
      ids,
      tenantId: tenant.tenantId,
    });
  }

  list(tenant: TenantContext, cursor: Cursor | undefined, limit: number): Promise<KnowledgeBaseEntity[]> {
    const query = this.kbs.createQueryBuilder('kb').where('kb.tenant_id = :tenantId', { tenantId: tenant.tenantId });
    return applyKeyset(query, 'kb', cursor, limit).getMany();
  }

  countForTenant(tenant: TenantContext): Promise<number> {
    return this.kbs.countBy({ tenantId: tenant.tenantId });
  }

  listAll(tenant: TenantContext): Promise<KnowledgeBaseEntity[]> {
    return this.kbs.findBy({ tenantId: tenant.tenantId });
  }

  async update(tenant: TenantContext, id: string, changes: Partial<KnowledgeBaseEntity>): Promise<void> {
    await this.kbs.update({ id, tenantId: tenant.tenantId }, changes);
  }

  async delete(tenant: TenantContext, id: string): Promise<void> {
    await this.kbs.delete({ id, tenantId: tenant.tenantId });
  }
}
