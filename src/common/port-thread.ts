import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as errors from './errors';
import { ServiceUnavailableError } from './errors';

/** What a worker thread hosts: `new (require(modulePath)[exportName])(argument)`, then `init()` if it has one. */
export interface PortThreadTarget {
  /** absolute path of the module (`.js` when built, `.ts` under test: the caller's own extension) */
  modulePath: string;
  exportName: string;
  argument: unknown;
  /** the thread's name in diagnostics */
  name: string;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  properties: Record<string, unknown>;
}

type Reply = { id: number; result: unknown } | { id: number; error: SerializedError };

/** restarts within this window count towards the limit; beyond it the thread stays down and calls fail fast */
const RESTART_WINDOW_MS = 60_000;
const MAX_RESTARTS_PER_WINDOW = 5;

/**
 * An object living on its own worker thread, called by method name: arguments and results cross
 * by structured clone, an `AppError` thrown there is rethrown here as the same class (so the
 * problem+json filter maps it as before). Calls keep their order on the way in, and the object
 * runs them exactly as it would on the main thread (async methods interleave).
 *
 * Why: the embedded indexes' searches (BM25, vector graph and scan) are CPU work that held the
 * event loop for ~1.4 ms per hybrid request at 86k chunks, while the second core sat idle; on
 * their own thread they run beside the HTTP, Nest and telemetry work of other requests.
 *
 * A thread that dies (out of memory, a native crash) fails the calls in flight with 503 and is
 * started again on the next call; its state is rebuilt from its durable copy (SQLite), as after
 * a restart of the process.
 */
export class PortThread {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private closed = false;
  private restarts: number[] = [];

  constructor(private readonly target: PortThreadTarget) {}

  /** starts the thread (and the object's `init()`) now rather than on the first call */
  start(): Promise<void> {
    return this.ensureStarted();
  }

  async call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closed) throw new ServiceUnavailableError(`the ${this.target.name} thread is closed`);
    await this.ensureStarted();
    const worker = this.worker!;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        worker.postMessage({ id, method, args });
      } catch (error) {
        // an argument that cannot be cloned (a function, a socket) is the caller's bug: say which call
        this.pending.delete(id);
        reject(new Error(`${this.target.name}.${method}: ${(error as Error).message}`));
      }
    });
  }

  /** calls the object's `close()` (if any) on its thread, then stops the thread */
  async close(): Promise<void> {
    if (this.closed) return;
    const worker = this.worker;
    if (worker) {
      try {
        await this.call('close');
      } catch {
        // a thread that already died has nothing left to close
      }
    }
    this.closed = true;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  /** stops the thread as a crash would (calls in flight fail with 503, the next call starts a new one): for tests */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  /** the worker's thread id, for tests that stop it to prove the restart */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  private ensureStarted(): Promise<void> {
    if (this.ready && this.worker) return this.ready;
    const now = Date.now();
    this.restarts = this.restarts.filter((at) => now - at < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS_PER_WINDOW) {
      return Promise.reject(
        new ServiceUnavailableError(
          `the ${this.target.name} thread stopped ${MAX_RESTARTS_PER_WINDOW} times within a minute; not restarted`,
        ),
      );
    }
    this.restarts.push(now);
    const worker = startWorker(this.target);
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.once('message', (message: { started?: true; error?: SerializedError }) => {
        if (message.error) {
          reject(deserializeError(message.error));
          void worker.terminate();
          return;
        }
        resolve();
        worker.on('message', (reply: Reply) => this.settle(reply));
      });
      worker.once('error', (error) => reject(error));
    });
    // an unused rejection must not crash the process; callers see it through their own await
    this.ready.catch(() => undefined);
    // a reply this thread cannot deserialize (too deep for its stack) names no call: fail them all rather than leave one waiting forever
    worker.on('messageerror', (error) =>
      this.failPending(new Error(`a reply of the ${this.target.name} thread could not be read: ${error.message}`)),
    );
    worker.on('error', (error) => this.stopped(worker, error));
    worker.on('exit', (code) => this.stopped(worker, new Error(`exited with code ${code}`)));
    return this.ready;
  }

  private settle(reply: Reply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if ('error' in reply) waiting.reject(deserializeError(reply.error));
    else waiting.resolve(reply.result);
  }

  private stopped(worker: Worker, cause: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.ready = undefined;
    this.failPending(
      new ServiceUnavailableError(`the ${this.target.name} thread stopped (${cause.message}); it restarts on the next request`),
    );
  }

  private failPending(failure: Error): void {
    for (const { reject } of this.pending.values()) reject(failure);
    this.pending.clear();
  }
}

