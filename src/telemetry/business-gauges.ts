import * as fs from 'node:fs';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ValueType, type BatchObservableCallback, type Observable } from '@opentelemetry/api';
import { DataSource } from 'typeorm';
import { nowIso } from '../common/clock';
import { connectionPoolStats, HotReads } from '../database';
import { KnowledgeBaseEvents } from '../knowledge-bases';
import { TenantPurgeRegistry } from '../tenants';
import { AppMetrics } from './app-metrics';
import { METRICS } from './metric-names';
import { EMPTY_SNAPSHOT, tenantScopedSeries, type BusinessGaugeSnapshot } from './tenant-series';

/** Counts are grouped, index-covered queries refreshed on a timer; a scrape only reads the cache. */
export const BUSINESS_GAUGE_REFRESH_MS = 10_000;

/**
 * The guide's business gauges (active_api_keys, knowledge_bases_total, documents_total,
 * chunks_total), read from the database on a timer and served by TenantScopedSeries (so a deleted
 * KB's or tenant's series leave at once); the database pool gauges and the process_* metrics, as
 * observable instruments.
 */
@Injectable()
export class BusinessGauges implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('BusinessGauges');
  private snapshot: BusinessGaugeSnapshot = EMPTY_SNAPSHOT;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private callback?: BatchObservableCallback;
  private observables: Observable[] = [];

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly hotReads: HotReads,
    private readonly kbEvents: KnowledgeBaseEvents,
    private readonly tenantPurges: TenantPurgeRegistry,
    private readonly metrics: AppMetrics,
  ) {}

  async onModuleInit(): Promise<void> {
    const meter = this.metrics.meter;
    const gauge = (name: string, description: string) => meter.createObservableGauge(name, { description, valueType: ValueType.INT });
    const dbActive = gauge(METRICS.databaseConnectionsActive.name, 'Database connections in use');
    const dbIdle = gauge(METRICS.databaseConnectionsIdle.name, 'Idle database connections');
    const cpu = meter.createObservableCounter(METRICS.processCpuSecondsTotal.name, {
      description: 'Total user and system CPU time spent in seconds',
      valueType: ValueType.DOUBLE,
    });
    const rss = gauge(METRICS.processResidentMemoryBytes.name, 'Resident memory size in bytes');
    const fds = gauge(METRICS.processOpenFds.name, 'Number of open file descriptors');
    this.observables = [dbActive, dbIdle, cpu, rss, fds];

    this.callback = (result) => {
      const pool = connectionPoolStats(this.dataSource);
      result.observe(dbActive, pool.active);
      result.observe(dbIdle, pool.idle);
      const usage = process.cpuUsage();
      result.observe(cpu, (usage.user + usage.system) / 1e6);
      result.observe(rss, process.memoryUsage.rss());
      const openFds = countOpenFds();
      if (openFds !== undefined) result.observe(fds, openFds);
    };
    meter.addBatchObservableCallback(this.callback, this.observables);
    // a deleted KB's or tenant's series are gone by the next scrape, not the next refresh
    this.kbEvents.onDeleted(async (_tenant, kb) => tenantScopedSeries().forgetKnowledgeBase(kb.id));
    this.tenantPurges.register(async (tenant) => tenantScopedSeries().forgetTenant(tenant.tenantId));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), BUSINESS_GAUGE_REFRESH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.callback) this.metrics.meter.removeBatchObservableCallback(this.callback, this.observables);
  }

  /** Re-reads the counts now (also used by tests instead of waiting for the timer). */
  refresh(): Promise<void> {
    this.refreshing ??= this.load()
      .then((snapshot) => {
        this.snapshot = snapshot;
        tenantScopedSeries().setBusinessGauges(snapshot);
      })
      .catch((error: Error) => this.logger.warn({ message: 'business gauge refresh failed', exception: error.message }))
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /**
   * On SQLite the counts run on the reader thread (HotReads), not on the event loop: grouping 86k
   * chunks takes ~7 ms, and it grows with the data, every refresh.
   */
  private async load(): Promise<BusinessGaugeSnapshot> {
    if (!this.dataSource.isInitialized) return this.snapshot;
    const readAt = Date.now();
    const q = (sql: string, params: Record<string, string> = {}) =>
      this.hotReads.rows(sql, params) as Promise<Array<Record<string, string | number>>>;
    const [keys, kbs, docs, chunks, kbIds] = await Promise.all([
      q(
        'SELECT tenant_id, COUNT(*) AS value FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now) GROUP BY tenant_id',
        { now: nowIso() },
      ),
      q('SELECT tenant_id, COUNT(*) AS value FROM knowledge_bases GROUP BY tenant_id'),
      q('SELECT tenant_id, kb_id, COUNT(*) AS value FROM documents GROUP BY tenant_id, kb_id'),
      q('SELECT tenant_id, kb_id, status, COUNT(*) AS value FROM chunks GROUP BY tenant_id, kb_id, status'),
      // at most TENANT_MAX_KNOWLEDGE_BASES a tenant
      q('SELECT id FROM knowledge_bases'),
    ]);
    return {
      activeApiKeys: keys.map((r) => ({ tenant_id: String(r.tenant_id), value: Number(r.value) })),
      knowledgeBases: kbs.map((r) => ({ tenant_id: String(r.tenant_id), value: Number(r.value) })),
      documents: docs.map((r) => ({ tenant_id: String(r.tenant_id), kb_id: String(r.kb_id), value: Number(r.value) })),
      chunks: chunks.map((r) => ({
        tenant_id: String(r.tenant_id),
        kb_id: String(r.kb_id),
        status: String(r.status),
        value: Number(r.value),
      })),
      liveKbIds: new Set(kbIds.map((r) => String(r.id))),
      readAt,
    };
  }
}

function countOpenFds(): number | undefined {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}
