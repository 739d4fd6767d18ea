/**
 * In-memory stand-ins for the TypeORM repositories, for the unit tier (no database). They keep the
 * rules the real ones keep in SQL: every tenant-owned query is scoped by tenant, keyset pages are
 * ordered by (createdAt, id) with one extra row, the unique indexes throw like the driver does, and
 * writes that must see a live knowledge base get a 404 when it is gone.
 */
import { NotFoundError } from '../../../src/common/errors';
import type { Cursor } from '../../../src/common/pagination';
import type { ApiKeyEntity, DocumentEntity, IngestionJobEntity, KnowledgeBaseEntity, TenantEntity } from '../../../src/database/entities';
import type { DocumentStatus } from '../../../src/database/entities/document.entity';
import type { ApiKeysRepository } from '../../../src/tenants/api-keys.repository';
import type { TenantsRepository } from '../../../src/tenants/tenants.repository';
import type { TenantContext } from '../../../src/tenants/principal';
import type { KnowledgeBasesRepository } from '../../../src/knowledge-bases/knowledge-bases.repository';
import type { DocumentsRepository } from '../../../src/ingestion/documents.repository';
import type { IngestionJobsRepository } from '../../../src/ingestion/jobs/ingestion-jobs.repository';
import type { ChunkLookupRepository, ChunkView } from '../../../src/retrieval/chunk-lookup.repository';

/** The public methods of a class (its private fields make `implements Class` impossible). */
type PublicPart<T> = { [K in keyof T]: T[K] };

/** One in-memory "database" the fake repositories share, as the real ones share one DataSource. */
export class InMemoryDatabase {
  readonly tenants = new Map<string, TenantEntity>();
  readonly apiKeys = new Map<string, ApiKeyEntity>();
  readonly knowledgeBases = new Map<string, KnowledgeBaseEntity>();
  readonly documents = new Map<string, DocumentEntity>();
  readonly contents = new Map<string, Buffer>();
  readonly jobs = new Map<string, IngestionJobEntity>();
  readonly chunks = new Map<string, ChunkView & { tenantId: string }>();
}

/** What the SQLite driver throws on a unique index (see isUniqueViolation). */
function uniqueViolation(): Error {
  return Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
}

function copy<T>(row: T): T {
  return structuredClone(row);
}

/** applyKeyset in memory: (createdAt, id) order, after the cursor, limit + 1 rows. */
function keysetPage<T extends { createdAt: string; id: string }>(rows: Iterable<T>, cursor: Cursor | undefined, limit: number): T[] {
  const after = (row: T) => !cursor || row.createdAt > cursor.createdAt || (row.createdAt === cursor.createdAt && row.id > cursor.id);
  return [...rows]
    .filter(after)
    .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1))
    .slice(0, limit + 1)
    .map(copy);
}

export class InMemoryTenantsRepository implements PublicPart<TenantsRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  async insert(tenant: TenantEntity): Promise<unknown> {
    if (this.db.tenants.has(tenant.id)) throw uniqueViolation();
    this.db.tenants.set(tenant.id, copy(tenant));
    return undefined;
  }

  async findById(id: string): Promise<TenantEntity | null> {
    const tenant = this.db.tenants.get(id);
    return tenant ? copy(tenant) : null;
  }

  async list(cursor: Cursor | undefined, limit: number): Promise<TenantEntity[]> {
    return keysetPage(this.db.tenants.values(), cursor, limit);
  }

  async update(id: string, changes: Partial<Pick<TenantEntity, 'name' | 'maxDocuments'>>): Promise<void> {
    const tenant = this.db.tenants.get(id);
    if (tenant) Object.assign(tenant, changes);
  }

  async delete(id: string): Promise<void> {
    this.db.tenants.delete(id);
  }
}

