import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, In, IsNull, type EntityManager } from 'typeorm';
import { nowIso } from '../common/clock';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { ChunkEntity, DocumentContentEntity, IngestionJobEntity, KnowledgeBaseEntity } from '../database';
import { TenantContext } from '../tenants';
import { DocumentsService } from './documents.service';
import { IndexCleaner } from './index-cleaner';
import { IngestionQueue } from './queue/ingestion-queue.port';

/** Keys examined per statement: every statement is short, and the loop yields between them. */
const PAGE = 200;

export interface SweepReport {
  knowledgeBases: number;
  documents: number;
  chunkedDocuments: number;
  contents: number;
  jobs: number;
  requeued: number;
}

interface Row {
  id: string;
  tenant_id: string;
}

/**
 * Removes what a delete cut short (a crash, a store that was down) or an earlier version left:
 * KBs whose tenant is gone; documents whose KB is gone (with their bytes, chunks, jobs, vectors
 * and lexical entries); chunks, stored bytes and jobs whose document is gone; and it re-queues
 * jobs left `running` without a lease, which no claim would match again. It runs at start-up and
 * every ORPHAN_SWEEP_INTERVAL_MS. Each table is walked in key order a page at a time (bounded
 * statements, the event loop free between them); a row is removed only when its parent row is
 * absent, and ids are never reused, so live data is never touched.
 */
