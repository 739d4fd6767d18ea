import { createRequire } from 'node:module';
import * as os from 'node:os';
import { extname, join } from 'node:path';
import { Piscina } from 'piscina';
import type { Chunk, ChunkerSettings } from '../chunking';
import type { DocumentType } from './document-type';
import type { DocumentTask, DocumentTaskResult } from './document-processing.task';
import { DocumentParseError, type DocumentParseFailure } from './parse-errors';
import type { ParseLimits } from '../../config/parse-limits';

export interface DocumentProcessorOptions {
  /** parser threads at most (they start on demand and stop when idle) */
  threads: number;
  /** wall-clock limit of one document's parse and chunking; the thread is terminated past it */
  timeoutMs: number;
  /** V8 heap of one parser thread (old generation, MB); the thread is terminated past it */
  maxHeapMb: number;
  limits: ParseLimits;
  /** how long an idle thread is kept for the next document (ms) */
  idleTimeoutMs?: number;
  /** resident memory a parse may add beyond 1.5 × its heap cap (buffers, the thread itself); default 256 MB */
  memorySlackMb?: number;
}

/** Why a parser thread was stopped before it answered. */
export type ParserStop = 'timeout' | 'memory' | 'crash';

/**
 * The parser thread processing a document was stopped: it ran past the time limit or the memory
 * cap, or it died. The document may be at fault or the machine may have been busy: the pipeline
 * tries once more, and fails the document when it stops a thread a second time.
 */
export class ParserStoppedError extends Error {
  constructor(
    readonly stop: ParserStop,
    message: string,
    /** false when it was stopped together with other parses for what they used together */
    readonly attributable = true,
  ) {
    super(message);
    this.name = 'ParserStoppedError';
  }
}

export interface ProcessedDocument {
  title?: string;
  chunks: Chunk[];
  parseMs: number;
  chunkMs: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** how often the process's resident memory is read while documents are parsed */
const MEMORY_WATCH_MS = 100;
const DEFAULT_MEMORY_SLACK_MB = 256;

/** The reason a task is aborted with when the process's memory outgrew the parses' budget. */
class MemoryBudgetExceeded extends Error {
  constructor(
    message: string,
    /** the only parse running then: its own doing */
    readonly attributable: boolean,
  ) {
    super(message);
  }
}
/** share of the container's memory limit (cgroup) past which running parses are stopped */
const CONSTRAINED_MEMORY_SHARE = 0.85;

interface RunningTask {
  controller: AbortController;
  startRssBytes: number;
}

/**
 * Parses and chunks untrusted documents on a bounded pool of worker threads (piscina), never on
 * the event loop that serves HTTP. Each task has a hard heap cap (the thread's `resourceLimits`)
 * and a wall-clock limit that terminates its thread (an aborted piscina task stops the thread),
 * so a document that inflates, nests or loops costs at most one thread's budget; a stopped
 * thread takes its heap with it. Buffers (ArrayBuffers: a pdf's inflated streams) live outside the
 * V8 heap and its cap, so while tasks run the process's resident memory is watched too: past
 * PARSE_MAX_HEAP_MB × 1.5 + 256 MB of growth per running task, the running tasks are stopped. Threads start on demand and stop after idling, so a process at
 * rest holds none.
 *
 * Throws DocumentParseError (the document's fault: permanent) or ParserStoppedError.
 */
export class DocumentProcessor {
  private pool: Piscina | undefined;
  private closed = false;
  private readonly running = new Set<RunningTask>();
  private watch: NodeJS.Timeout | undefined;

  constructor(private readonly options: DocumentProcessorOptions) {}

  /** `cancel` (e.g. the worker shutting down) stops the thread too; the promise then rejects with its reason. */
  async process(bytes: Buffer, type: DocumentType, chunker: Partial<ChunkerSettings>, cancel?: AbortSignal): Promise<ProcessedDocument> {
    if (this.closed) throw new ParserStoppedError('crash', 'the parser pool is closed (shutting down)');
    cancel?.throwIfAborted();
    // a copy whose memory moves to the thread instead of being cloned again
    const copy = new Uint8Array(bytes);
    const task: DocumentTask = { bytes: copy, type, chunker, limits: this.options.limits };
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const running: RunningTask = { controller: new AbortController(), startRssBytes: process.memoryUsage.rss() };
    const signals = [timeout, running.controller.signal, ...(cancel ? [cancel] : [])];
    this.running.add(running);
    this.watchMemory();
    let result: DocumentTaskResult;
    try {
      result = (await this.pooled().run(task, { signal: AbortSignal.any(signals), transferList: [copy.buffer] })) as DocumentTaskResult;
    } catch (error) {
      cancel?.throwIfAborted();
      const reason: unknown = running.controller.signal.reason;
      if (reason instanceof MemoryBudgetExceeded) throw new ParserStoppedError('memory', reason.message, reason.attributable);
      throw this.stopped(error, timeout);
    } finally {
      this.running.delete(running);
    }
    if (!result.ok && result.reason === 'memory') throw new ParserStoppedError('memory', result.message);
    if (!result.ok) throw new DocumentParseError(result.reason as DocumentParseFailure, result.message);
    return { ...(result.title ? { title: result.title } : {}), chunks: result.chunks, parseMs: result.parseMs, chunkMs: result.chunkMs };
  }

