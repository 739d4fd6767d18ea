import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { RateLimitedError } from '../common/errors';
import type { Principal } from '../tenants';
import { AdmissionGate, budgetOf, presentedKeyHash } from './admission';
import { TenantSlots } from './tenant-slots';

/** the route whose work is all on this service (CPU): its requests take turns per tenant */
const SLOTTED_ROUTE = '/v1/retrieve';

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
  @Inject(TenantSlots) private readonly slots!: TenantSlots;

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const admitted = await super.canActivate(context);
    const http = context.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    if (admitted && req.principal?.kind === 'tenant' && (req.route as { path?: string } | undefined)?.path === SLOTTED_ROUTE) {
      const release = await this.slots.acquire(req.principal.tenantId);
      const res = http.getResponse<Response>();
      if (res.writableEnded || res.destroyed) release();
      else res.once('close', release);
    }
    return admitted;
  }

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
