import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { nowIso } from '../common/clock';
import { AppError, NotFoundError, QuotaExceededError, ValidationFailedError } from '../common/errors';
import { decodeCursor, toPage, type Page } from '../common/pagination';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { DocumentEntity, IngestionJobEntity } from '../database';
import { EmbeddingService } from '../embeddings';
import { KnowledgeBaseEvents, KnowledgeBasesService } from '../knowledge-bases';
import { AppMetrics } from '../telemetry/app-metrics';
import { activeTraceCarrier } from '../telemetry/spans';
import { TenantPurgeRegistry, TenantsRepository, type TenantContext } from '../tenants';
import type { DocumentDto, DocumentQueryDto, UploadDocumentDto } from './documents.dto';
import { DocumentsRepository } from './documents.repository';
import { IndexCleaner } from './index-cleaner';
import { IngestionJobsRepository } from './jobs/ingestion-jobs.repository';
import { IngestionQueue } from './queue/ingestion-queue.port';
import { PendingJobsQuota } from './pending-jobs-quota';
import { detectDocumentType } from './parsing';

export interface UploadedFile {
  buffer: Buffer;
  originalname: string;
  mimetype: string;
}

export interface UploadResult {
  created: boolean;
  document: DocumentDto;
  /** RateLimit-* headers of the pending-jobs quota (when a job was queued) */
  headers: Record<string, string>;
}

export interface ReindexResult {
  document: DocumentDto;
  headers: Record<string, string>;
}