export class InMemoryApiKeysRepository implements PublicPart<ApiKeysRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  async findByLookupPrefix(lookupPrefix: string): Promise<ApiKeyEntity | null> {
    const key = [...this.db.apiKeys.values()].find((k) => k.lookupPrefix === lookupPrefix);
    return key ? copy(key) : null;
  }

  async findByIdForPlatformAdmin(id: string): Promise<ApiKeyEntity | null> {
    const key = this.db.apiKeys.get(id);
    return key ? copy(key) : null;
  }

  async insert(key: ApiKeyEntity): Promise<unknown> {
    if (this.db.apiKeys.has(key.id) || [...this.db.apiKeys.values()].some((k) => k.lookupPrefix === key.lookupPrefix))
      throw uniqueViolation();
    this.db.apiKeys.set(key.id, copy(key));
    return undefined;
  }

  async findById(tenant: TenantContext, id: string): Promise<ApiKeyEntity | null> {
    const key = this.db.apiKeys.get(id);
    return key && key.tenantId === tenant.tenantId ? copy(key) : null;
  }

  async list(tenant: TenantContext, cursor: Cursor | undefined, limit: number): Promise<ApiKeyEntity[]> {
    return keysetPage(
      [...this.db.apiKeys.values()].filter((k) => k.tenantId === tenant.tenantId),
      cursor,
      limit,
    );
  }

  async revoke(tenant: TenantContext, id: string, at: string): Promise<void> {
    const key = this.db.apiKeys.get(id);
    if (key && key.tenantId === tenant.tenantId && key.revokedAt === null) key.revokedAt = at;
  }

  async touchLastUsed(id: string, at: string): Promise<void> {
    const key = this.db.apiKeys.get(id);
    if (key) key.lastUsedAt = at;
  }

  async deleteAllOfTenant(tenant: TenantContext): Promise<void> {
    for (const [id, key] of this.db.apiKeys) if (key.tenantId === tenant.tenantId) this.db.apiKeys.delete(id);
  }
}

export class InMemoryKnowledgeBasesRepository implements PublicPart<KnowledgeBasesRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  async insert(kb: KnowledgeBaseEntity): Promise<unknown> {
    const clash = [...this.db.knowledgeBases.values()].some(
      (other) => other.id === kb.id || (other.tenantId === kb.tenantId && other.name === kb.name),
    );
    if (clash) throw uniqueViolation();
    this.db.knowledgeBases.set(kb.id, copy(kb));
    return undefined;
  }

  async findById(tenant: TenantContext, id: string): Promise<KnowledgeBaseEntity | null> {
    const kb = this.db.knowledgeBases.get(id);
    return kb && kb.tenantId === tenant.tenantId ? copy(kb) : null;
  }

  async findByIds(tenant: TenantContext, ids: string[]): Promise<KnowledgeBaseEntity[]> {
    return this.ofTenant(tenant)
      .filter((kb) => ids.includes(kb.id))
      .map(copy);
  }

  async list(tenant: TenantContext, cursor: Cursor | undefined, limit: number): Promise<KnowledgeBaseEntity[]> {
    return keysetPage(this.ofTenant(tenant), cursor, limit);
  }

  async countForTenant(tenant: TenantContext): Promise<number> {
    return this.ofTenant(tenant).length;
  }

  async listAll(tenant: TenantContext): Promise<KnowledgeBaseEntity[]> {
    return this.ofTenant(tenant).map(copy);
  }

  async update(tenant: TenantContext, id: string, changes: Partial<KnowledgeBaseEntity>): Promise<void> {
    const kb = this.db.knowledgeBases.get(id);
    if (!kb || kb.tenantId !== tenant.tenantId) return;
    if (changes.name !== undefined && this.ofTenant(tenant).some((other) => other.id !== id && other.name === changes.name))
      throw uniqueViolation();
    Object.assign(kb, copy(changes));
  }

  async delete(tenant: TenantContext, id: string): Promise<void> {
    const kb = this.db.knowledgeBases.get(id);
    if (kb && kb.tenantId === tenant.tenantId) this.db.knowledgeBases.delete(id);
  }

  private ofTenant(tenant: TenantContext): KnowledgeBaseEntity[] {
    return [...this.db.knowledgeBases.values()].filter((kb) => kb.tenantId === tenant.tenantId);
  }
}

