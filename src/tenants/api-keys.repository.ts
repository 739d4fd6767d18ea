import { Injectable } from '@nestjs/common';
import { DataSource, IsNull, type Repository } from 'typeorm';
import type { Cursor } from '../common/pagination';
import { ApiKeyEntity, HotReads, applyKeyset } from '../database';
import type { TenantContext } from './principal';

@Injectable()
export class ApiKeysRepository {
  private readonly keys: Repository<ApiKeyEntity>;

  constructor(
    dataSource: DataSource,
    private readonly hotReads: HotReads,
  ) {
    this.keys = dataSource.getRepository(ApiKeyEntity);
  }

  /** Authentication looks a key up before any tenant is known: by its public lookup prefix only. */
  async findByLookupPrefix(lookupPrefix: string): Promise<ApiKeyEntity | null> {
    // every authenticated request: a prepared statement, not a query builder
    const [key] = await this.hotReads.entities(ApiKeyEntity, 'SELECT * FROM api_keys WHERE lookup_prefix = :lookupPrefix', {
      lookupPrefix,
    });
    return key ?? null;
  }

  /** Platform admin revocation: the admin is not scoped by any tenant. */
  findByIdForPlatformAdmin(id: string): Promise<ApiKeyEntity | null> {
    return this.keys.findOneBy({ id });
  }

  insert(key: ApiKeyEntity): Promise<unknown> {
    return this.keys.insert(key);
  }

  findById(tenant: TenantContext, id: string): Promise<ApiKeyEntity | null> {
    return this.keys.findOneBy({ id, tenantId: tenant.tenantId });
  }

  list(tenant: TenantContext, cursor: Cursor | undefined, limit: number): Promise<ApiKeyEntity[]> {
    const query = this.keys.createQueryBuilder('k').where('k.tenant_id = :tenantId', { tenantId: tenant.tenantId });
    return applyKeyset(query, 'k', cursor, limit).getMany();
  }

  async revoke(tenant: TenantContext, id: string, at: string): Promise<void> {
    await this.keys.update({ id, tenantId: tenant.tenantId, revokedAt: IsNull() }, { revokedAt: at });
  }

  async touchLastUsed(id: string, at: string): Promise<void> {
    await this.keys.update({ id }, { lastUsedAt: at });
  }

  async deleteAllOfTenant(tenant: TenantContext): Promise<void> {
    await this.keys.delete({ tenantId: tenant.tenantId });
  }
}
