import type { DocumentIngestionPipeline, RetriedJob } from './document-ingestion.pipeline';
import type { ClaimedJob, IngestionJobsRepository } from './ingestion-jobs.repository';

/**
 * Runs claimed jobs through the pipeline while a heartbeat extends their lease every third of
 * it. Ids whose lease is lost (the document was deleted or re-queued, or another worker took
 * over) are dropped from the run; `abort` stops it so shutdown can release the leases.
 */
export class LeasedRun {
  readonly lost = new Set<string>();
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly owner: string,
    readonly jobs: ClaimedJob[],
    private readonly repository: IngestionJobsRepository,
    leaseMs: number,
  ) {
    this.timer = setInterval(
      () => {
        const held = jobs.map((job) => job.id).filter((id) => !this.lost.has(id));
        repository
          .heartbeat(owner, held, leaseMs)
          .then((lost) => lost.forEach((id) => this.lost.add(id)))
          .catch(() => undefined);
      },
      Math.max(250, Math.floor(leaseMs / 3)),
    );
    this.timer.unref();
  }

  async execute(pipeline: DocumentIngestionPipeline): Promise<RetriedJob[]> {
    try {
      return await pipeline.run(this.owner, this.jobs, { lost: this.lost, signal: this.controller.signal });
    } finally {
      clearInterval(this.timer);
    }
  }

  /** Stops the run and gives its jobs back without counting the attempt. */
  async abortAndRelease(): Promise<void> {
    this.controller.abort(new Error('worker shutting down'));
    clearInterval(this.timer);
    await this.repository.release(
      this.owner,
      this.jobs.map((job) => job.id),
    );
  }
}
