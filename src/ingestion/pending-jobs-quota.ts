import { Inject, Injectable } from '@nestjs/common';
import { nowIso } from '../common/clock';
import { RateLimitedError } from '../common/errors';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { TenantContext } from '../tenants';
import { IngestionJobsRepository } from './jobs/ingestion-jobs.repository';

/** Suffix of this limit's RateLimit-* headers, as @nestjs/throttler suffixes a named limit (`RateLimit-Limit-tenant`). */
export const PENDING_JOBS_LIMIT_NAME = 'ingestion';
/** the window over which a tenant's recent throughput estimates Retry-After */
const THROUGHPUT_WINDOW_MS = 60_000;
/** Retry-After when none of the tenant's jobs ended within the window */
const UNKNOWN_RATE_RETRY_AFTER_S = 5;
const MAX_RETRY_AFTER_S = 60;

export interface Admission {
  pending: number;
  headers: Record<string, string>;
}

/**
 * Backpressure on a tenant's ingestion backlog (INGESTION_MAX_PENDING_JOBS_PER_TENANT): an upload
 * or re-index that would take the tenant's queued + processing jobs past the limit is refused
 * with a 429 problem before anything is stored. The count is read from the shared database, so
 * every replica agrees; concurrent requests of one tenant may each see the last free place, so
 * the backlog can pass the limit by at most the number of them in flight.
 */
@Injectable()
export class PendingJobsQuota {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: IngestionJobsRepository,
  ) {}

  /**
   * Throws a 429 when `adding` more jobs do not fit. Otherwise returns the tenant's pending jobs
   * counting the new ones (the last new job's place in the tenant's queue) and the RateLimit-*
   * headers of the accepted request.
   */
  async admit(tenant: TenantContext, adding: number): Promise<Admission> {
    const limit = this.config.ingestionMaxPendingJobsPerTenant;
    const pending = await this.jobs.pendingCount(tenant);
    if (limit === 0) return { pending: pending + adding, headers: {} };
    if (pending + adding <= limit) return { pending: pending + adding, headers: headers(limit, limit - pending - adding) };
    const retryAfter = await this.retryAfterSeconds(tenant, pending + adding - limit);
    const error = new RateLimitedError(
      `the tenant has ${pending} ingestion jobs queued or processing and may have at most ${limit}; retry when some have finished`,
      retryAfter,
    );
    Object.assign(error.headers, headers(limit, Math.max(0, limit - pending)), {
      [`RateLimit-Reset-${PENDING_JOBS_LIMIT_NAME}`]: String(retryAfter),
    });
    Object.assign(error.extensions, { pending_jobs: pending, max_pending_jobs: limit });
    throw error;
  }

  /**
   * How long until `excess` of the tenant's jobs end, at the rate they ended since the first one
   * that ended within the last minute (so a tenant that just started is not told to wait for a
   * whole minute's average); 1–60 s, 5 s when none ended within the minute.
   */
  private async retryAfterSeconds(tenant: TenantContext, excess: number): Promise<number> {
    const { count, firstAt } = await this.jobs.finishedSince(tenant, nowIso(-THROUGHPUT_WINDOW_MS));
    if (count === 0 || !firstAt) return UNKNOWN_RATE_RETRY_AFTER_S;
    const spanSeconds = Math.max(1, (Date.now() - Date.parse(firstAt)) / 1000);
    return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil((excess * spanSeconds) / count)));
  }
}

function headers(limit: number, remaining: number): Record<string, string> {
  return {
    [`RateLimit-Limit-${PENDING_JOBS_LIMIT_NAME}`]: String(limit),
    [`RateLimit-Remaining-${PENDING_JOBS_LIMIT_NAME}`]: String(remaining),
  };
}
