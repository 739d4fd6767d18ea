import { Inject, Injectable, Logger } from '@nestjs/common';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { context, trace } from '@opentelemetry/api';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import type { ChunkEntity, DocumentEntity, KnowledgeBaseEntity } from '../../database';
import { nowIso } from '../../common/clock';
import { EmbeddingService } from '../../embeddings';
import { LexicalIndex } from '../../lexical-index';
import { AppMetrics } from '../../telemetry/app-metrics';
import { ATTR_DB_OPERATION_BATCH_SIZE, ATTR_DB_OPERATION_NAME } from '../../telemetry/semconv';
import { TRACER_NAME, withSpan } from '../../telemetry/spans';
import { VectorStore } from '../../vector-store';
import { chunkTextWithContext } from '../chunking';
import { chunkId } from '../chunk-ids';
import { IndexCleaner } from '../index-cleaner';
import { DocumentParseError, DocumentProcessor, ParserStoppedError, type DocumentType } from '../parsing';
import { IngestionJobsRepository, IngestionWorkRepository, type ClaimedJob, type JobOutcome } from './ingestion-jobs.repository';
import { jobLinks, jobParentContext } from './trace-link';

/** What a worker tells the pipeline about the jobs it holds. */
export interface JobLeaseState {
  /** ids whose lease was lost (cancelled, superseded, taken over): their work is dropped */
  lost: Set<string>;
  signal: AbortSignal;
}

export interface RetriedJob {
  id: string;
  tenantId: string;
  attempts: number;
  delayMs: number;
}

interface Prepared {
  job: ClaimedJob;
  document: DocumentEntity;
  kb: KnowledgeBaseEntity;
  chunks: ChunkEntity[];
  title?: string;
}

const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** A job's `last_error` starts with this when its attempt stopped a parser thread (or the process, while parsing). */
const PARSER_STOPPED = 'parser_stopped: ';
/** A document still parsing after this long is marked on its job, so a process that dies now leaves a trace of why. */
const PARSE_MARK_AFTER_MS = 250;
/** Past this much time spent parsing a claim's documents, the rest of the claim is given back. */
const PREPARE_BUDGET_MS = 10_000;

type PrepareResult = Prepared | { failed: string } | { retry: string };

/**
 * Indexes the documents of a batch of claimed jobs: parse → chunk (per document) → embed →
 * index (batched over the whole claim) → one transaction writing chunks and outcomes. Chunk ids
 * are deterministic and every store upserts by id, so running a job twice never duplicates.
 * Parsing and chunking run on the DocumentProcessor's threads, never on this event loop. What
 * another attempt cannot change fails the document at once with its reason: a parse error, a
 * limit that was hit, a stack overflow. An attempt that stopped a parser thread (time limit,
 * memory cap, crash), or during which the process died while parsing, is tried once more; the
 * second time the document fails (quarantine), so a poison document cannot loop. Other errors
 * (database, embedder, index) are retried with exponential backoff until INGESTION_MAX_ATTEMPTS,
 * then the document fails with the last error.
 */
/** records handed to the vector store or the lexical index at once (each hand-off is cloned on the event loop) */
const INDEX_SLICE = 256;