/** the methods of `T` that return a promise: what can run on a thread and be awaited here */
export type AsyncMethod<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T] & string;

/** What every threaded object offers besides its own methods. */
export interface ThreadControl {
  /** starts the thread, and with it the object's `init()`, now rather than on the first call */
  start(): Promise<void>;
  /** runs the object's `close()` (if any) on its thread, then stops the thread */
  close(): Promise<void>;
  /** the thread itself, for tests that stop it */
  readonly portThread: PortThread;
}

export interface ThreadProxySpec<T, M extends AsyncMethod<T>> {
  /** the methods called on the thread */
  methods: readonly M[];
  /** what crosses for a method's arguments, when not all of them can or should (an AbortSignal cannot be cloned) */
  prepare?: { [K in M]?: T[K] extends (...args: infer A) => unknown ? (...args: A) => unknown[] : never };
}

/**
 * `target`'s object on its own `PortThread`, seen here as an object with the same async methods:
 * one generic stand-in for any port adapter that should not run on the event loop.
 */
export function threadProxy<T extends object, M extends AsyncMethod<T>>(
  target: PortThreadTarget,
  spec: ThreadProxySpec<T, M>,
): Pick<T, M> & ThreadControl {
  const thread = new PortThread(target);
  const proxy: Record<string, unknown> = {
    start: () => thread.start(),
    close: () => thread.close(),
    portThread: thread,
  };
  for (const method of spec.methods) {
    const prepare = spec.prepare?.[method];
    proxy[method] = (...args: unknown[]) => thread.call(method, ...(prepare ? prepare(...args) : args));
  }
  return proxy as Pick<T, M> & ThreadControl;
}

function startWorker(target: PortThreadTarget): Worker {
  const entry = join(__dirname, `port-thread.worker${extname(__filename)}`);
  const start = (execArgv: string[]) =>
    extname(entry) === '.ts'
      ? // TypeScript sources (the tests): the thread compiles them with tsx, as the test runner does here
        new Worker(
          `require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(entry)});`,
          {
            eval: true,
            name: target.name,
            workerData: target,
            execArgv,
          },
        )
      : new Worker(entry, { name: target.name, workerData: target, execArgv });
  try {
    return start(threadExecArgv());
  } catch (error) {
    // a process-wide option on the command line (e.g. --max-old-space-size) is refused for a thread
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return start([]);
  }
}

/**
 * The thread's node options: the parent's, minus the `--require` of the telemetry bootstrap (the
 * main thread's SDK already reports for the process; the thread's work shows up in the main
 * thread's spans around each call).
 */
function threadExecArgv(): string[] {
  const argv: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i];
    if (arg === '--require' || arg === '-r') {
      i++;
      continue;
    }
    if (arg.startsWith('--require=')) continue;
    argv.push(arg);
  }
  return argv;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), properties: {} };
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    try {
      properties[key] = structuredClone(value);
    } catch {
      // a property that cannot cross threads is left behind; the message says what happened
    }
  }
  return { name: error.constructor?.name ?? error.name, message: error.message, stack: error.stack, properties };
}

/** the same class when it is one of the application's errors (so `instanceof AppError` holds), a plain Error otherwise */
export function deserializeError(serialized: SerializedError): Error {
  const known = (errors as Record<string, unknown>)[serialized.name];
  const prototype = typeof known === 'function' && known.prototype instanceof Error ? known.prototype : Error.prototype;
  const error = Object.create(prototype) as Error;
  Object.defineProperty(error, 'message', { value: serialized.message, writable: true, configurable: true });
  Object.defineProperty(error, 'stack', { value: serialized.stack, writable: true, configurable: true });
  Object.assign(error, serialized.properties);
  if (prototype === Error.prototype && serialized.name !== 'Error')
    Object.defineProperty(error, 'name', { value: serialized.name, writable: true, configurable: true });
  return error;
}
