import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { EMPTY_SNAPSHOT, TenantScopedSeries, type BusinessGaugeSnapshot } from '../../../src/telemetry/tenant-series';

/** A real MeterProvider and Prometheus reader with the producer, as sdk.ts wires them. */
function scrapeWith(series: TenantScopedSeries) {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [series] });
  const provider = new MeterProvider({ readers: [exporter] });
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  const scrape = async () => serializer.serialize((await exporter.collect()).resourceMetrics);
  return { provider, scrape };
}

const gauges = (over: Partial<BusinessGaugeSnapshot>): BusinessGaugeSnapshot => ({ ...EMPTY_SNAPSHOT, readAt: Date.now(), ...over });

describe('TenantScopedSeries', () => {
  it("serves retrieval_operations_total as the guide's counter, and a deleted KB's series are gone from the next scrape", async () => {
    const series = new TenantScopedSeries();
    const { provider, scrape } = scrapeWith(series);
    series.countRetrieval('hybrid', 'kb-1');
    series.countRetrieval('hybrid', 'kb-1');
    series.countRetrieval('dense', 'kb-2');
    series.setBusinessGauges(
      gauges({
        knowledgeBases: [{ tenant_id: 't1', value: 2 }],
        documents: [
          { tenant_id: 't1', kb_id: 'kb-1', value: 3 },
          { tenant_id: 't1', kb_id: 'kb-2', value: 1 },
        ],
        chunks: [{ tenant_id: 't1', kb_id: 'kb-1', status: 'indexed', value: 9 }],
        liveKbIds: new Set(['kb-1', 'kb-2']),
      }),
    );
    const before = await scrape();
    expect(before).toContain('# TYPE retrieval_operations_total counter');
    expect(before).toContain('retrieval_operations_total{retriever_type="hybrid",kb_id="kb-1"} 2');
    expect(before).toContain('documents_total{tenant_id="t1",kb_id="kb-1"} 3');
    expect(before).toContain('# TYPE chunks_total gauge');

    series.forgetKnowledgeBase('kb-1');
    const after = await scrape();
    expect(after).not.toContain('kb-1');
    expect(after).toContain('retrieval_operations_total{retriever_type="dense",kb_id="kb-2"} 1');
    expect(after).toContain('documents_total{tenant_id="t1",kb_id="kb-2"} 1');
    // a retrieval that was under way when the KB went, and a refresh that read it before, bring nothing back
    series.countRetrieval('hybrid', 'kb-1');
    series.setBusinessGauges(gauges({ documents: [{ tenant_id: 't1', kb_id: 'kb-1', value: 3 }], liveKbIds: new Set(['kb-1', 'kb-2']) }));
    expect(await scrape()).not.toContain('kb-1');
    await provider.shutdown();
  });

  it("drops a deleted tenant's gauges at once", async () => {
    const series = new TenantScopedSeries();
    const { provider, scrape } = scrapeWith(series);
    series.setBusinessGauges(
      gauges({
        activeApiKeys: [
          { tenant_id: 't1', value: 1 },
          { tenant_id: 't2', value: 4 },
        ],
        knowledgeBases: [{ tenant_id: 't1', value: 1 }],
      }),
    );
    series.forgetTenant('t1');
    const text = await scrape();
    expect(text).not.toContain('"t1"');
    expect(text).toContain('active_api_keys{tenant_id="t2"} 4');
    await provider.shutdown();
  });

  it('drops the retrieval series of a KB another replica deleted, at the first refresh that no longer finds it', async () => {
    const series = new TenantScopedSeries();
    const { provider, scrape } = scrapeWith(series);
    series.countRetrieval('sparse', 'kb-gone');
    await new Promise((resolve) => setTimeout(resolve, 5));
    series.setBusinessGauges(gauges({ liveKbIds: new Set() }));
    expect(await scrape()).not.toContain('kb-gone');
    // a KB created (and searched) after the refresh started is not mistaken for a deleted one
    const readAt = Date.now() - 1000;
    series.countRetrieval('sparse', 'kb-new');
    series.setBusinessGauges(gauges({ liveKbIds: new Set(), readAt }));
    expect(await scrape()).toContain('kb_id="kb-new"');
    await provider.shutdown();
  });

  it('is needed: an SDK counter keeps a series after its last use, for good', async () => {
    const series = new TenantScopedSeries();
    const { provider, scrape } = scrapeWith(series);
    provider.getMeter('probe').createCounter('probe_total').add(1, { kb_id: 'kb-1' });
    expect(await scrape()).toContain('probe_total{kb_id="kb-1"} 1');
    expect(await scrape()).toContain('probe_total{kb_id="kb-1"} 1');
    await provider.shutdown();
  });
});