export class InMemoryDocumentsRepository implements PublicPart<DocumentsRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  async findById(tenant: TenantContext, kbId: string, id: string): Promise<DocumentEntity | null> {
    const document = this.db.documents.get(id);
    return document && document.tenantId === tenant.tenantId && document.kbId === kbId ? copy(document) : null;
  }

  async findByHash(tenant: TenantContext, kbId: string, contentHash: string): Promise<DocumentEntity | null> {
    const document = this.ofTenant(tenant.tenantId).find((d) => d.kbId === kbId && d.contentHash === contentHash);
    return document ? copy(document) : null;
  }

  async list(
    tenant: TenantContext,
    kbId: string,
    status: DocumentStatus | undefined,
    cursor: Cursor | undefined,
    limit: number,
  ): Promise<DocumentEntity[]> {
    return keysetPage(
      this.ofTenant(tenant.tenantId).filter((d) => d.kbId === kbId && (status === undefined || d.status === status)),
      cursor,
      limit,
    );
  }

  /** documents of the tenant's existing KBs only */
  async countForTenant(tenant: TenantContext): Promise<number> {
    return this.ofTenant(tenant.tenantId).filter((d) => this.liveKnowledgeBase(d.tenantId, d.kbId)).length;
  }

  async insertWithJob(
    document: DocumentEntity,
    content: Buffer,
    job: IngestionJobEntity,
  ): Promise<{ created: boolean; document: DocumentEntity }> {
    if (!this.liveKnowledgeBase(document.tenantId, document.kbId)) throw new NotFoundError('knowledge base', document.kbId);
    const existing = this.ofTenant(document.tenantId).find((d) => d.kbId === document.kbId && d.contentHash === document.contentHash);
    if (existing) return { created: false, document: copy(existing) };
    this.db.documents.set(document.id, copy(document));
    this.db.contents.set(document.id, Buffer.from(content));
    this.db.jobs.set(job.id, copy(job));
    return { created: true, document };
  }

  async requeue(
    tenant: TenantContext,
    documents: DocumentEntity[],
    newJob: (document: DocumentEntity) => IngestionJobEntity,
  ): Promise<IngestionJobEntity[]> {
    if (documents.length === 0) return [];
    for (const kbId of new Set(documents.map((d) => d.kbId))) {
      if (!this.liveKnowledgeBase(tenant.tenantId, kbId)) throw new NotFoundError('knowledge base', kbId);
    }
    const now = new Date().toISOString();
    const jobs: IngestionJobEntity[] = [];
    for (const { id } of documents) {
      const document = this.db.documents.get(id);
      if (!document || document.tenantId !== tenant.tenantId) continue;
      Object.assign(document, { status: 'queued', progress: 0, error: null, updatedAt: now, generation: document.generation + 1 });
      for (const job of this.db.jobs.values()) {
        if (job.documentId === id && (job.status === 'queued' || job.status === 'running'))
          Object.assign(job, { status: 'cancelled', updatedAt: now });
      }
      const job = newJob(copy(document));
      this.db.jobs.set(job.id, copy(job));
      jobs.push(job);
    }
    return jobs;
  }

  async listAllInKb(tenant: TenantContext, kbId: string): Promise<DocumentEntity[]> {
    return this.ofTenant(tenant.tenantId)
      .filter((d) => d.kbId === kbId)
      .map(copy);
  }

  async delete(tenant: TenantContext, document: DocumentEntity): Promise<void> {
    await this.purgeDocuments(tenant.tenantId, [document.id]);
  }

  async deleteKnowledgeBase(tenant: TenantContext, kbId: string): Promise<void> {
    await this.purgeDocuments(
      tenant.tenantId,
      this.ofTenant(tenant.tenantId)
        .filter((d) => d.kbId === kbId)
        .map((d) => d.id),
    );
    this.deleteWhere(this.db.chunks, (c) => c.tenantId === tenant.tenantId && c.kbId === kbId);
    this.deleteWhere(this.db.jobs, (j) => j.tenantId === tenant.tenantId && j.kbId === kbId);
  }

  async knowledgeBaseIdsOf(tenant: TenantContext): Promise<string[]> {
    const ids = new Set(this.ofTenant(tenant.tenantId).map((d) => d.kbId));
    for (const chunk of this.db.chunks.values()) if (chunk.tenantId === tenant.tenantId) ids.add(chunk.kbId);
    return [...ids];
  }

  async deleteTenant(tenant: TenantContext): Promise<void> {
    await this.purgeDocuments(
      tenant.tenantId,
      this.ofTenant(tenant.tenantId).map((d) => d.id),
    );
    this.deleteWhere(this.db.chunks, (c) => c.tenantId === tenant.tenantId);
    this.deleteWhere(this.db.jobs, (j) => j.tenantId === tenant.tenantId);
  }

  async purgeDocuments(tenantId: string, ids: string[]): Promise<void> {
    for (const id of ids) {
      if (this.db.documents.get(id)?.tenantId !== tenantId) continue;
      this.db.documents.delete(id);
      this.db.contents.delete(id);
    }
    this.deleteWhere(this.db.chunks, (c) => c.tenantId === tenantId && ids.includes(c.documentId));
    this.deleteWhere(this.db.jobs, (j) => j.tenantId === tenantId && ids.includes(j.documentId));
  }

  private liveKnowledgeBase(tenantId: string, kbId: string): boolean {
    return this.db.knowledgeBases.get(kbId)?.tenantId === tenantId;
  }

  private ofTenant(tenantId: string): DocumentEntity[] {
    return [...this.db.documents.values()].filter((d) => d.tenantId === tenantId);
  }

  private deleteWhere<T>(rows: Map<string, T>, test: (row: T) => boolean): void {
    for (const [id, row] of rows) if (test(row)) rows.delete(id);
  }
}

