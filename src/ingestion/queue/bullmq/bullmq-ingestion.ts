import { setTimeout as delay } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { ConnectionOptions, Job, Queue, Worker } from 'bullmq';
// bullmq (and its Lua scripts) is required only when INGESTION_QUEUE=bullmq builds this queue:
// the embedded default never loads it (start-up time and idle memory, bench:startup)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bullmq = (): typeof import('bullmq') => require('bullmq') as typeof import('bullmq');
import type { Redis } from 'ioredis';
import type { DocumentIngestionPipeline } from '../../jobs/document-ingestion.pipeline';
import type { ClaimOptions, IngestionJobsRepository } from '../../jobs/ingestion-jobs.repository';
import { IngestionQueue, type DispatchedJob } from '../ingestion-queue.port';
import { LeasedRun } from '../../jobs/leased-run';
import { workerOwnerId } from '../../jobs/worker-identity';

export const INGESTION_QUEUE_NAME = 'self-rag-ingestion';

interface IngestionMessage {
  jobId: string;
  /** times this message waited for its tenant to free a slot */
  deferrals?: number;
}

/** BullMQ's highest priority number (the lowest priority). */
const MAX_PRIORITY = 2_097_152;
/** first wait of a message whose tenant is at its limit; doubles per deferral up to the lease */
const DEFER_BASE_MS = 1000;
/** deferred-message index entries outlive any wait */
const DEFERRED_TTL_MS = 24 * 3600 * 1000;

export function redisConnection(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

/**
 * BullMQ carries job ids to worker replicas. A message id is `<job id>.<attempt>`, so sending the
 * same attempt twice (reconciler, retries) is one message while a later attempt is a new one.
 * The message priority is the job's place in its tenant's queue, so workers take tenants in
 * turns (every tenant's next job before any tenant's second) instead of first come, first served.
 */
export class BullMqIngestionQueue extends IngestionQueue {
  readonly queue: Queue<IngestionMessage>;

  constructor(redisUrl: string) {
    super();
    this.queue = new (bullmq().Queue)<IngestionMessage>(INGESTION_QUEUE_NAME, {
      connection: redisConnection(redisUrl),
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    });
  }

  async dispatch(jobs: DispatchedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((job) => ({
        name: 'ingest',
        data: { jobId: job.id },
        opts: {
          jobId: `${job.id}.${job.attempts}`,
          delay: job.delayMs,
          priority: Math.min(MAX_PRIORITY, Math.max(1, Math.floor(job.position ?? 1))),
        },
      })),
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
 *
 * The per-tenant limit is the claim's: the database counts the tenant's live leases, so a slot of
 * a worker that died is free again when its lease expires. A message whose tenant is at its limit
 * is moved to delayed (1 s, doubling up to the lease) and noted in a per-tenant index; when a job
 * of that tenant ends here, the tenant's earliest deferred message is promoted at once.
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
    private readonly options: ClaimOptions & { concurrency: number },
  ) {}

  start(): void {
    this.worker = new (bullmq().Worker)<IngestionMessage>(INGESTION_QUEUE_NAME, (message, token) => this.process(message, token), {
      connection: redisConnection(this.redisUrl),
      concurrency: this.options.concurrency,
    });
    this.worker.on('error', (error) => this.logger.error({ message: 'BullMQ worker error', exception: error.stack }));
    const reconcile = () =>
      this.repository
        .findStranded(this.options.leaseMs, 500)
        .then((jobs) => this.queue.dispatch(withTenantPositions(jobs)))
        .catch((error: Error) => this.logger.warn({ message: 'ingestion reconciler failed', exception: error.stack }));
    void reconcile();
    this.reconciler = setInterval(() => void reconcile(), Math.max(1000, Math.floor(this.options.leaseMs / 2)));
    this.reconciler.unref();
  }

  private async process(message: Job<IngestionMessage>, token?: string): Promise<void> {
    const claim = await this.repository.claimJob(this.owner, message.data.jobId, this.options);
    if (claim.kind === 'waiting') return this.defer(message, claim.tenantId, token);
    if (claim.kind === 'none') return;
    const tenantId = claim.job.tenantId;
    // the deferred index is a hint for promotions: a stale entry is skipped there
    await (await this.redis()).zrem(deferredKey(tenantId), message.id!).catch(() => undefined);
    const run = new LeasedRun(this.owner, [claim.job], this.repository, this.options.leaseMs);
    this.running.add(run);
    try {
      const retried = await run.execute(this.pipeline);
      await this.queue.dispatch(retried);
    } finally {
      this.running.delete(run);
      await this.promoteNext(tenantId).catch((error: Error) =>
        this.logger.warn({ message: 'promoting a deferred ingestion message failed', exception: error.stack }),
      );
    }
  }

  /** The tenant is at its limit (or the document's previous run still holds a lease): wait, then try again. */
  private async defer(message: Job<IngestionMessage>, tenantId: string, token?: string): Promise<never> {
    const deferrals = (message.data.deferrals ?? 0) + 1;
    const waitMs = Math.min(this.options.leaseMs, DEFER_BASE_MS * 2 ** (deferrals - 1)) * (0.75 + Math.random() / 2);
    await message.updateData({ ...message.data, deferrals });
    await message.moveToDelayed(Date.now() + Math.round(waitMs), token);
    const redis = await this.redis();
    await redis
      .multi()
      .zadd(deferredKey(tenantId), message.priority || 1, message.id!)
      .pexpire(deferredKey(tenantId), DEFERRED_TTL_MS)
      .exec();
    throw new (bullmq().DelayedError)();
  }

  /** A job of the tenant ended here, so it has a free slot: its earliest deferred message goes back to the queue now. */
  private async promoteNext(tenantId: string): Promise<void> {
    const redis = await this.redis();
    for (let tries = 0; tries < 3; tries++) {
      const [id] = await redis.zpopmin(deferredKey(tenantId));
      if (!id) return;
      const message = await bullmq().Job.fromId<IngestionMessage>(this.queue.queue, id);
      if (message && (await message.isDelayed())) {
        try {
          await message.promote();
          return;
        } catch {
          // it became due or was taken meanwhile
        }
      }
    }
  }

  /** the queue's own ioredis connection */
  private async redis(): Promise<Redis> {
    return (await this.queue.queue.client) as unknown as Redis;
  }

  async stop(graceMs: number): Promise<void> {
    if (this.reconciler) clearInterval(this.reconciler);
    if (!this.worker) return;
    const closed = this.worker.close().then(() => true);
    const timedOut = delay(graceMs, false, { ref: false });
    if (!(await Promise.race([closed, timedOut]))) {
      await Promise.all([...this.running].map((run) => run.abortAndRelease().catch(() => undefined)));
      await this.worker.close(true);
    }
  }
}

/** Redis key of a tenant's deferred messages (scored by their priority, so the tenant's earliest job comes back first). */
function deferredKey(tenantId: string): string {
  return `${INGESTION_QUEUE_NAME}:deferred:${tenantId}`;
}

/** Re-sent jobs keep tenant turns: each job's rank among its tenant's jobs in the (oldest-first) list. */
export function withTenantPositions(jobs: Array<{ id: string; tenantId: string; attempts: number }>): DispatchedJob[] {
  const seen = new Map<string, number>();
  return jobs.map((job) => {
    const position = (seen.get(job.tenantId) ?? 0) + 1;
    seen.set(job.tenantId, position);
    return { id: job.id, tenantId: job.tenantId, attempts: job.attempts, position };
  });
}
