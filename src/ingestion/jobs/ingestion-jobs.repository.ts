import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { nowIso } from '../../common/clock';
import { ChunkEntity, DocumentContentEntity, DocumentEntity, IngestionJobEntity, KnowledgeBaseEntity } from '../../database/entities';
import { batches, INSERT_BATCH } from '../documents.repository';

/** The columns a worker needs, as the claim query returns them. */
const CLAIM_COLUMNS = 'id, tenant_id, kb_id, document_id, generation, attempts, max_attempts, trace_context';

export interface ClaimedJob {
  id: string;
  tenantId: string;
  kbId: string;
  documentId: string;
  generation: number;
  /** including this one */
  attempts: number;
  maxAttempts: number;
  traceContext: Record<string, string> | null;
}

/**
 * Durable ingestion jobs with leases. A job is claimable when it is queued and due, or when it is
 * running but its lease expired (its worker died): the claim is one atomic UPDATE, so two
 * workers never own a job at once. A job never starts while another job of the same document
 * still holds a live lease (a re-index waits for the run it superseded to stop).
 */
@Injectable()
export class IngestionJobsRepository {
  private readonly postgres: boolean;

  constructor(private readonly dataSource: DataSource) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  async claim(owner: string, limit: number, leaseMs: number, onlyId?: string): Promise<ClaimedJob[]> {
    const now = nowIso();
    const p = this.postgres ? (i: number) => `$${i}` : () => '?';
    // SQLite binds `?` in text order: keep the parameters in the order they appear
    const params: unknown[] = [owner, nowIso(leaseMs), now, now, now, now];
    const idFilter = onlyId ? ` AND j.id = ${p(7)}` : '';
    if (onlyId) params.push(onlyId);
    // `status IN (…)` keeps the scan on the (status, run_after) index: finished jobs are never read
    const candidates = `SELECT j.id FROM ingestion_jobs j
      WHERE j.status IN ('queued', 'running')
        AND ((j.status = 'queued' AND j.run_after <= ${p(4)}) OR (j.status = 'running' AND j.lease_expires_at < ${p(5)}))
        AND NOT EXISTS (SELECT 1 FROM ingestion_jobs o WHERE o.document_id = j.document_id AND o.id <> j.id AND o.lease_expires_at > ${p(6)})${idFilter}
      ORDER BY j.run_after, j.id LIMIT ${Math.max(1, Math.floor(limit))}${this.postgres ? ' FOR UPDATE SKIP LOCKED' : ''}`;
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `UPDATE ingestion_jobs SET status = 'running', lease_owner = ${p(1)}, lease_expires_at = ${p(2)}, attempts = attempts + 1, updated_at = ${p(3)}
       WHERE id IN (${candidates}) RETURNING ${CLAIM_COLUMNS}`,
      params,
    );
    // the pg driver answers an UPDATE … RETURNING with [rows, count]
    const list = this.postgres && Array.isArray(rows[0]) ? (rows[0] as unknown as Array<Record<string, unknown>>) : rows;
    return list.map((row) => ({
      id: String(row.id),
      tenantId: String(row.tenant_id),
      kbId: String(row.kb_id),
      documentId: String(row.document_id),
      generation: Number(row.generation),
      attempts: Number(row.attempts),
      maxAttempts: Number(row.max_attempts),
      traceContext: parseJson(row.trace_context),
    }));
  }

  /** Extends the leases this owner still holds; returns the ids it no longer holds (cancelled, taken over). */
  async heartbeat(owner: string, ids: string[], leaseMs: number): Promise<string[]> {
    if (ids.length === 0) return [];
    await this.dataSource
      .getRepository(IngestionJobEntity)
      .update({ id: In(ids), leaseOwner: owner, status: 'running' }, { leaseExpiresAt: nowIso(leaseMs) });
    const held = await this.dataSource
      .getRepository(IngestionJobEntity)
      .find({ select: { id: true }, where: { id: In(ids), leaseOwner: owner, status: 'running' } });
    const heldIds = new Set(held.map((job) => job.id));
    return ids.filter((id) => !heldIds.has(id));
  }

  /** Gives jobs back without counting the attempt (graceful shutdown). */
  async release(owner: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource
      .createQueryBuilder()
      .update(IngestionJobEntity)
      .set({ status: 'queued', leaseOwner: null, leaseExpiresAt: null, attempts: () => 'attempts - 1', updatedAt: nowIso() })
      .where('id IN (:...ids) AND lease_owner = :owner AND status = :running', { ids, owner, running: 'running' })
      .execute();
  }

  /** Drops the lease of a job that was cancelled while it ran, so the document's next job may start. */
  async dropLease(owner: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.getRepository(IngestionJobEntity).update({ id: In(ids), leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
  }

  /** Queues the job again after `delayMs`, keeping the error; returns false when it was no longer ours. */
  async retryLater(owner: string, id: string, error: string, delayMs: number): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(IngestionJobEntity)
      .update(
        { id, leaseOwner: owner, status: 'running' },
        { status: 'queued', leaseOwner: null, leaseExpiresAt: null, runAfter: nowIso(delayMs), lastError: error, updatedAt: nowIso() },
      );
    return (result.affected ?? 0) > 0;
  }

  /** Jobs due or orphaned (lease expired) for longer than `graceMs`: the BullMQ reconciler re-sends them. */
  async findStranded(graceMs: number, limit: number): Promise<Array<{ id: string; attempts: number }>> {
    const cutoff = nowIso(-graceMs);
    return this.dataSource
      .getRepository(IngestionJobEntity)
      .createQueryBuilder('j')
      .select(['j.id', 'j.attempts'])
      .where("(j.status = 'queued' AND j.run_after <= :cutoff) OR (j.status = 'running' AND j.lease_expires_at < :cutoff)", { cutoff })
      .orderBy('j.run_after', 'ASC')
      .take(limit)
      .getMany();
  }
}