/** The two reads the pending-jobs quota makes; the workers' claim and lease methods are not faked. */
export class InMemoryIngestionJobsRepository implements Pick<IngestionJobsRepository, 'pendingCount' | 'finishedSince'> {
  constructor(private readonly db: InMemoryDatabase) {}

  async pendingCount(tenant: TenantContext): Promise<number> {
    return [...this.db.jobs.values()].filter(
      (job) =>
        job.tenantId === tenant.tenantId &&
        (job.status === 'queued' || job.status === 'running') &&
        this.db.knowledgeBases.get(job.kbId)?.tenantId === tenant.tenantId,
    ).length;
  }

  async finishedSince(tenant: TenantContext, sinceIso: string): Promise<{ count: number; firstAt?: string }> {
    const ended = [...this.db.jobs.values()]
      .filter(
        (job) => job.tenantId === tenant.tenantId && (job.status === 'succeeded' || job.status === 'failed') && job.updatedAt >= sinceIso,
      )
      .map((job) => job.updatedAt)
      .sort();
    return { count: ended.length, firstAt: ended[0] };
  }
}

export class InMemoryChunkLookupRepository implements PublicPart<ChunkLookupRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  /** tenant-scoped, like the SQL join; a chunk whose document is gone is skipped */
  async findByIds(tenant: TenantContext, ids: readonly string[]): Promise<Map<string, ChunkView>> {
    const found = new Map<string, ChunkView>();
    for (const id of ids) {
      const chunk = this.db.chunks.get(id);
      if (!chunk || chunk.tenantId !== tenant.tenantId) continue;
      const document = this.db.documents.get(chunk.documentId);
      if (!document || document.tenantId !== tenant.tenantId) continue;
      const { tenantId: _tenantId, ...view } = chunk;
      found.set(id, { ...copy(view), documentTitle: document.title, documentMetadata: copy(document.metadata) });
    }
    return found;
  }
}
