import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { nowIso } from '../common/clock';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationFailedError } from '../common/errors';
import { decodeCursor, toPage, type Page } from '../common/pagination';
import { isUniqueViolation, type KnowledgeBaseEntity } from '../database';
import { TenantPurgeRegistry, type TenantContext } from '../tenants';
import { KnowledgeBaseEvents } from './knowledge-base.events';
import {
  DEFAULT_CHUNKER,
  type ChunkerSettingsDto,
  type CreateKnowledgeBaseDto,
  type KnowledgeBaseDto,
  type UpdateKnowledgeBaseDto,
} from './knowledge-bases.dto';
import { KnowledgeBasesRepository } from './knowledge-bases.repository';

@Injectable()
export class KnowledgeBasesService implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly kbs: KnowledgeBasesRepository,
    private readonly events: KnowledgeBaseEvents,
    private readonly tenantPurges: TenantPurgeRegistry,
  ) {}

  onModuleInit(): void {
    this.tenantPurges.register(async (tenant) => {
      for (const kb of await this.kbs.listAll(tenant)) await this.deleteEntity(tenant, kb);
    });
  }

  async create(tenant: TenantContext, input: CreateKnowledgeBaseDto): Promise<KnowledgeBaseDto> {
    const chunker = validChunker(input.chunker ?? DEFAULT_CHUNKER, 'chunker');
    // every KB adds its own series to /metrics: the quota bounds what one tenant can add
    await this.checkQuota(tenant);
    const now = nowIso();
    const kb: KnowledgeBaseEntity = {
      id: randomUUID(),
      tenantId: tenant.tenantId,
      name: input.name,
      description: input.description ?? null,
      chunker,
      embeddingModel: input.embedding_model ?? this.config.embedding.model,
      createdAt: now,
      updatedAt: now,
    };
    await this.events.validate(kb);
    try {
      await this.kbs.insert(kb);
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(kb.name);
      throw error;
    }
    // creations racing past the check above take their KBs back when over (racers may all lose)
    try {
      await this.checkQuota(tenant, 1);
    } catch (error) {
      await this.kbs.delete(tenant, kb.id);
      throw error;
    }
    return toKnowledgeBaseDto(kb);
  }

  private async checkQuota(tenant: TenantContext, created = 0): Promise<void> {
    const limit = this.config.tenantMaxKnowledgeBases;
    const count = await this.kbs.countForTenant(tenant);
    if (count - created >= limit) {
      throw new QuotaExceededError(
        `the tenant has ${count - created} knowledge bases, the most allowed (TENANT_MAX_KNOWLEDGE_BASES is ${limit}); delete one first`,
      );
    }
  }

  async list(tenant: TenantContext, limit = 20, cursor?: string): Promise<Page<KnowledgeBaseDto>> {
    return toPage(await this.kbs.list(tenant, decodeCursor(cursor), limit), limit, toKnowledgeBaseDto);
  }

  async get(tenant: TenantContext, id: string): Promise<KnowledgeBaseDto> {
    return toKnowledgeBaseDto(await this.require(tenant, id));
  }

  /** The KB entity of the caller's tenant, or 404 (also when it belongs to another tenant). */
  async require(tenant: TenantContext, id: string): Promise<KnowledgeBaseEntity> {
    const kb = await this.kbs.findById(tenant, id);
    if (!kb) throw new NotFoundError('knowledge base', id);
    return kb;
  }

  async update(tenant: TenantContext, id: string, input: UpdateKnowledgeBaseDto): Promise<KnowledgeBaseDto> {
    const kb = await this.require(tenant, id);
    const chunker = input.chunker ? validChunker(input.chunker, 'chunker') : kb.chunker;
    const updated: KnowledgeBaseEntity = {
      ...kb,
      name: input.name ?? kb.name,
      description: input.description ?? kb.description,
      chunker,
      embeddingModel: input.embedding_model ?? kb.embeddingModel,
      updatedAt: nowIso(),
    };
    await this.events.validate(updated);
    try {
      await this.kbs.update(tenant, id, {
        name: updated.name,
        description: updated.description,
        chunker: updated.chunker,
        embeddingModel: updated.embeddingModel,
        updatedAt: updated.updatedAt,
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(updated.name);
      throw error;
    }
    const reconfigured = JSON.stringify(chunker) !== JSON.stringify(kb.chunker) || updated.embeddingModel !== kb.embeddingModel;
    if (reconfigured) await this.events.emitReconfigured(tenant, updated);
    return toKnowledgeBaseDto(updated);
  }

  async delete(tenant: TenantContext, id: string): Promise<void> {
    await this.deleteEntity(tenant, await this.require(tenant, id));
  }

  /**
   * The KB row goes first: an upload or re-index checks it in its own transaction, so after this
   * none adds to the KB, and the purge that follows cannot miss a document. If the purge is cut
   * short (a crash, a store down), the orphan sweeper finishes it.
   */
  private async deleteEntity(tenant: TenantContext, kb: KnowledgeBaseEntity): Promise<void> {
    await this.kbs.delete(tenant, kb.id);
    await this.events.emitDeleted(tenant, kb);
  }
}

function validChunker(chunker: ChunkerSettingsDto, field: string): ChunkerSettingsDto {
  // an overlap near the size would emit the same text over and over
  if (chunker.chunk_overlap * 2 >= chunker.chunk_size) {
    throw new ValidationFailedError([{ field: `${field}.chunk_overlap`, message: 'chunk_overlap must be less than half of chunk_size' }]);
  }
  return { type: chunker.type, chunk_size: chunker.chunk_size, chunk_overlap: chunker.chunk_overlap };
}

function nameTaken(name: string): ConflictError {
  return new ConflictError(`a knowledge base named '${name.slice(0, 80)}' already exists in this tenant`);
}

export function toKnowledgeBaseDto(kb: KnowledgeBaseEntity): KnowledgeBaseDto {
  return {
    id: kb.id,
    tenant_id: kb.tenantId,
    name: kb.name,
    description: kb.description,
    chunker: kb.chunker,
    embedding_model: kb.embeddingModel,
    created_at: kb.createdAt,
    updated_at: kb.updatedAt,
  };
}
