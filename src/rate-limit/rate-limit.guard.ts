import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request } from 'express';
import { RateLimitedError } from '../common/errors';
import type { Principal } from '../tenants/principal';
import { AdmissionGate, budgetOf, presentedKeyHash } from './admission';

type AuthenticatedRequest = Request & { principal?: Principal };

/**
 * @nestjs/throttler with trackers per API key (`default` throttler, every authenticated route:
 * retrieve and rag on one budget, the other routes on another) and per tenant (`tenant`, retrieve
 * and rag), IETF `RateLimit-*` headers, and a 429 problem with `Retry-After`. Runs after the auth
 * guard; a refusal is handed to the admission gate, which refuses the key's next requests on that
 * budget before authentication until the block ends.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';
  @Inject(AdmissionGate) private readonly gate!: AdmissionGate;

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    // public routes (health, readiness, the API description) carry no key to count on
    return context.switchToHttp().getRequest<AuthenticatedRequest>().principal === undefined;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const scope = detail.key.includes(':tenant:') ? 'tenant' : 'API key';
    const message = `rate limit of ${detail.limit} requests per ${detail.ttl / 1000} s for this ${scope} exceeded`;
    const retryAfterSeconds = detail.timeToBlockExpire || detail.timeToExpire;
    const keyHash = presentedKeyHash(req);
    if (keyHash) this.gate.rememberRefusal(keyHash, budgetOf(req.path), retryAfterSeconds, message);
    throw new RateLimitedError(message, retryAfterSeconds);
  }
}

export function trackByApiKey(req: Record<string, unknown>): string {
  const principal = (req as unknown as AuthenticatedRequest).principal;
  if (principal?.kind === 'tenant') return `key:${principal.keyId}`;
  return principal?.kind === 'platform-admin' ? 'platform-admin' : 'anonymous';
}

export function trackByTenant(req: Record<string, unknown>): string {
  const principal = (req as unknown as AuthenticatedRequest).principal;
  return principal?.kind === 'tenant' ? `tenant:${principal.tenantId}` : 'anonymous';
}

/** retrieve and rag are counted per tenant too; the other routes per key only */
export function skipTenantLimit(context: ExecutionContext): boolean {
  const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
  return req.principal?.kind !== 'tenant' || budgetOf(req.path) !== 'query';
}

export function requestBudget(context: ExecutionContext): ReturnType<typeof budgetOf> {
  return budgetOf(context.switchToHttp().getRequest<Request>().path);
}
