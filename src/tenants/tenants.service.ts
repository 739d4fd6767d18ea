import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { nowIso } from '../common/clock';
import { NotFoundError, ValidationFailedError } from '../common/errors';
import { decodeCursor, toPage, type Page } from '../common/pagination';
import type { ApiKeyEntity, TenantEntity } from '../database';
import { ApiKeysRepository } from './api-keys.repository';
import { generateApiKey } from './api-key-secret';
import { TenantContext, type Principal } from './principal';
import { TenantPurgeRegistry } from './tenant-purge.registry';
import { TenantsRepository } from './tenants.repository';
import type { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto, CreateTenantDto, TenantDto, UpdateTenantDto } from './tenants.dto';

@Injectable()
export class TenantsService {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly apiKeys: ApiKeysRepository,
    private readonly purges: TenantPurgeRegistry,
  ) {}

  async create(input: CreateTenantDto): Promise<TenantDto> {
    const tenant: TenantEntity = { id: randomUUID(), name: input.name, maxDocuments: input.max_documents ?? null, createdAt: nowIso() };
    await this.tenants.insert(tenant);
    return toTenantDto(tenant);
  }

  async list(limit = 20, cursor?: string): Promise<Page<TenantDto>> {
    return toPage(await this.tenants.list(decodeCursor(cursor), limit), limit, toTenantDto);
  }

  async get(id: string): Promise<TenantDto> {
    return toTenantDto(await this.require(id));
  }

  async update(id: string, input: UpdateTenantDto): Promise<TenantDto> {
    await this.require(id);
    await this.tenants.update(id, {
      ...(input.name != null && { name: input.name }),
      ...(input.max_documents !== undefined && { maxDocuments: input.max_documents }),
    });
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.require(id);
    const tenant = new TenantContext(id);
    // keys and tenant row first (no new request of the tenant is authenticated), then every KB:
    // each KB delete waits for the uploads into it in flight, which its purge then removes; a purge
    // cut short, or a KB created meanwhile, is removed by the orphan sweeper
    await this.apiKeys.deleteAllOfTenant(tenant);
    await this.tenants.delete(id);
    await this.purges.purge(tenant);
  }

  async createApiKey(principal: Principal, tenantId: string, input: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const tenant = await this.tenantFor(principal, tenantId);
    if (input.expires_at != null && Date.parse(input.expires_at) <= Date.now()) {
      throw new ValidationFailedError([{ field: 'expires_at', message: 'expires_at must be in the future' }]);
    }
    const generated = generateApiKey();
    const key: ApiKeyEntity = {
      id: randomUUID(),
      tenantId: tenant.tenantId,
      name: input.name,
      lookupPrefix: generated.lookupPrefix,
      keyHash: generated.keyHash,
      scopes: input.scopes,
      expiresAt: input.expires_at == null ? null : new Date(input.expires_at).toISOString(),
      revokedAt: null,
      lastUsedAt: null,
      createdAt: nowIso(),
    };
    await this.apiKeys.insert(key);
    return { ...toApiKeyDto(key), key: generated.key };
  }

  async listApiKeys(principal: Principal, tenantId: string, limit = 20, cursor?: string): Promise<Page<ApiKeyDto>> {
    const tenant = await this.tenantFor(principal, tenantId);
    return toPage(await this.apiKeys.list(tenant, decodeCursor(cursor), limit), limit, toApiKeyDto);
  }

  async revokeApiKey(principal: Principal, keyId: string): Promise<void> {
    if (principal.kind === 'tenant') {
      const tenant = new TenantContext(principal.tenantId);
      if (!(await this.apiKeys.findById(tenant, keyId))) throw new NotFoundError('api key', keyId);
      await this.apiKeys.revoke(tenant, keyId, nowIso());
      return;
    }
    const key = await this.findKeyAnyTenant(keyId);
    await this.apiKeys.revoke(new TenantContext(key.tenantId), keyId, nowIso());
  }

  private async findKeyAnyTenant(keyId: string): Promise<ApiKeyEntity> {
    const key = await this.apiKeys.findByIdForPlatformAdmin(keyId);
    if (!key) throw new NotFoundError('api key', keyId);
    return key;
  }

  /** The platform admin reaches any existing tenant; a tenant admin key only its own (others are 404). */
  private async tenantFor(principal: Principal, tenantId: string): Promise<TenantContext> {
    if (principal.kind === 'tenant' && principal.tenantId !== tenantId) throw new NotFoundError('tenant', tenantId);
    await this.require(tenantId);
    return new TenantContext(tenantId);
  }

  private async require(id: string): Promise<TenantEntity> {
    const tenant = await this.tenants.findById(id);
    if (!tenant) throw new NotFoundError('tenant', id);
    return tenant;
  }
}

function toTenantDto(tenant: TenantEntity): TenantDto {
  return { id: tenant.id, name: tenant.name, max_documents: tenant.maxDocuments, created_at: tenant.createdAt };
}

function toApiKeyDto(key: ApiKeyEntity): ApiKeyDto {
  return {
    id: key.id,
    tenant_id: key.tenantId,
    name: key.name,
    prefix: `srk_${key.lookupPrefix}`,
    scopes: key.scopes,
    expires_at: key.expiresAt,
    revoked_at: key.revokedAt,
    last_used_at: key.lastUsedAt,
    created_at: key.createdAt,
  };
}
