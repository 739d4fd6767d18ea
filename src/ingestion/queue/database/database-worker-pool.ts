import { setTimeout as delay } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { DocumentIngestionPipeline } from '../../jobs/document-ingestion.pipeline';
import type { DispatchedJob } from '../ingestion-queue.port';
import type { ClaimOptions, IngestionJobsRepository } from '../../jobs/ingestion-jobs.repository';
import { LeasedRun } from '../../jobs/leased-run';
import { workerOwnerId } from '../../jobs/worker-identity';

/** Jobs claimed at once by one worker: their chunks are embedded and upserted together. */
export const CLAIM_BATCH = 32;
const IDLE_POLL_MS = 500;
/**
 * A dispatch skipped because its tenant was at its limit is looked at again this much later: a
 * lease can end without a run of this process ending (another replica, an expired lease, a purge).
 */
const AT_LIMIT_RECHECK_MS = 100;
/** after a partial batch, let uploads accumulate a little so the next claim embeds and writes more at once */
const GATHER_MS = 50;

/**
 * The database-backed worker pool (no Redis): `concurrency` loops each claim a batch of due jobs
 * (or jobs whose lease expired) in tenant turns and within each tenant's limit, run them under a
 * heartbeat, and sleep when none are due until a new job is dispatched or a run of this process
 * ends (a tenant may have a free slot again), or the poll interval passes.
 *
 * A dispatch wakes idle loops at once only when it could be claimed: while one tenant's backlog
 * holds all its slots, its next thousand uploads would otherwise each cost a claim that finds
 * nothing, on the event loop that serves HTTP. Such dispatches share one wake a little later.
 */
export class DatabaseWorkerPool {
  private readonly logger = new Logger('ingestion-workers');
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private readonly running = new Set<LeasedRun>();
  /** idle loops waiting for work; aborted to wake them */
  private readonly sleepers = new Set<AbortController>();
  /** counts wakes: a loop whose claim overlapped one claims again instead of sleeping through it */
  private wakes = 0;
  /** tenants at their live-lease limit when a claim last found nothing (their dispatches cannot be claimed yet) */
  private atLimit = new Set<string>();
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: IngestionJobsRepository,
    private readonly pipeline: DocumentIngestionPipeline,
    private readonly options: ClaimOptions & { concurrency: number; idlePollMs?: number; atLimitRecheckMs?: number },
  ) {}

  start(): void {
    for (let slot = 0; slot < this.options.concurrency; slot++) this.loops.push(this.loop(workerOwnerId(slot)));
  }

  wake(): void {
    this.wakes++;
    clearTimeout(this.recheck);
    this.recheck = undefined;
    for (const sleeper of [...this.sleepers]) sleeper.abort();
  }

  /** New jobs were queued: wakes idle loops unless every job's tenant is at its limit (a run's end wakes them for those). */
  wakeFor(jobs: readonly DispatchedJob[]): void {
    if (jobs.some((job) => !this.atLimit.has(job.tenantId))) this.wake();
    else if (jobs.length > 0 && !this.recheck && !this.stopping) {
      this.recheck = setTimeout(() => this.wake(), this.options.atLimitRecheckMs ?? AT_LIMIT_RECHECK_MS);
      this.recheck.unref();
    }
  }

  private async loop(owner: string): Promise<void> {
    while (!this.stopping) {
      let claimed = 0;
      const wakesBefore = this.wakes;
      try {
        const jobs = await this.repository.claim(owner, CLAIM_BATCH, this.options);
        claimed = jobs.length;
        if (jobs.length === 0) this.atLimit = await this.repository.tenantsAtLimit(this.options.maxPerTenant);
        else this.atLimit = new Set();
        if (jobs.length > 0) {
          // a full batch may have left more due jobs (on Postgres without a limit, another loop's claim may have skipped them as locked)
          if (jobs.length >= CLAIM_BATCH) this.wake();
          const run = new LeasedRun(owner, jobs, this.repository, this.options.leaseMs);
          this.running.add(run);
          try {
            await run.execute(this.pipeline);
          } finally {
            this.running.delete(run);
            this.wake();
          }
        }
      } catch (error) {
        if (this.stopping) break;
        this.logger.error({
          message: 'ingestion worker error; jobs will be retried when their lease expires',
          exception: (error as Error)?.stack,
        });
      }
      if (claimed === 0 && !this.stopping && this.wakes === wakesBefore) await this.sleep(this.options.idlePollMs ?? IDLE_POLL_MS);
      else if (claimed < CLAIM_BATCH && !this.stopping) await delay(GATHER_MS);
    }
  }

  private async sleep(ms: number): Promise<void> {
    const sleeper = new AbortController();
    this.sleepers.add(sleeper);
    try {
      await delay(ms, undefined, { signal: sleeper.signal });
    } catch {
      // woken before the time was up
    } finally {
      this.sleepers.delete(sleeper);
    }
  }

  /** Stops claiming; in-flight runs finish within `graceMs` or give their jobs back. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    const finished = Promise.all(this.loops).then(() => true);
    const timedOut = delay(graceMs, false, { ref: false });
    if (!(await Promise.race([finished, timedOut]))) {
      await Promise.all([...this.running].map((run) => run.abortAndRelease().catch(() => undefined)));
    }
  }
}
