import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { Cursor } from '../common/pagination';
import { TenantEntity, applyKeyset } from '../database';

/** Tenants are platform-level rows: only the platform admin reaches this repository. */
@Injectable()
export class TenantsRepository {
  private readonly tenants: Repository<TenantEntity>;

  constructor(dataSource: DataSource) {
    this.tenants = dataSource.getRepository(TenantEntity);
  }

  insert(tenant: TenantEntity): Promise<unknown> {
    return this.tenants.insert(tenant);
  }

  findById(id: string): Promise<TenantEntity | null> {
    return this.tenants.findOneBy({ id });
  }

  list(cursor: Cursor | undefined, limit: number): Promise<TenantEntity[]> {
    return applyKeyset(this.tenants.createQueryBuilder('t'), 't', cursor, limit).getMany();
  }

  async update(id: string, changes: Partial<Pick<TenantEntity, 'name' | 'maxDocuments'>>): Promise<void> {
    if (Object.keys(changes).length === 0) return;
    await this.tenants.update({ id }, changes);
  }

  async delete(id: string): Promise<void> {
    await this.tenants.delete({ id });
  }
}
