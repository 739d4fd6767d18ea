import { Logger } from '@nestjs/common';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { DocumentIngestionPipeline } from './document-ingestion.pipeline';
import type { IngestionJobsRepository } from './ingestion-jobs.repository';
import { IngestionQueue, type DispatchedJob } from './ingestion-queue';
import { LeasedRun } from './leased-run';
import { workerOwnerId } from './worker-identity';

export const INGESTION_QUEUE_NAME = 'self-rag-ingestion';

interface IngestionMessage {
  jobId: string;
}

export function redisConnection(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true } as ConnectionOptions;
}

/**
 * BullMQ carries job ids to worker replicas. A message id is `<job id>.<attempt>`, so sending the
 * same attempt twice (reconciler, retries) is one message while a later attempt is a new one.
 */
export class BullMqIngestionQueue extends IngestionQueue {
  readonly queue: Queue<IngestionMessage>;

  constructor(redisUrl: string) {
    super();
    this.queue = new Queue<IngestionMessage>(INGESTION_QUEUE_NAME, {
      connection: redisConnection(redisUrl),
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    });
  }

  async dispatch(jobs: DispatchedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((job) => ({ name: 'ingest', data: { jobId: job.id }, opts: { jobId: `${job.id}.${job.attempts}`, delay: job.delayMs } })),
    );
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * Worker side of the BullMQ path: each message claims its database row (the claim is the same
 * atomic lease as without Redis, so a duplicate message is harmless), and a reconciler re-sends
 * rows that no message reached (Redis restarted, a worker died holding a lease).
 */
export class BullMqWorkers {
  private readonly logger = new Logger('ingestion-workers');
  private worker?: Worker<IngestionMessage>;
  private reconciler?: NodeJS.Timeout;
  private readonly running = new Set<LeasedRun>();
  private readonly owner = workerOwnerId('bullmq');

  constructor(
    private readonly redisUrl: string,
    private readonly queue: BullMqIngestionQueue,
    private readonly repository: IngestionJobsRepository,
    private readonly pipeline: DocumentIngestionPipeline,
    private readonly options: { concurrency: number; leaseMs: number },
  ) {}

  start(): void {
    this.worker = new Worker<IngestionMessage>(INGESTION_QUEUE_NAME, (message) => this.process(message.data.jobId), {
      connection: redisConnection(this.redisUrl),
      concurrency: this.options.concurrency,
    });
    this.worker.on('error', (error) => this.logger.error({ message: 'BullMQ worker error', exception: error.stack }));
    const reconcile = () =>
      this.repository
        .findStranded(this.options.leaseMs, 500)
        .then((jobs) => this.queue.dispatch(jobs))
        .catch((error: Error) => this.logger.warn({ message: 'ingestion reconciler failed', exception: error.stack }));
    void reconcile();
    this.reconciler = setInterval(reconcile, Math.max(1000, Math.floor(this.options.leaseMs / 2)));
    this.reconciler.unref();
  }

  private async process(jobId: string): Promise<void> {
    const jobs = await this.repository.claim(this.owner, 1, this.options.leaseMs, jobId);
    if (jobs.length === 0) return;
    const run = new LeasedRun(this.owner, jobs, this.repository, this.options.leaseMs);
    this.running.add(run);
    try {
      const retried = await run.execute(this.pipeline);
      await this.queue.dispatch(retried);
    } finally {
      this.running.delete(run);
    }
  }

  async stop(graceMs: number): Promise<void> {
    if (this.reconciler) clearInterval(this.reconciler);
    if (!this.worker) return;
    const closed = this.worker.close().then(() => true);
    const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref());
    if (!(await Promise.race([closed, timedOut]))) {
      await Promise.all([...this.running].map((run) => run.abortAndRelease().catch(() => undefined)));
      await this.worker.close(true);
    }
  }
}