/** What a claimed job works on; undefined parts mean the document or KB is gone. */
export interface JobWork {
  document?: DocumentEntity;
  content?: Buffer;
  kb?: KnowledgeBaseEntity;
}

/** A document's outcome, written with its job in the batch's one transaction. */
export type JobOutcome =
  | { kind: 'indexed'; job: ClaimedJob; chunks: ChunkEntity[]; title?: string }
  | { kind: 'failed'; job: ClaimedJob; error: string };

/** Reads and writes of the ingestion pipeline itself, batched across the jobs of one claim. */
@Injectable()
export class IngestionWorkRepository {
  constructor(private readonly dataSource: DataSource) {}

  async load(jobs: ClaimedJob[]): Promise<Map<string, JobWork>> {
    const ids = jobs.map((job) => job.documentId);
    const documents = await this.dataSource.getRepository(DocumentEntity).findBy({ id: In(ids) });
    const contents = await this.dataSource.getRepository(DocumentContentEntity).findBy({ documentId: In(ids) });
    const kbs = await this.dataSource.getRepository(KnowledgeBaseEntity).findBy({ id: In([...new Set(jobs.map((job) => job.kbId))]) });
    const work = new Map<string, JobWork>();
    for (const job of jobs) {
      const document = documents.find((d) => d.id === job.documentId && d.tenantId === job.tenantId && d.generation === job.generation);
      const content = contents.find((c) => c.documentId === job.documentId);
      work.set(job.id, {
        document,
        content: content ? Buffer.from(content.contentBase64, 'base64') : undefined,
        kb: kbs.find((kb) => kb.id === job.kbId && kb.tenantId === job.tenantId),
      });
    }
    return work;
  }

