import { Injectable } from '@nestjs/common';
import type { TenantContext } from './principal';

type Purge = (tenant: TenantContext) => Promise<void>;

/**
 * Modules that own tenant data (knowledge bases, documents, indexes) register how to remove it,
 * so deleting a tenant removes everything without the tenants module knowing every store.
 */
@Injectable()
export class TenantPurgeRegistry {
  private readonly purges: Purge[] = [];

  register(purge: Purge): void {
    this.purges.push(purge);
  }

  async purge(tenant: TenantContext): Promise<void> {
    for (const purge of this.purges) await purge(tenant);
  }
}
