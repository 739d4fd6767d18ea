/** A job to hand to workers: its database row is the truth, this only says "look at it". */
export interface DispatchedJob {
  id: string;
  /** whose job it is: idle workers held back only by this tenant's limit need not wake for it */
  tenantId: string;
  attempts: number;
  delayMs?: number;
  /** its place in its tenant's queue (1 = the tenant's next job): BullMQ serves tenants in turns by it */
  position?: number;
}

/**
 * How queued jobs reach workers: by the database alone (workers poll and claim with leases), or
 * through BullMQ when REDIS_URL is set. Either way the job row holds status and lease.
 */
export abstract class IngestionQueue {
  abstract dispatch(jobs: DispatchedJob[]): Promise<void>;
}
