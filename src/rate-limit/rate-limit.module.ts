import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RateLimitGuard, trackByApiKey, trackByTenant } from './rate-limit.guard';

/** In process on the embedded default; in Redis when REDIS_URL is set, so every replica shares the counts. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        throttlers: [
          { name: 'default', ttl: 1000, limit: config.rateLimitRps, getTracker: trackByApiKey, generateKey: (_c, tracker) => `rl:key:${tracker}` },
          { name: 'tenant', ttl: 1000, limit: config.tenantRateLimitRps, getTracker: trackByTenant, generateKey: (_c, tracker) => `rl:tenant:${tracker}` },
        ],
        storage: config.redisUrl ? new ThrottlerStorageRedisService(config.redisUrl) : undefined,
      }),
    }),
  ],
  providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class RateLimitModule {}