  /** threads running now (for tests and diagnostics) */
  get threads(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** Nest calls it after the ingestion workers stopped */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watch);
    this.watch = undefined;
    await this.pool?.destroy();
    this.pool = undefined;
  }

  /** While tasks run: stops them all when the process grew past their combined budget. */
  private watchMemory(): void {
    if (this.watch) return;
    this.watch = setInterval(() => {
      if (this.running.size === 0) {
        clearInterval(this.watch);
        this.watch = undefined;
        return;
      }
      const tasks = [...this.running];
      const baseline = Math.min(...tasks.map((task) => task.startRssBytes));
      const slackMb = this.options.memorySlackMb ?? DEFAULT_MEMORY_SLACK_MB;
      const budgetMb = (this.options.maxHeapMb * 1.5 + slackMb) * tasks.length;
      const rss = process.memoryUsage.rss();
      const grownMb = (rss - baseline) / (1024 * 1024);
      const limit = containerMemoryLimit();
      const overLimit = limit !== undefined && rss > limit * CONSTRAINED_MEMORY_SHARE;
      if (grownMb <= budgetMb && !overLimit) return;
      const message = overLimit
        ? `parsing brought the process to ${Math.round(rss / 2 ** 20)} MB, past ${CONSTRAINED_MEMORY_SHARE * 100} % of its memory limit (${Math.round(limit / 2 ** 20)} MB); the parser thread was stopped`
        : `parsing grew the process by ${Math.round(grownMb)} MB, more than the budget of PARSE_MAX_HEAP_MB (${this.options.maxHeapMb} MB) × 1.5 + ${slackMb} MB per parse (buffers outside the heap, e.g. inflated pdf streams); the parser thread was stopped`;
      // which thread grew cannot be told apart: stop them all, counting it against a document only when it ran alone
      const reason = new MemoryBudgetExceeded(message, tasks.length === 1);
      for (const task of tasks) task.controller.abort(reason);
    }, MEMORY_WATCH_MS);
    this.watch.unref();
  }

  private pooled(): Piscina {
    if (this.pool) return this.pool;
    const filename = join(__dirname, `document-processing.task${extname(__filename)}`);
    this.pool = new Piscina({
      filename,
      minThreads: 0,
      maxThreads: this.options.threads,
      idleTimeout: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      // threads run only the parsers: not the process's --require (telemetry) nor its other options
      execArgv: extname(filename) === '.ts' ? ['--require', createRequire(__filename).resolve('tsx/cjs')] : [],
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      recordTiming: false,
    });
    // a thread that dies is replaced by piscina; its task's promise carries the error
    this.pool.on('error', () => undefined);
    return this.pool;
  }

  private stopped(error: unknown, signal: AbortSignal): ParserStoppedError {
    const code = (error as { code?: string })?.code;
    const message = error instanceof Error ? error.message : String(error);
    if (signal.aborted)
      return new ParserStoppedError(
        'timeout',
        `parsing took longer than PARSE_TIMEOUT_MS (${this.options.timeoutMs} ms); the parser thread was stopped`,
      );
    if (code === 'ERR_WORKER_OUT_OF_MEMORY' || /out of memory|heap limit/i.test(message)) {
      return new ParserStoppedError(
        'memory',
        `parsing needed more than PARSE_MAX_HEAP_MB (${this.options.maxHeapMb} MB) of memory; the parser thread was stopped`,
      );
    }
    return new ParserStoppedError('crash', `the parser thread stopped: ${message.slice(0, 300)}`);
  }
}

/** The container's memory limit (cgroup), when there is one below the machine's memory. */
function containerMemoryLimit(): number | undefined {
  const limit = process.constrainedMemory();
  return limit > 0 && limit < os.totalmem() ? limit : undefined;
}
