import { IngestionQueue, type DispatchedJob } from '../ingestion-queue.port';

/** Database-only: workers in this process are woken, workers elsewhere find the row by polling. */
export class DatabaseIngestionQueue extends IngestionQueue {
  private readonly listeners: Array<(jobs: readonly DispatchedJob[]) => void> = [];

  onDispatch(listener: (jobs: readonly DispatchedJob[]) => void): void {
    this.listeners.push(listener);
  }

  async dispatch(jobs: DispatchedJob[]): Promise<void> {
    if (jobs.length > 0) for (const listener of this.listeners) listener(jobs);
  }
}
