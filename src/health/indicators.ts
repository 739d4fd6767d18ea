import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { VectorStore } from '../vector-store';
import { timedCheck } from './timed-check';

@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(DataSource) private readonly dataSource: DataSource,
  ) {}

  check(): Promise<HealthIndicatorResult> {
    return timedCheck(this.indicators, 'database', async () => {
      await this.dataSource.query('SELECT 1');
      return `connected (${this.dataSource.options.type === 'postgres' ? 'postgresql' : 'sqlite'})`;
    });
  }
}

@Injectable()
export class VectorStoreHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `qdrant`, the guide's name for this check, when the store is Qdrant; `vector_store` for the embedded one */
  get checkName(): string {
    return this.config.vectorStore.kind === 'qdrant' ? 'qdrant' : 'vector_store';
  }

  /** The vector store is resolved lazily: the health module does not own it. */
  store(): VectorStore | undefined {
    try {
      return this.moduleRef.get(VectorStore, { strict: false });
    } catch {
      return undefined;
    }
  }

  check(): Promise<HealthIndicatorResult> {
    return timedCheck(this.indicators, this.checkName, async () => {
      const store = this.store();
      if (!store) throw new Error('vector store not configured');
      await store.ping();
      const collections = await store.listCollections();
      return `connected (${store.kind}, ${collections.length} collections)`;
    });
  }
}

@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private client?: Redis;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get configured(): boolean {
    return this.config.redisUrl !== undefined;
  }

  check(): Promise<HealthIndicatorResult> {
    return timedCheck(this.indicators, 'redis', async () => {
      this.client ??= new Redis(this.config.redisUrl!, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 1_000,
        retryStrategy: () => null,
      });
      if (this.client.status === 'end' || this.client.status === 'wait') {
        this.client.disconnect();
        await this.client.connect();
      }
      const pong = await this.client.ping();
      return pong === 'PONG' ? 'connected' : `unexpected answer ${String(pong)}`;
    });
  }

  onModuleDestroy(): void {
    this.client?.disconnect();
  }
}
