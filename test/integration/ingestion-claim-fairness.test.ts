import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { nowIso } from '../../src/common/clock';
import { createDataSource } from '../../src/database/data-source';
import { IngestionJobEntity, KnowledgeBaseEntity } from '../../src/database/entities';
import type { DocumentIngestionPipeline } from '../../src/ingestion/jobs/document-ingestion.pipeline';
import { IngestionJobsRepository, type ClaimedJob, type ClaimOptions } from '../../src/ingestion/jobs/ingestion-jobs.repository';
import { DatabaseWorkerPool } from '../../src/ingestion/queue/database/database-worker-pool';
import { TenantContext } from '../../src/tenants/principal';
import { DATABASES } from '../support/databases';
import { startPostgres, type PostgresServer } from '../support/postgres-server';

/**
 * The claim's per-tenant limit and tenant turns, on the real stores: rows in `ingestion_jobs`,
 * claimed by the repository the workers use. On Postgres, many claimers at once on separate
 * connections (the race the advisory locks close).
 */
const LIMITED: ClaimOptions = { leaseMs: 30_000, maxPerTenant: 2 };

describe.each(DATABASES)('ingestion claims on %s', (kind) => {
  let postgres: PostgresServer | undefined;
  let dataDir: string | undefined;
  let dataSource: DataSource;
  let jobs: IngestionJobsRepository;

  beforeAll(async () => {
    if (kind === 'postgres') postgres = await startPostgres();
    else dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-claims-'));
    dataSource = createDataSource(
      postgres
        ? { type: 'postgres', url: postgres.url, poolSize: 40, slowQueryMs: 10_000 }
        : { type: 'sqlite', url: path.join(dataDir!, 'claims.sqlite'), poolSize: 1, slowQueryMs: 10_000 },
    );
    await dataSource.initialize();
    await dataSource.runMigrations();
    jobs = new IngestionJobsRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await postgres?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await dataSource.getRepository(IngestionJobEntity).clear();
  });

  /** Queues `count` jobs of a tenant, each for its own document, due `ageMs` ago (older first). */
  async function queue(tenantId: string, count: number, ageMs: number): Promise<string[]> {
    const rows = Array.from({ length: count }, (_, i): IngestionJobEntity => {
      const at = nowIso(-ageMs + i);
      return {
        id: randomUUID(),
        tenantId,
        kbId: randomUUID(),
        documentId: randomUUID(),
        status: 'queued',
        stage: null,
        generation: 0,
        attempts: 0,
        maxAttempts: 5,
        leaseOwner: null,
        leaseExpiresAt: null,
        runAfter: at,
        lastError: null,
        traceContext: null,
        createdAt: at,
        updatedAt: at,
      };
    });
    // the ids before the insert: TypeORM's multi-row insert on SQLite rewrites the objects' ids in another order
    const ids = rows.map((row) => row.id);
    await dataSource.getRepository(IngestionJobEntity).insert(rows);
    return ids;
  }

  const ids = (claimed: Array<{ id: string }>) => claimed.map((job) => job.id).sort();

  async function processing(tenantId: string): Promise<number> {
    const [row] = await dataSource.query(
      `SELECT COUNT(*) AS n FROM ingestion_jobs WHERE tenant_id = ${kind === 'postgres' ? '$1' : '?'} AND lease_expires_at > ${kind === 'postgres' ? '$2' : '?'}`,
      [tenantId, nowIso()],
    );
    return Number(row.n);
  }

  it("takes tenants in turns: a tenant's one new job comes before another tenant's older backlog", async () => {
    const a = await queue('tenant-a', 20, 60_000);
    const b = await queue('tenant-b', 1, 1_000);
    const unlimited = await jobs.claim('worker-1', 3, { leaseMs: 30_000, maxPerTenant: 0 });
    expect(ids(unlimited)).toEqual([a[0], a[1], b[0]].sort());
  });

  it('never takes a tenant past its limit, within one claim and across claims', async () => {
    await queue('tenant-a', 20, 60_000);
    const b = await queue('tenant-b', 3, 1_000);
    const first = await jobs.claim('worker-1', 32, LIMITED);
    expect(first.filter((job) => job.tenantId === 'tenant-a')).toHaveLength(2);
    expect(ids(first.filter((job) => job.tenantId === 'tenant-b'))).toEqual(b.slice(0, 2).sort());
    // another worker finds both tenants at their limit
    expect(await jobs.claim('worker-2', 32, LIMITED)).toEqual([]);
    const c = await queue('tenant-c', 1, 0);
    expect(ids(await jobs.claim('worker-2', 32, LIMITED))).toEqual(c);
    expect(await processing('tenant-a')).toBe(2);
  });

  it('frees a slot when a job ends or its lease expires (a dead worker), not before', async () => {
    await queue('tenant-a', 5, 60_000);
    const [one, two] = await jobs.claim('worker-1', 32, { leaseMs: 1_500, maxPerTenant: 2 });
    expect(await jobs.claim('worker-2', 32, LIMITED)).toEqual([]);
    // a retry gives its slot back at once
    expect(await jobs.retryLater('worker-1', one.id, 'boom', 60_000)).toBe(true);
    const third = await jobs.claim('worker-2', 32, LIMITED);
    expect(third).toHaveLength(1);
    // worker-1 dies holding `two`: its slot comes back when the lease expires
    expect(await jobs.claim('worker-2', 32, LIMITED)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_600));
    const afterExpiry = await jobs.claim('worker-2', 32, LIMITED);
    expect(afterExpiry).toHaveLength(1);
    // the expired job is due again and first in the tenant's turn (oldest)
    expect(afterExpiry[0].id).toBe(two.id);
    expect(afterExpiry[0].attempts).toBe(2);
  });

  it('claims one named job only under its tenant limit; over it the job is waiting, a finished one is none', async () => {
    const a = await queue('tenant-a', 4, 60_000);
    expect((await jobs.claimJob('w', a[0], LIMITED)).kind).toBe('claimed');
    expect((await jobs.claimJob('w', a[1], LIMITED)).kind).toBe('claimed');
    expect(await jobs.claimJob('w', a[2], LIMITED)).toEqual({ kind: 'waiting', tenantId: 'tenant-a' });
    // the same message twice: already running under a live lease
    expect(await jobs.claimJob('w', a[0], LIMITED)).toEqual({ kind: 'none' });
    expect(await jobs.claimJob('w', randomUUID(), LIMITED)).toEqual({ kind: 'none' });
    expect((await jobs.claimJob('w', a[2], { ...LIMITED, maxPerTenant: 0 })).kind).toBe('claimed');
  });

  it('counts pending jobs (queued and processing) and recent finishes per tenant', async () => {
    await queue('tenant-a', 4, 60_000);
    await queue('tenant-b', 1, 30_000);
    const [claimed] = await jobs.claim('w', 1, LIMITED);
    await dataSource
      .getRepository(IngestionJobEntity)
      .update({ id: claimed.id }, { status: 'succeeded', leaseOwner: null, leaseExpiresAt: null, updatedAt: nowIso() });
    // the jobs' KBs exist; one more job's KB was just deleted (its purge under way): not counted
    await dataSource.getRepository(KnowledgeBaseEntity).clear();
    for (const job of await dataSource.getRepository(IngestionJobEntity).find()) {
      await dataSource.getRepository(KnowledgeBaseEntity).insert({
        id: job.kbId,
        tenantId: job.tenantId,
        name: job.kbId,
        description: null,
        chunker: { type: 'fixed', chunk_size: 100, chunk_overlap: 0 },
        embeddingModel: 'offline-hash-v2',
        createdAt: nowIso(),
        updatedAt: nowIso(),
      });
    }
    await queue('tenant-a', 1, 10_000);
    expect(await jobs.pendingCount(new TenantContext('tenant-a'))).toBe(3);
    expect(await jobs.pendingCount(new TenantContext('tenant-b'))).toBe(1);
    const finished = await jobs.finishedSince(new TenantContext('tenant-a'), nowIso(-60_000));
    expect(finished.count).toBe(1);
    expect(Date.now() - Date.parse(finished.firstAt!)).toBeLessThan(5_000);
    expect(await jobs.finishedSince(new TenantContext('tenant-b'), nowIso(-60_000))).toEqual({ count: 0, firstAt: undefined });
  });

  it('holds the limit when many workers claim at the same moment', async () => {
    const a = await queue('tenant-a', 200, 60_000);
    await queue('tenant-b', 200, 60_000);
    const batches = await Promise.all(Array.from({ length: 16 }, (_, i) => jobs.claim(`worker-${i}`, 32, LIMITED)));
    const claimed = batches.flat();
    expect(claimed.filter((job) => job.tenantId === 'tenant-a')).toHaveLength(2);
    expect(claimed.filter((job) => job.tenantId === 'tenant-b')).toHaveLength(2);
    expect(await processing('tenant-a')).toBe(2);

    // one named job per message, 30 messages of one tenant at once (the BullMQ path)
    await dataSource
      .getRepository(IngestionJobEntity)
      .update({ status: 'running' }, { status: 'succeeded', leaseOwner: null, leaseExpiresAt: null });
    const single = await Promise.all(a.slice(100, 130).map((id, i) => jobs.claimJob(`worker-${i % 8}`, id, LIMITED)));
    expect(single.filter((claim) => claim.kind === 'claimed')).toHaveLength(2);
    expect(single.filter((claim) => claim.kind === 'waiting')).toHaveLength(28);
    expect(await processing('tenant-a')).toBe(2);
  });

  it('names the tenants whose live leases are at the limit', async () => {
    await queue('tenant-a', 5, 60_000);
    await queue('tenant-b', 5, 50_000);
    expect(await jobs.tenantsAtLimit(2)).toEqual(new Set());
    await jobs.claim('w', 3, LIMITED); // a: 2 (the older jobs), b: 1
    expect(await jobs.tenantsAtLimit(2)).toEqual(new Set(['tenant-a']));
    expect(await jobs.tenantsAtLimit(1)).toEqual(new Set(['tenant-a', 'tenant-b']));
    expect(await jobs.tenantsAtLimit(0)).toEqual(new Set());
  });

  /**
   * A worker pool on this store whose pipeline holds each run open until the test ends it. The
   * idle poll is a minute, so only a wake can start work within a test's bounds.
   */
  function heldPool(options: { atLimitRecheckMs?: number; concurrency?: number } = {}) {
    let claims = 0;
    let limitChecks = 0;
    const counted = Object.create(jobs) as IngestionJobsRepository;
    counted.claim = (...args) => {
      claims++;
      return jobs.claim(...args);
    };
    counted.tenantsAtLimit = async (...args) => {
      const atLimit = await jobs.tenantsAtLimit(...args);
      limitChecks++;
      return atLimit;
    };
    const started: Array<{ at: number; jobs: ClaimedJob[] }> = [];
    let endRuns!: () => void;
    const runsMayEnd = new Promise<void>((resolve) => (endRuns = resolve));
    // the pipeline's part is not under test here: it holds each run open until told to end it
    const pipeline = {
      run: async (_owner: string, claimed: ClaimedJob[]) => {
        started.push({ at: Date.now(), jobs: claimed });
        await runsMayEnd;
        await dataSource.getRepository(IngestionJobEntity).update(
          claimed.map((job) => job.id),
          { status: 'succeeded', leaseOwner: null, leaseExpiresAt: null, updatedAt: nowIso() },
        );
        return [];
      },
    } as unknown as DocumentIngestionPipeline;
    const pool = new DatabaseWorkerPool(counted, pipeline, {
      ...LIMITED,
      concurrency: options.concurrency ?? 2,
      idlePollMs: 60_000,
      atLimitRecheckMs: options.atLimitRecheckMs ?? 60_000,
    });
    return {
      pool,
      started,
      claims: () => claims,
      /** empty claims whose look at the tenants' limits has finished */
      limitChecks: () => limitChecks,
      stop: async () => {
        endRuns();
        await pool.stop(5_000);
      },
    };
  }

  const until = async (done: () => boolean) => {
    for (const deadline = Date.now() + 5_000; !done(); await new Promise((r) => setTimeout(r, 5)))
      if (Date.now() > deadline) throw new Error('timed out');
  };

  it("does not claim again for every upload of a tenant at its limit, and wakes at once for another tenant's", async () => {
    await queue('tenant-a', 4, 60_000);
    const held = heldPool();
    held.pool.start();
    try {
      await until(() => held.started.length === 1);
      expect(held.started[0].jobs.map((job) => job.tenantId)).toEqual(['tenant-a', 'tenant-a']);
      await until(() => held.limitChecks() >= 1); // the other loop found tenant-a at its limit
      const before = held.claims();
      for (let i = 0; i < 40; i++) {
        const [id] = await queue('tenant-a', 1, 0);
        held.pool.wakeFor([{ id, tenantId: 'tenant-a', attempts: 0 }]);
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(held.claims() - before).toBe(0);

      const [b] = await queue('tenant-b', 1, 0);
      held.pool.wakeFor([{ id: b, tenantId: 'tenant-b', attempts: 0 }]);
      await until(() => held.started.length === 2);
      expect(held.started[1].jobs.map((job) => job.id)).toEqual([b]);
    } finally {
      await held.stop();
    }
  });

  it('looks again shortly at a dispatch it skipped, since a lease can end without a run here ending', async () => {
    await queue('tenant-a', 2, 60_000);
    const held = heldPool({ atLimitRecheckMs: 100 });
    held.pool.start();
    try {
      await until(() => held.started.length === 1 && held.limitChecks() >= 1);
      // another replica's run of tenant-a ended (here: its leases are dropped behind this pool's back)
      await dataSource
        .getRepository(IngestionJobEntity)
        .update({ tenantId: 'tenant-a', status: 'running' }, { status: 'succeeded', leaseOwner: null, leaseExpiresAt: null });
      const [next] = await queue('tenant-a', 1, 0);
      held.pool.wakeFor([{ id: next, tenantId: 'tenant-a', attempts: 0 }]);
      await until(() => held.started.length === 2);
      expect(held.started[1].jobs.map((job) => job.id)).toEqual([next]);
    } finally {
      await held.stop();
    }
  });

  it('claims again at once when a job is dispatched while its claim was under way', async () => {
    let release: (() => void) | undefined;
    let claims = 0;
    const gated = Object.create(jobs) as IngestionJobsRepository;
    gated.claim = async (...args) => {
      const result = await jobs.claim(...args);
      // the first claim has read an empty table: it is held until the job below is queued and dispatched
      if (++claims === 1) await new Promise<void>((resolve) => (release = resolve));
      return result;
    };
    const started: ClaimedJob[][] = [];
    const pipeline = {
      run: async (_owner: string, claimed: ClaimedJob[]) => {
        started.push(claimed);
        return [];
      },
    } as unknown as DocumentIngestionPipeline;
    const pool = new DatabaseWorkerPool(gated, pipeline, { ...LIMITED, concurrency: 1, idlePollMs: 60_000 });
    pool.start();
    try {
      await until(() => release !== undefined);
      const [id] = await queue('tenant-a', 1, 0);
      pool.wakeFor([{ id, tenantId: 'tenant-a', attempts: 0 }]);
      release!();
      await until(() => started.length === 1);
      expect(started[0].map((job) => job.id)).toEqual([id]);
    } finally {
      await pool.stop(5_000);
    }
  });

  it.runIf(kind === 'sqlite')("reads each tenant's first jobs by index, never every due job in the backlog", async () => {
    await queue('tenant-a', 300, 60_000);
    await queue('tenant-b', 300, 60_000);
    const plans: string[] = [];
    const planned = Object.create(dataSource) as DataSource;
    planned.query = (async (sql: string, values?: unknown[]) => {
      if (sql.startsWith('UPDATE ingestion_jobs')) {
        const rows = await dataSource.query<Array<{ detail: string }>>(`EXPLAIN QUERY PLAN ${sql}`, values);
        plans.push(...rows.map((row) => row.detail));
      }
      return dataSource.query(sql, values);
    }) as DataSource['query'];
    const claimed = await new IngestionJobsRepository(planned).claim('w', 4, LIMITED);
    expect(claimed.map((job) => job.tenantId).sort()).toEqual(['tenant-a', 'tenant-a', 'tenant-b', 'tenant-b']);
    expect(plans.length).toBeGreaterThan(0);
    // ranking every due job (a scan of the status/run_after index) cost 185 ms per claim at 50,000 queued
    // every read of ingestion_jobs is an index SEARCH; the only SCANs are of the statement's own short intermediate rows
    expect(plans.filter((detail) => /idx_jobs_status_run_after|^SCAN (?!(t|f|r|s|CONSTANT ROW|\(subquery-\d+\))$)/.test(detail))).toEqual(
      [],
    );
    expect(plans.filter((detail) => /^SEARCH (c|j|y|z|e|q|o|l) /.test(detail)).length).toBeGreaterThanOrEqual(8);
  });
});
