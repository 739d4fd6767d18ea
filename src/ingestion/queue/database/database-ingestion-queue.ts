import { IngestionQueue, type DispatchedJob } from '../ingestion-queue.port';

/** Database-only: workers in this process are woken, workers elsewhere find the row by polling. */
export class DatabaseIngestionQueue extends IngestionQueue {
  private readonly listeners: Array<() => void> = [];

  onDispatch(listener: () => void): void {
    this.listeners.push(listener);
  }

  async dispatch(jobs: DispatchedJob[]): Promise<void> {
    if (jobs.length > 0) for (const listener of this.listeners) listener();
  }
}
