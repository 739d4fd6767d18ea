import { NotFoundError } from '../../src/common/errors';

/** What the PortThread tests host on a worker thread. */
export class PortThreadTarget {
  private readonly started = Date.now();
  private inits = 0;

  constructor(private readonly options: { label: string; failInit?: boolean }) {}

  async init(): Promise<void> {
    if (this.options.failInit) throw new Error('cannot open the store');
    this.inits++;
  }

  async describe(): Promise<{ label: string; inits: number; started: number }> {
    return { label: this.options.label, inits: this.inits, started: this.started };
  }

  async echo<T>(value: T): Promise<T> {
    return value;
  }

  async sum(vector: Float32Array): Promise<number> {
    return vector.reduce((total, value) => total + value, 0);
  }

  async missing(id: string): Promise<never> {
    throw new NotFoundError('knowledge base', id);
  }

  async native(): Promise<never> {
    const error = new Error('SQLITE_BUSY: database is locked') as Error & { code: string };
    error.code = 'SQLITE_BUSY';
    throw error;
  }

  /** an object `levels` deep: the worker's larger stack serializes it, the main thread's cannot read it back */
  async deep(levels: number): Promise<unknown> {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  }

  hang(): Promise<never> {
    return new Promise(() => undefined);
  }

  async crash(): Promise<never> {
    // the thread ends as it would on a fatal error
    process.exit(3);
  }

  async returnsFunction(): Promise<() => void> {
    return () => undefined;
  }
}
