import type { ApiKeyScope } from '../database';

/** Who is calling: the platform admin, or a tenant's API key with its scopes. */
export type Principal = { kind: 'platform-admin' } | { kind: 'tenant'; tenantId: string; keyId: string; scopes: ApiKeyScope[] };

/** The tenant every tenant-owned query is scoped by. Repositories take it as their first argument. */
export class TenantContext {
  constructor(readonly tenantId: string) {}
}

/** admin implies write, write implies read. */
const IMPLIED: Record<ApiKeyScope, ApiKeyScope[]> = {
  admin: ['admin', 'write', 'read'],
  write: ['write', 'read'],
  read: ['read'],
};

export function hasScope(scopes: ApiKeyScope[], required: ApiKeyScope): boolean {
  return scopes.some((scope) => IMPLIED[scope]?.includes(required));
}
