import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { BullMqIngestionQueue, BullMqWorkers } from '../queue/bullmq/bullmq-ingestion';
import { DatabaseIngestionQueue } from '../queue/database/database-ingestion-queue';
import { DatabaseWorkerPool } from '../queue/database/database-worker-pool';
import { IngestionQueue } from '../queue/ingestion-queue.port';
import { DocumentIngestionPipeline } from './document-ingestion.pipeline';
import { IngestionJobsRepository } from './ingestion-jobs.repository';

/**
 * Starts this process's ingestion workers unless ROLE=api: the database pool, or BullMQ workers
 * when REDIS_URL is set. They start once the HTTP server listens, never before: a process that
 * restarts serves /health before it claims a job, so a job that brought the last one down cannot
 * keep the port closed. On shutdown (before the database closes) they stop claiming and let
 * in-flight jobs finish within most of SHUTDOWN_TIMEOUT_MS, else give the jobs back.
 */
@Injectable()
export class IngestionWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ingestion-workers');
  private workers?: DatabaseWorkerPool | BullMqWorkers;
  private stopped = false;
  private deferred = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queue: IngestionQueue,
    private readonly repository: IngestionJobsRepository,
    private readonly pipeline: DocumentIngestionPipeline,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /**
   * Called before the application starts (main.ts): the workers then start once the HTTP server
   * listens instead of at bootstrap, which comes before the port opens.
   */
  startWhenListening(): void {
    this.deferred = true;
  }

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!this.deferred || !server || server.listening) this.start();
    // after the listen call has returned to its caller (main logs "listening" first)
    else server.once('listening', () => setImmediate(() => this.start()));
  }

  private start(): void {
    if (this.stopped) return;
    const options = {
      concurrency: this.config.ingestionConcurrency,
      leaseMs: this.config.ingestionLeaseMs,
      maxPerTenant: this.config.ingestionMaxConcurrentJobsPerTenant,
    };
    if (this.queue instanceof BullMqIngestionQueue && this.config.redisUrl) {
      this.workers = new BullMqWorkers(this.config.redisUrl, this.queue, this.repository, this.pipeline, options);
    } else {
      const pool = new DatabaseWorkerPool(this.repository, this.pipeline, options);
      if (this.queue instanceof DatabaseIngestionQueue) this.queue.onDispatch((jobs) => pool.wakeFor(jobs));
      this.workers = pool;
    }
    this.workers.start();
    this.logger.log({
      message: 'ingestion workers started',
      queue: this.config.redisUrl ? 'bullmq' : 'database',
      concurrency: options.concurrency,
      max_jobs_per_tenant: options.maxPerTenant,
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.workers?.stop(Math.floor(this.config.shutdownTimeoutMs * 0.7));
    if (this.queue instanceof BullMqIngestionQueue) await this.queue.close();
  }
}