@Injectable()
export class OrphanSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('orphan-sweeper');
  private timer?: NodeJS.Timeout;
  private current?: Promise<SweepReport>;
  private stopping = false;
  private readonly postgres: boolean;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly documents: DocumentsService,
    private readonly cleaner: IndexCleaner,
    private readonly queue: IngestionQueue,
  ) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  onApplicationBootstrap(): void {
    const run = () =>
      void this.sweep().catch((error: Error) =>
        this.logger.warn({ message: 'orphan sweep failed; the next one retries', exception: error.stack }),
      );
    run();
    if (this.config.orphanSweepIntervalMs > 0) {
      this.timer = setInterval(run, this.config.orphanSweepIntervalMs);
      this.timer.unref();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.current?.catch(() => undefined);
  }

  /** One sweep (joins the one under way). */
  sweep(): Promise<SweepReport> {
    if (!this.current) {
      this.current = this.sweepOnce().finally(() => {
        this.current = undefined;
      });
    }
    return this.current;
  }

  private async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = { knowledgeBases: 0, documents: 0, chunkedDocuments: 0, contents: 0, jobs: 0, requeued: 0 };
    const purgedKbs = new Set<string>();
    const purge = async (tenantId: string, kbId: string) => {
      if (purgedKbs.has(kbId)) return;
      purgedKbs.add(kbId);
      await this.documents.purgeKnowledgeBase(new TenantContext(tenantId), kbId);
    };

    // KBs of deleted tenants: the KB row, then everything in it
    await this.walk(
      'SELECT id, tenant_id FROM knowledge_bases WHERE id > {after} ORDER BY id',
      (rows, manager) => this.withoutParent(rows, 'tenants', (row) => row.tenant_id, manager),
      async (orphans) => {
        for (const kb of orphans) {
          await this.dataSource.transaction((manager) => manager.delete(KnowledgeBaseEntity, { id: kb.id, tenantId: kb.tenant_id }));
          await purge(kb.tenant_id, kb.id);
        }
        report.knowledgeBases += orphans.length;
      },
    );

    // documents of deleted KBs: the whole KB's documents and index entries
    await this.walk(
      'SELECT id, tenant_id, kb_id FROM documents WHERE id > {after} ORDER BY id',
      async (rows, manager) => {
        const documents = rows as Array<Row & { kb_id: string }>;
        const kbs = await this.existing('knowledge_bases', [...new Set(documents.map((d) => d.kb_id))], true, manager);
        return documents.filter((d) => kbs.get(d.kb_id) !== d.tenant_id);
      },
      async (orphans) => {
        for (const document of orphans as Array<Row & { kb_id: string }>) await purge(document.tenant_id, document.kb_id);
        report.documents += orphans.length;
      },
    );

    // chunks, bytes and jobs of deleted documents
    const withoutDocument = (rows: Row[], manager: EntityManager) => this.withoutParent(rows, 'documents', (row) => row.id, manager);
    await this.walk(
      'SELECT document_id AS id, MIN(tenant_id) AS tenant_id FROM chunks WHERE document_id > {after} GROUP BY document_id ORDER BY document_id',
      withoutDocument,
      async (orphans) => {
        await this.cleaner.removeDocuments(orphans.map((row) => ({ tenantId: row.tenant_id, documentId: row.id })));
        report.chunkedDocuments += await this.deleteWithoutDocument(orphans, (manager, ids) =>
          manager.delete(ChunkEntity, { documentId: In(ids) }),
        );
      },
    );
    await this.walk(
      'SELECT document_id AS id, tenant_id FROM document_contents WHERE document_id > {after} ORDER BY document_id',
      withoutDocument,
      async (orphans) => {
        report.contents += await this.deleteWithoutDocument(orphans, (manager, ids) =>
          manager.delete(DocumentContentEntity, { documentId: In(ids) }),
        );
      },
    );
    await this.walk(
      'SELECT document_id AS id, MIN(tenant_id) AS tenant_id FROM ingestion_jobs WHERE document_id > {after} GROUP BY document_id ORDER BY document_id',
      withoutDocument,
      async (orphans) => {
        report.jobs += await this.deleteWithoutDocument(orphans, (manager, ids) =>
          manager.delete(IngestionJobEntity, { documentId: In(ids) }),
        );
      },
    );

    report.requeued = await this.requeueWithoutLease();
    if (Object.values(report).some((n) => n > 0)) this.logger.log({ message: 'orphan sweep removed leftovers', ...report });
    return report;
  }

  /**
   * Pages of `sql` (ordered by the key aliased `id`, `{after}` the key bound), `PAGE` rows each,
   * until the table ends or shutdown. Each page and the check of its parents are read in one
   * transaction (on SQLite, in its turn: never in the middle of another transaction's writes);
   * the orphans found are then handled outside it.
   */
  private async walk(
    sql: string,
    orphansOf: (rows: Row[], manager: EntityManager) => Promise<Row[]>,
    handle: (orphans: Row[]) => Promise<void>,
  ): Promise<void> {
    const text = `${sql.replace('{after}', this.postgres ? '$1' : '?')} LIMIT ${PAGE}`;
    let after = '';
    while (!this.stopping) {
      const { rows, orphans } = await this.dataSource.transaction(async (manager) => {
        const page = await manager.query<Row[]>(text, [after]);
        return { rows: page, orphans: page.length > 0 ? await orphansOf(page, manager) : [] };
      });
      if (rows.length === 0) return;
      after = String(rows[rows.length - 1].id);
      if (orphans.length > 0) await handle(orphans);
      if (rows.length < PAGE) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The rows whose parent (`table`.id = parentId(row)) does not exist. */
  private async withoutParent(rows: Row[], table: string, parentId: (row: Row) => string, manager: EntityManager): Promise<Row[]> {
    const present = await this.existing(table, [...new Set(rows.map(parentId))], false, manager);
    return rows.filter((row) => !present.has(parentId(row)));
  }

  /** id → tenant_id (or id → id) of the rows of `table` that exist among `ids`. */
  private async existing(table: string, ids: string[], withTenant: boolean, manager: EntityManager): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const list = ids.map((_, i) => (this.postgres ? `$${i + 1}` : '?')).join(', ');
    const rows = await manager.query<Row[]>(`SELECT id${withTenant ? ', tenant_id' : ''} FROM ${table} WHERE id IN (${list})`, ids);
    return new Map(rows.map((row) => [String(row.id), withTenant ? String(row.tenant_id) : String(row.id)]));
  }

  /** Deletes, in one transaction that re-checks, the rows of these documents that still have no document; returns how many documents that was. */
  private async deleteWithoutDocument(
    candidates: Row[],
    remove: (manager: EntityManager, documentIds: string[]) => Promise<unknown>,
  ): Promise<number> {
    if (candidates.length === 0) return 0;
    return this.dataSource.transaction(async (manager) => {
      const present = await this.existing(
        'documents',
        candidates.map((row) => row.id),
        false,
        manager,
      );
      const orphans = candidates.map((row) => row.id).filter((id) => !present.has(id));
      if (orphans.length > 0) await remove(manager, orphans);
      return orphans.length;
    });
  }

  /** Jobs `running` with no lease (no claim matches them): queued again, so a worker takes them (or finds their document gone and ends them). */
  private async requeueWithoutLease(): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const jobs = await this.dataSource.getRepository(IngestionJobEntity).find({
        select: { id: true, attempts: true },
        where: { status: 'running', leaseOwner: IsNull(), leaseExpiresAt: IsNull() },
        take: PAGE,
      });
      if (jobs.length === 0) break;
      const now = nowIso();
      await this.dataSource.transaction((manager) =>
        manager
          .createQueryBuilder()
          .update(IngestionJobEntity)
          .set({ status: 'queued', runAfter: now, updatedAt: now })
          .where("id IN (:...ids) AND status = 'running' AND lease_owner IS NULL AND lease_expires_at IS NULL", {
            ids: jobs.map((job) => job.id),
          })
          .execute(),
      );
      await this.queue.dispatch(jobs.map((job) => ({ id: job.id, tenantId: job.tenantId, attempts: job.attempts })));
      total += jobs.length;
      if (jobs.length < PAGE) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return total;
  }
}
