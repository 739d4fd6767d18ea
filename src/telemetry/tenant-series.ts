import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { METRICS } from './metric-names';

/** The business gauges' counts, as the last refresh read them from the database. */
export interface BusinessGaugeSnapshot {
  activeApiKeys: Array<{ tenant_id: string; value: number }>;
  knowledgeBases: Array<{ tenant_id: string; value: number }>;
  documents: Array<{ tenant_id: string; kb_id: string; value: number }>;
  chunks: Array<{ tenant_id: string; kb_id: string; status: string; value: number }>;
  /** every KB that existed when the refresh started (the refresh's start, epoch ms) */
  liveKbIds: Set<string>;
  readAt: number;
}

export const EMPTY_SNAPSHOT: BusinessGaugeSnapshot = {
  activeApiKeys: [],
  knowledgeBases: [],
  documents: [],
  chunks: [],
  liveKbIds: new Set(),
  readAt: 0,
};

/**
 * A deleted KB's or tenant's id stays blocked this long, so work already under way (a retrieval
 * that began before the delete, a gauge refresh that read the row before it went) cannot bring its
 * series back; the database has forgotten it long before.
 */
const TOMBSTONE_MS = 5 * 60_000;

interface CounterSeries {
  value: number;
  start: HrTime;
  createdAt: number;
}

/**
 * Every metric labelled with `kb_id` or `tenant_id` (retrieval_operations_total and the business
 * gauges), served to the metric readers as a MetricProducer instead of SDK instruments.
 *
 * Why: the SDK keeps every attribute set an instrument has ever reported, sync or observable, for
 * as long as the process lives (cumulative temporality merges each collection into the last), so a
 * deleted KB's series would stay on /metrics and in memory forever. Here the series live in maps
 * this class owns: a KB's are dropped when it is deleted here (the next scrape has none), or,
 * when another replica deleted it, at the first gauge refresh that no longer finds it. Names, types
 * and labels are the guide's; Prometheus sees the same counter and gauges.
 */
export class TenantScopedSeries implements MetricProducer {
  /** kb_id → retriever_type → count */
  private readonly retrievals = new Map<string, Map<string, CounterSeries>>();
  private gauges: BusinessGaugeSnapshot = EMPTY_SNAPSHOT;
  private gaugeTime: HrTime = hrTime();
  /** kb or tenant id → when its block ends (epoch ms) */
  private readonly tombstones = new Map<string, number>();

  countRetrieval(retrieverType: string, kbId: string): void {
    if (this.isForgotten(kbId)) return;
    let byType = this.retrievals.get(kbId);
    if (!byType) {
      byType = new Map();
      this.retrievals.set(kbId, byType);
    }
    const series = byType.get(retrieverType);
    if (series) series.value += 1;
    else byType.set(retrieverType, { value: 1, start: hrTime(), createdAt: Date.now() });
  }

  setBusinessGauges(snapshot: BusinessGaugeSnapshot): void {
    this.gauges = snapshot;
    this.gaugeTime = hrTime();
    // KBs another replica deleted: gone from the database when the refresh started
    for (const [kbId, byType] of this.retrievals) {
      if (snapshot.liveKbIds.has(kbId)) continue;
      for (const [type, series] of byType) if (series.createdAt < snapshot.readAt) byType.delete(type);
      if (byType.size === 0) this.retrievals.delete(kbId);
    }
  }

  forgetKnowledgeBase(kbId: string): void {
    this.bury(kbId);
    this.retrievals.delete(kbId);
  }

  forgetTenant(tenantId: string): void {
    this.bury(tenantId);
  }

  async collect(): Promise<CollectionResult> {
    const now = hrTime();
    this.pruneTombstones();
    const visible = <T extends { tenant_id: string; kb_id?: string }>(rows: T[]) =>
      rows.filter((row) => !this.isForgotten(row.tenant_id) && (row.kb_id === undefined || !this.isForgotten(row.kb_id)));
    const gauge = (metric: { name: string }, description: string, rows: Array<{ value: number } & Attributes>): MetricData => ({
      descriptor: { name: metric.name, description, unit: '', valueType: ValueType.INT },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: rows.map(({ value, ...attributes }) => ({ startTime: this.gaugeTime, endTime: now, attributes, value })),
    });
    const retrievalPoints = [...this.retrievals].flatMap(([kbId, byType]) =>
      [...byType].map(([type, series]) => ({
        startTime: series.start,
        endTime: now,
        attributes: { retriever_type: type, kb_id: kbId },
        value: series.value,
      })),
    );
    const g = this.gauges;
    const metrics: MetricData[] = [
      {
        descriptor: {
          name: METRICS.retrievalOperationsTotal.name,
          description: 'Retrieval operations',
          unit: '',
          valueType: ValueType.INT,
        },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: retrievalPoints,
      },
      gauge(METRICS.activeApiKeys, 'Active (not revoked, not expired) API keys', visible(g.activeApiKeys)),
      gauge(METRICS.knowledgeBasesTotal, 'Knowledge bases', visible(g.knowledgeBases)),
      gauge(METRICS.documentsTotal, 'Documents', visible(g.documents)),
      gauge(METRICS.chunksTotal, 'Chunks by indexing status', visible(g.chunks)),
    ];
    return {
      resourceMetrics: {
        resource: emptyResource(),
        // a family with no series is left out, as the SDK does for an instrument that recorded nothing
        scopeMetrics: [{ scope: { name: 'self-rag-pipeline' }, metrics: metrics.filter((m) => m.dataPoints.length > 0) }],
      },
      errors: [],
    };
  }

  private bury(id: string): void {
    this.pruneTombstones();
    this.tombstones.set(id, Date.now() + TOMBSTONE_MS);
  }

  private isForgotten(id: string): boolean {
    const until = this.tombstones.get(id);
    return until !== undefined && until > Date.now();
  }

  private pruneTombstones(): void {
    const now = Date.now();
    for (const [id, until] of this.tombstones) if (until <= now) this.tombstones.delete(id);
  }
}

/** One per process: the metric readers (sdk.ts) and the recorders share it. */
let shared: TenantScopedSeries | undefined;
export function tenantScopedSeries(): TenantScopedSeries {
  shared ??= new TenantScopedSeries();
  return shared;
}
