import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DatabaseModule } from '../database';
import { RateLimitModule } from '../rate-limit';
import { ApiKeysRepository } from './api-keys.repository';
import { AuthGuard } from './auth.guard';
import { Authenticator } from './authenticator';
import { TenantPurgeRegistry } from './tenant-purge.registry';
import { TenantsController } from './tenants.controller';
import { TenantsRepository } from './tenants.repository';
import { TenantsService } from './tenants.service';

@Module({
  imports: [DatabaseModule, RateLimitModule],
  controllers: [TenantsController],
  providers: [
    TenantsRepository,
    ApiKeysRepository,
    Authenticator,
    TenantsService,
    TenantPurgeRegistry,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [TenantsRepository, ApiKeysRepository, TenantPurgeRegistry, Authenticator],
})
export class TenantsModule {}