@Injectable()
export class DocumentsService implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly documents: DocumentsRepository,
    private readonly kbs: KnowledgeBasesService,
    private readonly kbEvents: KnowledgeBaseEvents,
    private readonly tenants: TenantsRepository,
    private readonly queue: IngestionQueue,
    private readonly jobs: IngestionJobsRepository,
    private readonly pendingQuota: PendingJobsQuota,
    private readonly cleaner: IndexCleaner,
    private readonly embeddings: EmbeddingService,
    private readonly tenantPurges: TenantPurgeRegistry,
    private readonly metrics: AppMetrics,
  ) {}

  onModuleInit(): void {
    this.kbEvents.addValidator(async (kb) => this.embeddings.assertServes(kb.embeddingModel));
    this.kbEvents.onDeleted((tenant, kb) => this.purgeKnowledgeBase(tenant, kb.id));
    // after the KBs' own purges: documents of KBs that were gone already (a purge cut short)
    this.tenantPurges.register(async (tenant) => {
      for (const kbId of await this.documents.knowledgeBaseIdsOf(tenant)) await this.purgeKnowledgeBase(tenant, kbId);
      await this.documents.deleteTenant(tenant);
    });
    this.kbEvents.onReconfigured(async (tenant, kb) => {
      await this.cleaner.removeKnowledgeBase(tenant.tenantId, kb.id);
      const jobs = await this.documents.requeue(tenant, await this.documents.listAllInKb(tenant, kb.id), (document) =>
        this.newJob(document),
      );
      const pending = await this.jobs.pendingCount(tenant);
      await this.queue.dispatch(
        jobs.map((job, i) => ({ id: job.id, tenantId: tenant.tenantId, attempts: 0, position: pending - jobs.length + i + 1 })),
      );
    });
  }

  /**
   * Removes a deleted KB's documents, bytes, chunks, jobs, vectors and lexical entries. The
   * indexes are cleaned before the rows go, so a purge cut short leaves rows the orphan sweeper
   * finds; and again after, for what a run indexing one of the documents wrote meanwhile.
   */
  async purgeKnowledgeBase(tenant: TenantContext, kbId: string): Promise<void> {
    await this.cleaner.removeKnowledgeBase(tenant.tenantId, kbId);
    await this.documents.deleteKnowledgeBase(tenant, kbId);
    await this.cleaner.removeKnowledgeBase(tenant.tenantId, kbId);
  }

  /**
   * Stores the document and queues its ingestion (created: true, HTTP 202), or returns the
   * document already holding the same bytes in this KB (created: false, HTTP 200). Over the
   * tenant's document quota or pending-jobs limit it stores nothing and throws a 429.
   */
  async upload(tenant: TenantContext, kbId: string, input: UploadDocumentDto, file?: UploadedFile): Promise<UploadResult> {
    const kb = await this.kbs.require(tenant, kbId);
    const metadata = parseMetadata(input.metadata);
    let bytes: Buffer;
    let fileName: string | null = null;
    if (file) {
      if (input.content !== undefined)
        throw new ValidationFailedError([{ field: 'content', message: 'send either a file or content, not both' }]);
      bytes = file.buffer;
      fileName = file.originalname.slice(0, 500) || null;
    } else {
      if (typeof input.content !== 'string')
        throw new ValidationFailedError([{ field: 'content', message: 'content (or a multipart file) is required' }]);
      bytes = Buffer.from(input.content, 'utf8');
    }
    const contentType = detectDocumentType(bytes, fileName ?? undefined, file?.mimetype);
    const contentHash = createHash('sha256').update(bytes).digest('hex');

    const existing = await this.documents.findByHash(tenant, kb.id, contentHash);
    if (existing) return { created: false, document: toDocumentDto(existing), headers: {} };
    const admission = await this.countRejected(kb.chunker.type, async () => {
      await this.checkQuota(tenant);
      return this.pendingQuota.admit(tenant, 1);
    });

    const now = nowIso();
    const document: DocumentEntity = {
      id: randomUUID(),
      tenantId: tenant.tenantId,
      kbId: kb.id,
      title: input.title ?? null,
      fileName,
      contentType,
      contentHash,
      sizeBytes: bytes.length,
      metadata,
      status: 'queued',
      progress: 0,
      generation: 0,
      chunkCount: 0,
      error: null,
      createdAt: now,
      updatedAt: now,
      indexedAt: null,
    };
    const job = this.newJob(document);
    const stored = await this.documents.insertWithJob(document, bytes, job);
    if (!stored.created) return { created: false, document: toDocumentDto(stored.document), headers: {} };
    await this.queue.dispatch([{ id: job.id, tenantId: tenant.tenantId, attempts: 0, position: admission.pending }]);
    return { created: true, document: toDocumentDto(stored.document), headers: admission.headers };
  }

  async list(tenant: TenantContext, kbId: string, query: DocumentQueryDto): Promise<Page<DocumentDto>> {
    await this.kbs.require(tenant, kbId);
    const limit = query.limit ?? 20;
    return toPage(await this.documents.list(tenant, kbId, query.status, decodeCursor(query.cursor), limit), limit, toDocumentDto);
  }

  async get(tenant: TenantContext, kbId: string, id: string): Promise<DocumentDto> {
    return toDocumentDto(await this.require(tenant, kbId, id));
  }

  /** Cancels its job and removes the document with its bytes, chunks, vectors and lexical entries. */
  async delete(tenant: TenantContext, kbId: string, id: string): Promise<void> {
    const document = await this.require(tenant, kbId, id);
    await this.documents.delete(tenant, document);
    await this.cleaner.removeDocuments([{ tenantId: tenant.tenantId, documentId: document.id }]);
  }

  /** A document already queued or processing replaces its job, adding nothing to the backlog; any other needs a place under the pending-jobs limit. */
  async reindex(tenant: TenantContext, kbId: string, id: string): Promise<ReindexResult> {
    const kb = await this.kbs.require(tenant, kbId);
    const document = await this.documents.findById(tenant, kbId, id);
    if (!document) throw new NotFoundError('document', id);
    const replacing = document.status === 'queued' || document.status === 'processing';
    const admission = replacing ? undefined : await this.countRejected(kb.chunker.type, () => this.pendingQuota.admit(tenant, 1));
    const jobs = await this.documents.requeue(tenant, [document], (fresh) => this.newJob(fresh));
    await this.queue.dispatch(jobs.map((job) => ({ id: job.id, tenantId: tenant.tenantId, attempts: 0, position: admission?.pending })));
    return { document: toDocumentDto(await this.require(tenant, kbId, id)), headers: admission?.headers ?? {} };
  }

  private async require(tenant: TenantContext, kbId: string, id: string): Promise<DocumentEntity> {
    await this.kbs.require(tenant, kbId);
    const document = await this.documents.findById(tenant, kbId, id);
    if (!document) throw new NotFoundError('document', id);
    return document;
  }

  /** A refused upload (a 429 quota) counts as document_ingestion_total{status="rejected"}. */
  private async countRejected<T>(chunkerType: string, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (error instanceof AppError && error.status === 429) this.metrics.recordIngestion('rejected', chunkerType);
      throw error;
    }
  }

  private async checkQuota(tenant: TenantContext): Promise<void> {
    const limit = (await this.tenants.findById(tenant.tenantId))?.maxDocuments ?? this.config.tenantMaxDocuments;
    if (limit === undefined || limit === null) return;
    const count = await this.documents.countForTenant(tenant);
    if (count >= limit) {
      throw new QuotaExceededError(
        `the tenant has ${count} documents, its quota is ${limit}; delete documents or ask the platform admin for a higher max_documents`,
      );
    }
  }

  private newJob(document: DocumentEntity): IngestionJobEntity {
    const now = nowIso();
    return {
      id: randomUUID(),
      tenantId: document.tenantId,
      kbId: document.kbId,
      documentId: document.id,
      status: 'queued',
      stage: null,
      generation: document.generation,
      attempts: 0,
      maxAttempts: this.config.ingestionMaxAttempts,
      leaseOwner: null,
      leaseExpiresAt: null,
      runAfter: now,
      lastError: null,
      traceContext: activeTraceCarrier(),
      createdAt: now,
      updatedAt: now,
    };
  }
}

/** Metadata is a flat JSON object (or its text, in multipart). */
function parseMetadata(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      throw new ValidationFailedError([{ field: 'metadata', message: 'must be a JSON object' }]);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationFailedError([{ field: 'metadata', message: 'must be a JSON object' }]);
  }
  if (JSON.stringify(value).length > 16_384)
    throw new ValidationFailedError([{ field: 'metadata', message: 'must be at most 16 KiB as JSON' }]);
  return value as Record<string, unknown>;
}

export function toDocumentDto(document: DocumentEntity): DocumentDto {
  return {
    id: document.id,
    kb_id: document.kbId,
    title: document.title,
    file_name: document.fileName,
    content_type: document.contentType,
    content_hash: document.contentHash,
    size_bytes: document.sizeBytes,
    metadata: document.metadata,
    status: document.status,
    progress: document.progress,
    chunk_count: document.chunkCount,
    error: document.error,
    created_at: document.createdAt,
    updated_at: document.updatedAt,
    indexed_at: document.indexedAt,
  };
}