@Injectable()
export class DocumentIngestionPipeline {
  private readonly logger = new Logger('ingestion');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: IngestionJobsRepository,
    private readonly work: IngestionWorkRepository,
    private readonly embeddings: EmbeddingService,
    private readonly vectors: VectorStore,
    private readonly lexical: LexicalIndex,
    private readonly cleaner: IndexCleaner,
    private readonly processor: DocumentProcessor,
    private readonly metrics: AppMetrics,
  ) {}

  /** Returns the jobs queued again for a later attempt. */
  async run(owner: string, claimed: ClaimedJob[], lease: JobLeaseState): Promise<RetriedJob[]> {
    if (claimed.length === 0) return [];
    const retried: RetriedJob[] = [];
    await withSpan('ingestion.batch', { 'ingestion.batch.size': claimed.length }, async (span) => {
      for (const link of jobLinks(claimed.map((job) => job.traceContext))) span.addLink(link);
      const loaded = await this.work.load(claimed);
      const outcomes: JobOutcome[] = [];
      const live: Array<{ job: ClaimedJob; document: DocumentEntity; kb: KnowledgeBaseEntity }> = [];
      const gone: ClaimedJob[] = [];
      for (const job of claimed) {
        const { document, kb, hasContent } = loaded.get(job.id) ?? {};
        const quarantine = quarantineReason(job);
        if (!document || !kb) gone.push(job);
        else if (quarantine) outcomes.push({ kind: 'failed', job, error: quarantine });
        else if (job.attempts > job.maxAttempts) outcomes.push({ kind: 'failed', job, error: gaveUp(job) });
        else if (!hasContent) outcomes.push({ kind: 'failed', job, error: 'the stored content of the document is missing' });
        else live.push({ job, document, kb });
      }
      await this.jobs.dropLease(
        owner,
        gone.map((job) => job.id),
      );

      await this.work.progress(
        live.map((l) => l.job),
        'prepare',
        0.1,
      );
      const prepared: Prepared[] = [];
      const preparing = Date.now();
      for (const [index, item] of live.entries()) {
        if (lease.lost.has(item.job.id)) continue;
        if (Date.now() - preparing > PREPARE_BUDGET_MS) {
          // slow parses (another tenant's, perhaps) must not hold the rest of the claim: give it back
          // for the next claim (the attempt is not counted) and index what is ready
          await this.jobs.release(
            owner,
            live.slice(index).map((rest) => rest.job.id),
          );
          for (const rest of live.slice(index)) lease.lost.add(rest.job.id);
          break;
        }
        const content = await this.work.content(item.document.id);
        if (!content) {
          outcomes.push({ kind: 'failed', job: item.job, error: 'the stored content of the document is missing' });
          continue;
        }
        if (item.job.interruptedAt === 'parse') {
          // the process died while parsing this document: the next death quarantines it
          item.job.lastError = `${PARSER_STOPPED}the service stopped while parsing it`;
          await this.jobs.markStage(owner, item.job.id, 'prepare', item.job.lastError);
        }
        const result = await this.prepare(owner, item.job, item.document, item.kb, content, lease.signal);
        if ('failed' in result) outcomes.push({ kind: 'failed', job: item.job, error: result.failed });
        else if ('retry' in result) retried.push(...(await this.retryOrFail(owner, [item.job], result.retry, outcomes)));
        else prepared.push(result);
      }

      const indexing = () => prepared.filter((p) => !lease.lost.has(p.job.id));
      try {
        await this.work.progress(
          indexing().map((p) => p.job),
          'embed',
          0.4,
        );
        const embedded = await this.embed(indexing(), lease.signal);
        await this.work.progress(
          indexing().map((p) => p.job),
          'index',
          0.8,
        );
        await this.index(indexing(), embedded);
        for (const p of indexing()) outcomes.push({ kind: 'indexed', job: p.job, chunks: p.chunks, title: p.title });
      } catch (error) {
        retried.push(
          ...(await this.retryOrFail(
            owner,
            indexing().map((p) => p.job),
            describe(error),
            outcomes,
          )),
        );
      }

      const { written } = await this.work.finish(owner, outcomes);
      for (const outcome of written) {
        const kb = loaded.get(outcome.job.id)?.kb;
        this.metrics.recordIngestion(outcome.kind, kb?.chunker.type ?? 'unknown');
        if (outcome.kind === 'failed')
          this.logger.warn({
            message: 'document failed',
            tenant_id: outcome.job.tenantId,
            document_id: outcome.job.documentId,
            error: outcome.error,
          });
      }
      // a document deleted while it was indexed: remove what this run may have written after the delete
      // (every claimed job: one whose lease was lost mid-index is neither skipped nor gone)
      await this.cleaner.removeDocuments(await this.documentsGone(claimed));
      span.setAttribute('ingestion.indexed', written.filter((o) => o.kind === 'indexed').length);
    });
    return retried;
  }

  private async prepare(
    owner: string,
    job: ClaimedJob,
    document: DocumentEntity,
    kb: KnowledgeBaseEntity,
    content: Buffer,
    signal: AbortSignal,
  ): Promise<PrepareResult> {
    return context.with(jobParentContext(job.traceContext), () =>
      withSpan(
        'ingestion.document',
        { 'tenant.id': job.tenantId, 'kb.id': job.kbId, 'document.id': job.documentId, 'ingestion.attempt': job.attempts },
        async () => {
          const started = Date.now();
          let marked: Promise<void> | undefined;
          const mark = setTimeout(() => {
            marked = this.jobs.markStage(owner, job.id, 'parse').catch(() => undefined);
          }, PARSE_MARK_AFTER_MS);
          let processed;
          try {
            processed = await withSpan(
              'ingestion.parse',
              { 'document.type': document.contentType, 'document.size_bytes': content.length },
              async (span) => {
                const result = await this.processor.process(content, document.contentType as DocumentType, kb.chunker, signal);
                span.setAttribute('ingestion.chunks', result.chunks.length);
                return result;
              },
            );
          } catch (error) {
            if (error instanceof DocumentParseError) return { failed: describe(error) };
            if (error instanceof ParserStoppedError) {
              // stopped with others for the memory they used together: not counted against this document
              if (!error.attributable) return { retry: error.message };
              // a second stop of this document: it is the document, not bad luck
              if (job.lastError?.startsWith(PARSER_STOPPED))
                return { failed: `${PARSER_STOPPED}stopped a parser twice, quarantined: ${error.message}` };
              return { retry: `${PARSER_STOPPED}${error.message}` };
            }
            throw error;
          } finally {
            clearTimeout(mark);
            if (marked) await marked.then(() => this.jobs.markStage(owner, job.id, 'prepare')).catch(() => undefined);
          }
          recordChunkSpan(started + processed.parseMs, processed.chunkMs, kb, processed.chunks.length);
          const createdAt = nowIso();
          return {
            job,
            document,
            kb,
            title: document.title ? undefined : processed.title,
            chunks: processed.chunks.map((chunk) => ({
              id: chunkId(document.id, job.generation, chunk.position),
              tenantId: job.tenantId,
              kbId: job.kbId,
              documentId: document.id,
              position: chunk.position,
              text: chunk.text,
              tokenCount: chunk.token_count,
              startOffset: chunk.start_offset,
              endOffset: chunk.end_offset,
              headingPath: chunk.heading_path,
              status: 'indexed' as const,
              createdAt,
            })),
          };
        },
      ),
    );
  }

  private async embed(prepared: Prepared[], signal: AbortSignal): Promise<Map<string, Float32Array>> {
    const vectors = new Map<string, Float32Array>();
    for (const [model, group] of groupBy(prepared, (p) => p.kb.embeddingModel)) {
      const chunks = group.flatMap((p) => p.chunks);
      const embedded = await this.embeddings.embed(
        model,
        chunks.map((chunk) => chunkTextWithContext({ text: chunk.text, heading_path: chunk.headingPath })),
        signal,
      );
      chunks.forEach((chunk, i) => vectors.set(chunk.id, embedded[i]));
    }
    return vectors;
  }

  private async index(prepared: Prepared[], vectors: Map<string, Float32Array>): Promise<void> {
    // a new generation replaces what earlier ones wrote (the first generation has nothing to replace)
    await this.cleaner.removeDocuments(
      prepared.filter((p) => p.job.generation > 0).map((p) => ({ tenantId: p.job.tenantId, documentId: p.document.id })),
    );
    for (const [model, group] of groupBy(prepared, (p) => p.kb.embeddingModel)) {
      const collection = await this.cleaner.collectionFor(model);
      const records = group.flatMap((p) =>
        p.chunks.map((chunk) => ({
          id: chunk.id,
          tenantId: chunk.tenantId,
          kbId: chunk.kbId,
          documentId: chunk.documentId,
          vector: vectors.get(chunk.id)!,
          metadata: p.document.metadata,
        })),
      );
      // in slices: handing thousands of vectors to the store's thread is cloned on the event loop
      for (let start = 0; start < records.length; start += INDEX_SLICE) {
        if (start > 0) await nextTurn();
        await this.vectors.upsert(collection, records.slice(start, start + INDEX_SLICE));
      }
    }
    const entries = prepared.flatMap((p) =>
      p.chunks.map((chunk) => ({
        id: chunk.id,
        tenantId: chunk.tenantId,
        kbId: chunk.kbId,
        documentId: chunk.documentId,
        text: chunkTextWithContext({ text: chunk.text, heading_path: chunk.headingPath }),
        metadata: p.document.metadata,
      })),
    );
    await withSpan(
      'ingestion.lexical_upsert',
      { [ATTR_DB_OPERATION_NAME]: 'upsert', [ATTR_DB_OPERATION_BATCH_SIZE]: prepared.length },
      async () => {
        for (let start = 0; start < entries.length; start += INDEX_SLICE) {
          if (start > 0) await nextTurn();
          await this.lexical.upsert(entries.slice(start, start + INDEX_SLICE));
        }
      },
    );
  }

  private async retryOrFail(owner: string, jobs: ClaimedJob[], message: string, outcomes: JobOutcome[]): Promise<RetriedJob[]> {
    const retried: RetriedJob[] = [];
    if (jobs.length === 0) return retried;
    this.logger.warn({ message: 'ingestion attempt failed', error: message, documents: jobs.length });
    for (const job of jobs) {
      if (job.attempts >= job.maxAttempts) {
        outcomes.push({ kind: 'failed', job, error: `gave up after ${job.attempts} attempts: ${message}` });
      } else {
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (job.attempts - 1)) * (0.75 + Math.random() / 2);
        if (await this.jobs.retryLater(owner, job.id, message, Math.round(delay)))
          retried.push({ id: job.id, tenantId: job.tenantId, attempts: job.attempts, delayMs: Math.round(delay) });
      }
    }
    return retried;
  }

  private async documentsGone(jobs: ClaimedJob[]): Promise<Array<{ tenantId: string; documentId: string }>> {
    if (jobs.length === 0) return [];
    const present = await this.work.existingDocumentIds(jobs.map((job) => job.documentId));
    return jobs.filter((job) => !present.has(job.documentId)).map((job) => ({ tenantId: job.tenantId, documentId: job.documentId }));
  }
}

