// The tenants module's public surface: who is calling (principal, tenant context), the access
// decorators every controller uses, and what other modules look up or hook into.
export { TenantsModule } from './tenants.module';
export { TenantContext, type Principal } from './principal';
export { CurrentPrincipal, CurrentTenant, PlatformAdmin, PlatformOrTenantAdmin, Public, RequireScope } from './auth.decorators';
export { TenantPurgeRegistry } from './tenant-purge.registry';
export { TenantsRepository } from './tenants.repository';
