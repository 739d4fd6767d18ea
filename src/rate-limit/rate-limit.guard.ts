import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request } from 'express';
import { RateLimitedError } from '../common/errors';
import type { Principal } from '../tenants/principal';

/** The costly routes: requests/s are limited per API key and per tenant on these. */
export const RATE_LIMITED_ROUTES = new Set(['/v1/retrieve', '/v1/rag']);

type AuthenticatedRequest = Request & { principal?: Principal };

/**
 * @nestjs/throttler with trackers per API key (`default` throttler) and per tenant (`tenant`),
 * IETF `RateLimit-*` headers, and a 429 problem with `Retry-After`. Runs after the auth guard.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    return !RATE_LIMITED_ROUTES.has(req.route?.path ?? '') || req.principal?.kind !== 'tenant';
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const scope = detail.key.includes(':tenant:') ? 'tenant' : 'API key';
    throw new RateLimitedError(`rate limit of ${detail.limit} requests per ${detail.ttl / 1000} s for this ${scope} exceeded`, detail.timeToBlockExpire || detail.timeToExpire);
  }
}

export function trackByApiKey(req: Record<string, unknown>): string {
  const principal = (req as unknown as AuthenticatedRequest).principal;
  return principal?.kind === 'tenant' ? `key:${principal.keyId}` : 'anonymous';
}

export function trackByTenant(req: Record<string, unknown>): string {
  const principal = (req as unknown as AuthenticatedRequest).principal;
  return principal?.kind === 'tenant' ? `tenant:${principal.tenantId}` : 'anonymous';
}