/**
 * Why a job must fail before it runs again: its previous attempt stopped a parser thread, and then
 * the process died while it was parsing it (or the other way round: the mark is set before this
 * attempt parses).
 */
function quarantineReason(job: ClaimedJob): string | undefined {
  if (job.interruptedAt === 'parse' && job.lastError?.startsWith(PARSER_STOPPED)) {
    return `${PARSER_STOPPED}stopped a parser twice, quarantined: the service stopped while parsing it (${job.lastError.slice(PARSER_STOPPED.length)})`;
  }
  return undefined;
}

/** The failure of a job out of attempts, naming what stopped it when that is known. */
function gaveUp(job: ClaimedJob): string {
  const where = job.interruptedAt
    ? ` (the service stopped while it was at the ${job.interruptedAt} stage)`
    : ' (the service stopped while indexing it)';
  return `gave up after ${job.maxAttempts} attempts${job.lastError ? `: ${job.lastError}` : ''}${where}`;
}

/** The chunking step as a span of its own: it ran on the parser thread, right after the parse. */
function recordChunkSpan(startMs: number, durationMs: number, kb: KnowledgeBaseEntity, chunks: number): void {
  const span = trace.getTracer(TRACER_NAME).startSpan('ingestion.chunk', {
    startTime: startMs,
    attributes: { 'chunker.type': kb.chunker.type, 'chunker.size': kb.chunker.chunk_size, 'ingestion.chunks': chunks },
  });
  span.end(startMs + durationMs);
}

function describe(error: unknown): string {
  const e = error as { reason?: string; message?: string };
  const message = (e?.message ?? String(error)).slice(0, 1000);
  return e?.reason ? `${e.reason}: ${message}` : message;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
