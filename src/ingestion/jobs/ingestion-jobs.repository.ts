import { Injectable } from '@nestjs/common';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DataSource, In, type EntityManager } from 'typeorm';
import { nowIso } from '../../common/clock';
import {
  batches,
  INSERT_BATCH,
  lockDocuments,
  ChunkEntity,
  DocumentContentEntity,
  DocumentEntity,
  IngestionJobEntity,
  KnowledgeBaseEntity,
} from '../../database';
import type { TenantContext } from '../../tenants';

type Query = (sql: string, values?: unknown[]) => Promise<unknown>;

/** The columns a worker needs, as the claim query returns them. */
const CLAIM_COLUMNS = 'id, tenant_id, kb_id, document_id, generation, attempts, max_attempts, trace_context, run_after, stage, last_error';

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
  /** ISO time the job became due */
  runAfter: string;
  /**
   * The stage the previous attempt was at when it stopped without an outcome (its process died or
   * lost the lease); null when it ended normally (a retry) or this is the first attempt.
   */
  interruptedAt: string | null;
  /** the previous attempt's error, if it recorded one */
  lastError: string | null;
}

/**
 * The claim's own order: each tenant's first job, then each tenant's second… (ties by due time,
 * then id). `UPDATE … RETURNING` gives rows in whatever order it updated them (Postgres: physical
 * order), so a worker running the batch in that order could serve one tenant's backlog first.
 */
export function inTenantTurns(jobs: ClaimedJob[]): ClaimedJob[] {
  const byDue = (a: ClaimedJob, b: ClaimedJob) =>
    a.runAfter < b.runAfter ? -1 : a.runAfter > b.runAfter ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const turns = new Map<ClaimedJob, number>();
  const perTenant = new Map<string, ClaimedJob[]>();
  for (const job of jobs) {
    const own = perTenant.get(job.tenantId);
    if (own) own.push(job);
    else perTenant.set(job.tenantId, [job]);
  }
  for (const own of perTenant.values()) own.sort(byDue).forEach((job, turn) => turns.set(job, turn));
  return [...jobs].sort((a, b) => turns.get(a)! - turns.get(b)! || byDue(a, b));
}

/** Per-tenant fairness of a claim: `maxPerTenant` live leases per tenant at most (0 = no limit). */
export interface ClaimOptions {
  leaseMs: number;
  maxPerTenant: number;
}

/** What claiming one given job found: it is now ours, or it waits for its tenant (or document) to free a lease, or there is nothing to run. */
export type JobClaim = { kind: 'claimed'; job: ClaimedJob } | { kind: 'waiting'; tenantId: string } | { kind: 'none' };

/**
 * Advisory lock keys (Postgres) that make the per-tenant limit race-safe: a batch claim, which
 * may take any tenant's jobs, holds the claim lock exclusively; a claim of one given job holds it
 * shared plus its tenant's lock. A claim's UPDATE starts after the lock is granted, so its count
 * of live leases includes every claim committed before it.
 */
const CLAIM_LOCK = 0x5e1f;
const TENANT_CLAIM_LOCK = 0x5e20;

/**
 * Durable ingestion jobs with leases. A job is claimable when it is queued and due, or when it is
 * running but its lease expired (its worker died): the claim is one atomic UPDATE, so two
 * workers never own a job at once. A job never starts while another job of the same document
 * still holds a live lease (a re-index waits for the run it superseded to stop).
 *
 * Tenants share the workers fairly: a live lease is a job processing, a claim never takes a
 * tenant past `maxPerTenant` of them (across every worker and replica, since the leases are in
 * the shared database), and the due jobs are taken in turns: every tenant's oldest job before any
 * tenant's second one, so one tenant's backlog does not hold back another tenant's upload.
 */
@Injectable()
export class IngestionJobsRepository {
  private readonly postgres: boolean;
  /**
   * Live leases are few (at most the workers' slots) and found by a range scan of the lease
   * index; without statistics SQLite would rather scan a tenant's whole job history by tenant_id.
   */
  private readonly liveLeases: string;
  /** the end of the claim before (SQLite): claims take turns */
  private claimTurn: Promise<void> = Promise.resolve();

