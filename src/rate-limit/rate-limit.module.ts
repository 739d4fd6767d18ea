import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DependencyError } from '../common/errors';
import { AdmissionGate } from './admission';
import { InProcessThrottlerStorage } from './in-process-throttler-storage';
import { TenantSlots } from './tenant-slots';
import { RateLimitGuard, requestBudget, skipTenantLimit, trackByApiKey, trackByTenant } from './rate-limit.guard';

/**
 * The Redis storage with fail-fast commands: while Redis is down a limited request answers a 503
 * problem naming Redis within about a second, instead of waiting in ioredis's offline queue.
 */
export class RedisThrottlerStorage extends ThrottlerStorageRedisService {
  constructor(url: string) {
    super(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  }

  override async increment(
    ...args: Parameters<ThrottlerStorageRedisService['increment']>
  ): ReturnType<ThrottlerStorageRedisService['increment']> {
    try {
      return await super.increment(...args);
    } catch {
      throw new DependencyError('redis', 'unavailable', 'the rate-limit counters are unreachable');
    }
  }
}

/**
 * Counters in process on the embedded default; in Redis when REDIS_URL is set, so every replica
 * shares the counts. The admission gate (exported: the auth guard and app.factory's middleware
 * use it) keeps each replica's verdicts in process either way.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        throttlers: [
          {
            name: 'default',
            ttl: 1000,
            limit: (context) => (requestBudget(context) === 'query' ? config.rateLimitRps : config.managementRateLimitRps),
            getTracker: trackByApiKey,
            generateKey: (context, tracker) => (requestBudget(context) === 'query' ? `rl:key:${tracker}` : `rl:mgmt:${tracker}`),
          },
          {
            name: 'tenant',
            ttl: 1000,
            limit: config.tenantRateLimitRps,
            getTracker: trackByTenant,
            generateKey: (_c, tracker) => `rl:tenant:${tracker}`,
            skipIf: skipTenantLimit,
          },
        ],
        storage: config.redisUrl ? new RedisThrottlerStorage(config.redisUrl) : new InProcessThrottlerStorage(),
      }),
    }),
  ],
  providers: [
    { provide: AdmissionGate, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new AdmissionGate(config.authFailureRateLimit) },
    {
      provide: TenantSlots,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new TenantSlots(config.tenantConcurrentRetrievals || Number.POSITIVE_INFINITY),
    },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [AdmissionGate],
})
export class RateLimitModule {}