  async existingDocumentIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.dataSource.getRepository(DocumentEntity).find({ select: { id: true }, where: { id: In(ids) } });
    return new Set(rows.map((row) => row.id));
  }

  /** Stage and progress of the documents of running jobs (only the generation each job indexes). */
  async progress(jobs: ClaimedJob[], stage: string, progress: number): Promise<void> {
    if (jobs.length === 0) return;
    const now = nowIso();
    await this.dataSource.transaction(async (manager) => {
      await manager.update(IngestionJobEntity, { id: In(jobs.map((job) => job.id)) }, { stage, updatedAt: now });
      for (const generation of new Set(jobs.map((job) => job.generation))) {
        const ids = jobs.filter((job) => job.generation === generation).map((job) => job.documentId);
        await manager.update(
          DocumentEntity,
          { id: In(ids), generation, status: In(['queued', 'processing']) },
          { status: 'processing', progress, updatedAt: now },
        );
      }
    });
  }

  /**
   * Writes every outcome in one transaction: chunks replace the document's previous ones, the
   * document becomes indexed or failed, the job ends and drops its lease. Jobs that are no longer
   * this owner's (cancelled, superseded, taken over) write nothing; their ids are returned.
   */
  async finish(owner: string, outcomes: JobOutcome[]): Promise<{ written: JobOutcome[]; skipped: JobOutcome[] }> {
    const written: JobOutcome[] = [];
    const skipped: JobOutcome[] = [];
    const now = nowIso();
    await this.dataSource.transaction(async (manager) => {
      const held = new Set(
        (
          await manager.find(IngestionJobEntity, {
            select: { id: true },
            where: { id: In(outcomes.map((o) => o.job.id)), leaseOwner: owner, status: 'running' },
          })
        ).map((job) => job.id),
      );
      const current = await manager.find(DocumentEntity, { select: { id: true, generation: true }, where: { id: In(outcomes.map((o) => o.job.documentId)) } });
      for (const outcome of outcomes) {
        const document = current.find((d) => d.id === outcome.job.documentId);
        if (held.has(outcome.job.id) && document?.generation === outcome.job.generation) written.push(outcome);
        else skipped.push(outcome);
      }
      const indexed = written.filter((o): o is Extract<JobOutcome, { kind: 'indexed' }> => o.kind === 'indexed');
      for (const ids of batches(indexed.map((o) => o.job.documentId), INSERT_BATCH)) await manager.delete(ChunkEntity, { documentId: In(ids) });
      const chunks = indexed.flatMap((o) => o.chunks);
      for (const batch of batches(chunks, Math.floor(INSERT_BATCH / 4))) await manager.insert(ChunkEntity, batch);
      for (const outcome of written) {
        const documentChanges: Partial<Omit<DocumentEntity, 'metadata'>> =
          outcome.kind === 'indexed'
            ? { status: 'indexed', progress: 1, chunkCount: outcome.chunks.length, error: null, indexedAt: now, updatedAt: now }
            : { status: 'failed', progress: 1, chunkCount: 0, error: outcome.error, updatedAt: now };
        if (outcome.kind === 'indexed' && outcome.title) documentChanges.title = outcome.title.slice(0, 500);
        await manager.update(DocumentEntity, { id: outcome.job.documentId, generation: outcome.job.generation }, documentChanges);
        if (outcome.kind === 'failed') await manager.delete(ChunkEntity, { documentId: outcome.job.documentId });
      }
      const finished = (kind: JobOutcome['kind']) => written.filter((o) => o.kind === kind).map((o) => o.job.id);
      for (const [kind, status] of [['indexed', 'succeeded'], ['failed', 'failed']] as const) {
        const ids = finished(kind);
        for (const batch of batches(ids, INSERT_BATCH)) {
          await manager.update(
            IngestionJobEntity,
            { id: In(batch) },
            { status, stage: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now },
          );
        }
      }
      for (const outcome of written) if (outcome.kind === 'failed') await manager.update(IngestionJobEntity, { id: outcome.job.id }, { lastError: outcome.error });
      const skippedIds = skipped.map((o) => o.job.id);
      if (skippedIds.length > 0) await manager.update(IngestionJobEntity, { id: In(skippedIds), leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
    });
    return { written, skipped };
  }
}

function parseJson(value: unknown): Record<string, string> | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') return value as Record<string, string>;
  try {
    return JSON.parse(String(value)) as Record<string, string>;
  } catch {
    return null;
  }
}