  constructor(private readonly dataSource: DataSource) {
    this.postgres = dataSource.options.type === 'postgres';
    this.liveLeases = this.postgres ? '' : ' INDEXED BY idx_jobs_lease_tenant';
  }

  /**
   * Claims up to `limit` due jobs in tenant turns, within each tenant's limit. Each tenant's next
   * job is taken first; the claim reaches deeper into each tenant's queue only when that left the
   * batch short (fewer tenants than the batch), so its cost follows the tenants, not the backlog.
   */
  async claim(owner: string, limit: number, options: ClaimOptions): Promise<ClaimedJob[]> {
    const batch = Math.max(1, Math.floor(limit));
    const perTenant = Math.min(batch, options.maxPerTenant > 0 ? options.maxPerTenant : batch);
    const run = async (query: Query): Promise<ClaimedJob[]> => {
      const now = nowIso();
      if (!(await this.anyDue(query, now))) return [];
      const first = this.claimed(await query(...this.claimStatement(owner, batch, 1, now, options)));
      if (first.length >= batch || perTenant === 1) return inTenantTurns(first);
      const more = this.claimed(await query(...this.claimStatement(owner, batch - first.length, perTenant, now, options)));
      return inTenantTurns([...first, ...more]);
    };
    // a claim's two passes are not interleaved with another claim's: on SQLite by taking turns in
    // this process (one connection), on Postgres by the claim lock (across replicas). Interleaved,
    // another worker's first pass could take a tenant's next job between them and split the batch
    if (!this.postgres) return this.inClaimTurn(() => run((sql, values) => this.dataSource.query(sql, values)));
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(${CLAIM_LOCK}, 0)`);
      return run((sql, values) => manager.query(sql, values));
    });
  }

  private inClaimTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.claimTurn.then(work);
    this.claimTurn = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Whether any job is due at all: one index seek, so an idle loop's claim costs nothing per tenant waiting out a backoff. */
  private async anyDue(query: Query, now: string): Promise<boolean> {
    const p = this.placeholders();
    const [row] = (await query(
      `SELECT CASE WHEN EXISTS (SELECT 1 FROM ingestion_jobs q WHERE q.status = 'queued' AND q.run_after <= ${p(now)})
        OR EXISTS (SELECT 1 FROM ingestion_jobs e WHERE e.status = 'running' AND e.lease_expires_at < ${p(now)}) THEN 1 ELSE 0 END AS due`,
      p.values,
    )) as Array<{ due: number | string }>;
    return Number(row?.due) === 1;
  }

  /**
   * One atomic claim of up to `limit` jobs, ranked in tenant turns among the candidates: each
   * tenant's first `perTenant` due queued jobs (no later one can be in this claim's turns) and
   * every running job whose lease expired. The tenants with queued jobs are found by seeking
   * from one tenant id to the next in the (status, tenant) index, and tenants at their limit are
   * left out before their jobs are read. Ranking every due job instead took 11 ms at 5,000 queued
   * and 198 ms at 50,000, on the event loop (SQLite).
   */
  private claimStatement(owner: string, limit: number, perTenant: number, now: string, options: ClaimOptions): [string, unknown[]] {
    const p = this.placeholders();
    const byDue = this.postgres ? '' : ' INDEXED BY idx_jobs_status_tenant_due';
    const documentFree = (alias: string) =>
      `NOT EXISTS (SELECT 1 FROM ingestion_jobs o WHERE o.document_id = ${alias}.document_id AND o.id <> ${alias}.id AND o.lease_expires_at > ${p(now)})`;
    const liveLeases = () =>
      `SELECT l.tenant_id, COUNT(*) AS busy FROM ingestion_jobs l${this.liveLeases} WHERE l.lease_expires_at > ${p(now)} GROUP BY l.tenant_id`;
    const queuedTenants = `WITH RECURSIVE queued_tenants(tenant_id) AS (
        SELECT (SELECT q.tenant_id FROM ingestion_jobs q${byDue} WHERE q.status = 'queued' ORDER BY q.status, q.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT q.tenant_id FROM ingestion_jobs q${byDue} WHERE q.status = 'queued' AND q.tenant_id > t.tenant_id ORDER BY q.status, q.tenant_id LIMIT 1)
        FROM queued_tenants t WHERE t.tenant_id IS NOT NULL)`;
    const firstDue = (tenant: string) => `SELECT z.id FROM ingestion_jobs z${byDue}
        WHERE z.status = 'queued' AND z.tenant_id = ${tenant} AND z.run_after <= ${p(now)} AND ${documentFree('z')}
        ORDER BY z.run_after, z.id LIMIT ${p(perTenant)}`;
    // pieces are functions called where they stand in the text, so their placeholders come in text order
    const open = () =>
      options.maxPerTenant > 0
        ? `t.tenant_id NOT IN (SELECT f.tenant_id FROM (${liveLeases()}) f WHERE f.busy >= ${p(options.maxPerTenant)})`
        : 't.tenant_id IS NOT NULL';
    // Postgres runs the per-tenant query once per tenant through LATERAL; SQLite drives the id lookups from the correlated IN
    const queued = () =>
      this.postgres
        ? `${queuedTenants} SELECT y.id FROM queued_tenants t CROSS JOIN LATERAL (${firstDue('t.tenant_id')}) y WHERE ${open()}`
        : `${queuedTenants} SELECT y.id FROM queued_tenants t JOIN ingestion_jobs y ON y.id IN (${firstDue('t.tenant_id')}) WHERE ${open()}`;
    const expired = () =>
      `SELECT e.id FROM ingestion_jobs e${byDue} WHERE e.status = 'running' AND e.lease_expires_at < ${p(now)} AND ${documentFree('e')}`;
    // the placeholders are numbered (Postgres) or bound (SQLite) in the order this text is built;
    // CROSS JOIN keeps the short candidate list as SQLite's outer loop (ids looked up, not scanned)
    const sql = `UPDATE ingestion_jobs SET status = 'running', lease_owner = ${p(owner)}, lease_expires_at = ${p(nowIso(options.leaseMs))}, attempts = attempts + 1, updated_at = ${p(now)}
      WHERE id IN (SELECT j.id FROM (
        SELECT r.id FROM (
          SELECT c.id, c.run_after, ROW_NUMBER() OVER (PARTITION BY c.tenant_id ORDER BY c.run_after, c.id) AS turn, COALESCE(b.busy, 0) AS busy
          FROM (${queued()} UNION ALL ${expired()}) k
          CROSS JOIN ingestion_jobs c
          LEFT JOIN (${liveLeases()}) b ON b.tenant_id = c.tenant_id
          WHERE c.id = k.id
        ) r
        WHERE r.turn <= ${p(perTenant)}${options.maxPerTenant > 0 ? ` AND r.turn + r.busy <= ${p(options.maxPerTenant)}` : ''}
        ORDER BY r.turn, r.run_after, r.id LIMIT ${p(limit)}
      ) s CROSS JOIN ingestion_jobs j WHERE j.id = s.id AND ${dueCondition('j', p, now)}${this.postgres ? ' FOR UPDATE OF j SKIP LOCKED' : ''})
      RETURNING ${CLAIM_COLUMNS}`;
    return [sql, p.values];
  }

  /** Claims one given job (a BullMQ message names it) if it is due and its tenant is under its limit. */
  async claimJob(owner: string, id: string, options: ClaimOptions): Promise<JobClaim> {
    const run = async (query: (sql: string, values?: unknown[]) => Promise<unknown>): Promise<JobClaim> => {
      const [row] = (await query('SELECT tenant_id FROM ingestion_jobs WHERE id = ' + (this.postgres ? '$1' : '?'), [id])) as Array<{
        tenant_id: string;
      }>;
      if (!row) return { kind: 'none' };
      const tenantId = String(row.tenant_id);
      if (this.postgres && options.maxPerTenant > 0) {
        await query(`SELECT pg_advisory_xact_lock_shared(${CLAIM_LOCK}, 0)`);
        await query(`SELECT pg_advisory_xact_lock(${TENANT_CLAIM_LOCK}, hashtext($1))`, [tenantId]);
      }
      const now = nowIso();
      const p = this.placeholders();
      const sql = `UPDATE ingestion_jobs SET status = 'running', lease_owner = ${p(owner)}, lease_expires_at = ${p(nowIso(options.leaseMs))}, attempts = attempts + 1, updated_at = ${p(now)}
        WHERE id = ${p(id)} AND ${dueCondition('ingestion_jobs', p, now)}
          AND NOT EXISTS (SELECT 1 FROM ingestion_jobs o WHERE o.document_id = ingestion_jobs.document_id AND o.id <> ingestion_jobs.id AND o.lease_expires_at > ${p(now)})
          ${options.maxPerTenant > 0 ? `AND (SELECT COUNT(*) FROM ingestion_jobs l${this.liveLeases} WHERE l.lease_expires_at > ${p(now)} AND l.tenant_id = ${p(tenantId)}) < ${p(options.maxPerTenant)}` : ''}
        RETURNING ${CLAIM_COLUMNS}`;
      const [job] = this.claimed(await query(sql, p.values));
      if (job) return { kind: 'claimed', job };
      const q = this.placeholders();
      const waiting = (await query(
        `SELECT id FROM ingestion_jobs WHERE id = ${q(id)} AND ${dueCondition('ingestion_jobs', q, now)}`,
        q.values,
      )) as unknown[];
      return waiting.length > 0 ? { kind: 'waiting', tenantId } : { kind: 'none' };
    };
    if (!this.postgres) return run((sql, values) => this.dataSource.query(sql, values));
    return this.dataSource.transaction((manager) => run((sql, values) => manager.query(sql, values)));
  }

  /**
   * Tenants with `maxPerTenant` or more live leases: no claim can take another job of theirs until
   * one of those runs ends. A range scan of the lease index, like the claim's own count.
   */
  async tenantsAtLimit(maxPerTenant: number): Promise<Set<string>> {
    if (maxPerTenant <= 0) return new Set();
    const p = this.placeholders();
    const rows = await this.dataSource.query<Array<{ tenant_id: string }>>(
      `SELECT l.tenant_id FROM ingestion_jobs l${this.liveLeases} WHERE l.lease_expires_at > ${p(nowIso())}
        GROUP BY l.tenant_id HAVING COUNT(*) >= ${p(maxPerTenant)}`,
      p.values,
    );
    return new Set(rows.map((row) => String(row.tenant_id)));
  }

  /** Jobs of the tenant's existing KBs queued or processing (lease live or expired): what the pending-jobs quota counts. */
  pendingCount(tenant: TenantContext): Promise<number> {
    return this.dataSource
      .getRepository(IngestionJobEntity)
      .createQueryBuilder('j')
      .where(
        "j.tenant_id = :tenantId AND j.status IN ('queued', 'running') AND j.kb_id IN (SELECT k.id FROM knowledge_bases k WHERE k.tenant_id = :tenantId)",
        {
          tenantId: tenant.tenantId,
        },
      )
      .getCount();
  }

  /** Jobs of the tenant that ended (indexed or failed) since `sinceIso`, and when the first of them ended: its recent throughput. */
  async finishedSince(tenant: TenantContext, sinceIso: string): Promise<{ count: number; firstAt?: string }> {
    const row = await this.dataSource
      .getRepository(IngestionJobEntity)
      .createQueryBuilder('j')
      .select('COUNT(*)', 'count')
      .addSelect('MIN(j.updated_at)', 'first')
      .where("j.tenant_id = :tenantId AND j.status IN ('succeeded', 'failed') AND j.updated_at >= :sinceIso", {
        tenantId: tenant.tenantId,
        sinceIso,
      })
      .getRawOne<{ count: string | number; first: string | null }>();
    return { count: Number(row?.count ?? 0), firstAt: row?.first ?? undefined };
  }

  /** `$1, $2…` (Postgres) or `?` (SQLite), collecting the values in text order. */
  private placeholders(): ((value: unknown) => string) & { values: unknown[] } {
    const values: unknown[] = [];
    const add = (value: unknown) => {
      values.push(value);
      return this.postgres ? `$${values.length}` : '?';
    };
    return Object.assign(add, { values });
  }

  private claimed(result: unknown): ClaimedJob[] {
    const rows = result as Array<Record<string, unknown>>;
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
      runAfter: String(row.run_after),
      interruptedAt: (row.stage as string | null | undefined) ?? null,
      lastError: (row.last_error as string | null | undefined) ?? null,
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
      .set({ status: 'queued', stage: null, leaseOwner: null, leaseExpiresAt: null, attempts: () => 'attempts - 1', updatedAt: nowIso() })
      .where('id IN (:...ids) AND lease_owner = :owner AND status = :running', { ids, owner, running: 'running' })
      .execute();
  }

  /**
   * Ends jobs whose document, generation or KB is gone, so the document's next job may start: a
   * job still `running` becomes `cancelled` (without a lease no claim would ever match it again).
   */
  async dropLease(owner: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.transaction((manager) => endLeases(manager, owner, ids, nowIso()));
  }

  /** Queues the job again after `delayMs`, keeping the error; returns false when it was no longer ours. */
  async retryLater(owner: string, id: string, error: string, delayMs: number): Promise<boolean> {
    const result = await this.dataSource.getRepository(IngestionJobEntity).update(
      { id, leaseOwner: owner, status: 'running' },
      {
        status: 'queued',
        stage: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        runAfter: nowIso(delayMs),
        lastError: error,
        updatedAt: nowIso(),
      },
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Sets the stage of one running job (and what it recorded as its error), so that if the process
   * dies now the next claim knows where (`interruptedAt`).
   */
  async markStage(owner: string, id: string, stage: string | null, lastError?: string): Promise<void> {
    await this.dataSource
      .getRepository(IngestionJobEntity)
      .update({ id, leaseOwner: owner, status: 'running' }, { stage, ...(lastError !== undefined ? { lastError } : {}) });
  }

  /** Jobs due or orphaned (lease expired) for longer than `graceMs`: the BullMQ reconciler re-sends them. */
  async findStranded(graceMs: number, limit: number): Promise<Array<{ id: string; tenantId: string; attempts: number }>> {
    const cutoff = nowIso(-graceMs);
    return this.dataSource
      .getRepository(IngestionJobEntity)
      .createQueryBuilder('j')
      .select(['j.id', 'j.tenantId', 'j.attempts'])
      .where("(j.status = 'queued' AND j.run_after <= :cutoff) OR (j.status = 'running' AND j.lease_expires_at < :cutoff)", { cutoff })
      .orderBy('j.run_after', 'ASC')
      .take(limit)
      .getMany();
  }
}

/** What a claimed job works on; undefined parts mean the document or KB is gone. */
export interface JobWork {
  document?: DocumentEntity;
  /** whether the document's bytes are stored (they are read by `content`, one document at a time) */
  hasContent: boolean;
  kb?: KnowledgeBaseEntity;
}

/** A document's outcome, written with its job in the batch's one transaction. */
export type JobOutcome =
  { kind: 'indexed'; job: ClaimedJob; chunks: ChunkEntity[]; title?: string } | { kind: 'failed'; job: ClaimedJob; error: string };

/** Reads and writes of the ingestion pipeline itself, batched across the jobs of one claim. */
@Injectable()
export class IngestionWorkRepository {
  constructor(private readonly dataSource: DataSource) {}

  async load(jobs: ClaimedJob[]): Promise<Map<string, JobWork>> {
    const ids = jobs.map((job) => job.documentId);
    const documents = await this.dataSource.getRepository(DocumentEntity).findBy({ id: In(ids) });
    // the bytes themselves are read one document at a time (`content`): a claim of 32 uploads of
    // 20 MB read and decoded at once held the event loop for seconds
    const stored = new Set(
      (
        await this.dataSource.getRepository(DocumentContentEntity).find({ select: { documentId: true }, where: { documentId: In(ids) } })
      ).map((c) => c.documentId),
    );
    const kbs = await this.dataSource.getRepository(KnowledgeBaseEntity).findBy({ id: In([...new Set(jobs.map((job) => job.kbId))]) });
    const work = new Map<string, JobWork>();
    for (const job of jobs) {
      const document = documents.find((d) => d.id === job.documentId && d.tenantId === job.tenantId && d.generation === job.generation);
      work.set(job.id, {
        document,
        hasContent: stored.has(job.documentId),
        kb: kbs.find((kb) => kb.id === job.kbId && kb.tenantId === job.tenantId),
      });
    }
    return work;
  }

  /** The stored bytes of one document, or undefined when they are gone. */
  async content(documentId: string): Promise<Buffer | undefined> {
    const row = await this.dataSource.getRepository(DocumentContentEntity).findOne({ where: { documentId } });
    return row ? Buffer.from(row.contentBase64, 'base64') : undefined;
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
      // locked like a purge locks them: a delete either waits for these chunks and then removes them, or went first and nothing is written
      await lockDocuments(
        manager,
        outcomes.map((o) => o.job.documentId),
      );
      const current = await manager.find(DocumentEntity, {
        select: { id: true, generation: true },
        where: { id: In(outcomes.map((o) => o.job.documentId)) },
      });
      for (const outcome of outcomes) {
        const document = current.find((d) => d.id === outcome.job.documentId);
        if (held.has(outcome.job.id) && document?.generation === outcome.job.generation) written.push(outcome);
        else skipped.push(outcome);
      }
      const indexed = written.filter((o): o is Extract<JobOutcome, { kind: 'indexed' }> => o.kind === 'indexed');
      for (const ids of batches(
        indexed.map((o) => o.job.documentId),
        INSERT_BATCH,
      ))
        await manager.delete(ChunkEntity, { documentId: In(ids) });
      const chunks = indexed.flatMap((o) => o.chunks);
      for (const batch of batches(chunks, Math.floor(INSERT_BATCH / 4))) {
        await manager.insert(ChunkEntity, batch);
        // SQLite runs each batch synchronously: let the event loop serve requests between them (their
        // reads go through the reader thread, so they do not wait for this transaction)
        await nextTurn();
      }
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
      for (const [kind, status] of [
        ['indexed', 'succeeded'],
        ['failed', 'failed'],
      ] as const) {
        const ids = finished(kind);
        for (const batch of batches(ids, INSERT_BATCH)) {
          await manager.update(
            IngestionJobEntity,
            { id: In(batch) },
            { status, stage: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now },
          );
        }
      }
      for (const outcome of written)
        if (outcome.kind === 'failed') await manager.update(IngestionJobEntity, { id: outcome.job.id }, { lastError: outcome.error });
      await endLeases(
        manager,
        owner,
        skipped.map((o) => o.job.id),
        now,
      );
    });
    return { written, skipped };
  }
}

/** Drops this owner's leases of the jobs; those still `running` (their document or generation is gone) end `cancelled`. */
async function endLeases(manager: EntityManager, owner: string, ids: string[], now: string): Promise<void> {
  for (const batch of batches(ids, INSERT_BATCH)) {
    await manager.update(
      IngestionJobEntity,
      { id: In(batch), leaseOwner: owner, status: 'running' },
      { status: 'cancelled', stage: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now },
    );
    await manager.update(IngestionJobEntity, { id: In(batch), leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
  }
}

/** Queued and due, or running with an expired lease (its worker died); `status IN` keeps the scan on the (status, run_after) index. */
function dueCondition(alias: string, p: (value: unknown) => string, now: string): string {
  return `${alias}.status IN ('queued', 'running') AND ((${alias}.status = 'queued' AND ${alias}.run_after <= ${p(now)}) OR (${alias}.status = 'running' AND ${alias}.lease_expires_at < ${p(now)}))`;
}

function parseJson(value: unknown): Record<string, string> | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') return value as Record<string, string>;
  try {
    return JSON.parse(value as string) as Record<string, string>;
  } catch {
    return null;
  }
}
