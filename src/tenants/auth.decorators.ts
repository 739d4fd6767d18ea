import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { ApiKeyScope } from '../database';
import { ForbiddenError } from '../common/errors';
import { TenantContext, type Principal } from './principal';

/** Who may call a route: anyone, the platform admin, a tenant key with a scope, or either admin. */
export type AccessRule =
  { kind: 'public' } | { kind: 'platform-admin' } | { kind: 'tenant'; scope: ApiKeyScope } | { kind: 'platform-or-tenant-admin' };

export const ACCESS_RULE = 'self-rag:access-rule';

export const Public = () => SetMetadata(ACCESS_RULE, { kind: 'public' } satisfies AccessRule);
export const PlatformAdmin = () => SetMetadata(ACCESS_RULE, { kind: 'platform-admin' } satisfies AccessRule);
export const RequireScope = (scope: ApiKeyScope) => SetMetadata(ACCESS_RULE, { kind: 'tenant', scope } satisfies AccessRule);
/** Platform admin, or an admin key whose tenant owns the resource (the service checks ownership → 404). */
export const PlatformOrTenantAdmin = () => SetMetadata(ACCESS_RULE, { kind: 'platform-or-tenant-admin' } satisfies AccessRule);

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  return ctx.switchToHttp().getRequest<{ principal: Principal }>().principal;
});

/** The caller's tenant scope; only on routes guarded by RequireScope. */
export const CurrentTenant = createParamDecorator((_: unknown, ctx: ExecutionContext): TenantContext => {
  const principal = ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
  if (principal?.kind !== 'tenant') throw new ForbiddenError('this route needs a tenant API key');
  return new TenantContext(principal.tenantId);
});
