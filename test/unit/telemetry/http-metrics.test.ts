import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
} from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { describe, expect, it } from 'vitest';
import { AppMetrics } from '../../../src/telemetry/app-metrics';
import { BUCKETS, METRICS, SEMCONV_METRICS } from '../../../src/telemetry/metric-names';
import { PreAggregatedSeries } from '../../../src/telemetry/pre-aggregated-series';

/** AppMetrics whose per-request families go to their own producer, read by the reader with the SDK's instruments */
function appMetricsRead(): { metrics: AppMetrics; reader: MetricReader } {
  const perRequest = new PreAggregatedSeries();
  perRequest.enable();
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
    metricProducers: [perRequest],
  });
  return { metrics: new AppMetrics(new MeterProvider({ readers: [reader] }).getMeter('test'), perRequest), reader };
}

async function collect(reader: MetricReader) {
  const { resourceMetrics } = await reader.collect();
  return Object.fromEntries(
    resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m.dataPoints.map((p) => p.attributes)]),
  );
}

describe('HTTP metrics from one measurement', () => {
  it("record the guide's families and the semantic-convention http.server.request.duration with the same route", async () => {
    const { metrics, reader } = appMetricsRead();
    metrics.recordHttp('POST', '/v1/retrieve', 200, 0.01, { statusCode: 200, matched: true, protocolVersion: '1.1' });
    metrics.recordHttp('POST', '/v1/retrieve', 200, 0.02, { statusCode: 200, matched: true, protocolVersion: '1.1' });
    metrics.recordHttp('BREW', 'unmatched', 503, 0.01, { statusCode: 503, matched: false, protocolVersion: '1.1' });
    const families = await collect(reader);
    expect(families['http_requests_total']).toEqual([
      { method: 'POST', endpoint: '/v1/retrieve', status_code: '200' },
      { method: 'BREW', endpoint: 'unmatched', status_code: '503' },
    ]);
    expect(families['http.server.request.duration']).toEqual([
      {
        'http.request.method': 'POST',
        'url.scheme': 'http',
        'network.protocol.version': '1.1',
        'http.route': '/v1/retrieve',
        'http.response.status_code': 200,
      },
      // an unknown method is `_OTHER`, an unmatched request has no route, a 5xx names its error type
      {
        'http.request.method': '_OTHER',
        'url.scheme': 'http',
        'network.protocol.version': '1.1',
        'http.response.status_code': 503,
        'error.type': '503',
      },
    ]);
  });

  it('one series per label set of each family: a request the client abandoned shares the semantic-convention series of a finished one', async () => {
    const { metrics, reader } = appMetricsRead();
    metrics.recordHttp('POST', '/v1/rag', 200, 0.5, { statusCode: 200, matched: true, protocolVersion: '1.1' });
    metrics.recordHttp('POST', '/v1/rag', 499, 3, { statusCode: 200, matched: true, protocolVersion: '1.1' });
    metrics.recordHttp('BREW', 'unmatched', 404, 0.001, { statusCode: 404, matched: false, protocolVersion: '1.1' });
    metrics.recordHttp('FOO', 'unmatched', 404, 0.001, { statusCode: 404, matched: false, protocolVersion: '1.1' });
    const { resourceMetrics } = await reader.collect();
    const points = (name: string) =>
      resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name)!.dataPoints as Array<{
        attributes: object;
        value: unknown;
      }>;
    expect(points('http_requests_total').map((p) => [p.attributes, p.value])).toEqual([
      [{ method: 'POST', endpoint: '/v1/rag', status_code: '200' }, 1],
      [{ method: 'POST', endpoint: '/v1/rag', status_code: '499' }, 1],
      [{ method: 'BREW', endpoint: 'unmatched', status_code: '404' }, 1],
      [{ method: 'FOO', endpoint: 'unmatched', status_code: '404' }, 1],
    ]);
    const server = points('http.server.request.duration');
    expect(server.map((p) => [p.attributes, (p.value as { count: number }).count])).toEqual([
      [expect.objectContaining({ 'http.route': '/v1/rag', 'http.response.status_code': 200 }), 2],
      [expect.objectContaining({ 'http.request.method': '_OTHER', 'http.response.status_code': 404 }), 2],
    ]);
    expect(server[0].value).toMatchObject({ sum: 3.5, min: 0.5, max: 3 });
  });
});

describe('pre-aggregated HTTP families', () => {
  it('read on /metrics exactly as the SDK instruments they replace (names, help, units, labels, buckets, counts, sums)', async () => {
    const { metrics, reader } = appMetricsRead();
    // the SDK instruments the three families were, recording the same requests
    const sdkReader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meter = new MeterProvider({ readers: [sdkReader] }).getMeter('test');
    const requests = meter.createCounter(METRICS.httpRequestsTotal.name, { description: 'Total HTTP requests', valueType: ValueType.INT });
    const duration = meter.createHistogram(METRICS.httpRequestDuration.name, {
      description: 'HTTP request duration',
      unit: 's',
      advice: { explicitBucketBoundaries: [...BUCKETS.http] },
    });
    const server = meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP server requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...SEMCONV_METRICS.httpServerRequestDuration.buckets] },
    });
    // values on bucket boundaries, between them, past the last one
    const seconds = [0.005, 0.0051, 0.25, 0.3, 2.5, 11, 0.005];
    for (const value of seconds) {
      metrics.recordHttp('GET', '/v1/knowledge-bases/:kb_id', 200, value, { statusCode: 200, matched: true, protocolVersion: '1.1' });
      requests.add(1, { method: 'GET', endpoint: '/v1/knowledge-bases/:kb_id', status_code: '200' });
      duration.record(value, { method: 'GET', endpoint: '/v1/knowledge-bases/:kb_id' });
      server.record(value, {
        'http.request.method': 'GET',
        'url.scheme': 'http',
        'network.protocol.version': '1.1',
        'http.route': '/v1/knowledge-bases/:kb_id',
        'http.response.status_code': 200,
      });
    }
    const text = async (from: MetricReader) =>
      new PrometheusSerializer(undefined, false, undefined, true, true).serialize((await from.collect()).resourceMetrics);
    const ours = await text(reader);
    expect(ours).toContain('http_request_duration_seconds_bucket');
    expect(ours).toBe(await text(sdkReader));
  });

  it('vector store operations read exactly as the SDK instruments they replace', async () => {
    const { metrics, reader } = appMetricsRead();
    const sdkReader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meter = new MeterProvider({ readers: [sdkReader] }).getMeter('test');
    const operations = meter.createCounter(METRICS.vectorStoreOperationsTotal.name, {
      description: 'Vector store operations',
      valueType: ValueType.INT,
    });
    const duration = meter.createHistogram(METRICS.vectorStoreOperationDuration.name, {
      description: 'Vector store operation duration',
      unit: 's',
      advice: { explicitBucketBoundaries: [...BUCKETS.vectorStore] },
    });
    const calls: Array<[string, string, 'success' | 'error', number]> = [
      ['search', 'chunks_a', 'success', 0.0004],
      ['search', 'chunks_a', 'success', 0.0025],
      ['search', 'chunks_a', 'error', 3],
      ['upsert', 'chunks_b', 'success', 0.02],
    ];
    for (const [operation, collection, status, seconds] of calls) {
      metrics.recordVectorStoreOperation(operation, collection, status, seconds);
      operations.add(1, { operation, collection, status });
      duration.record(seconds, { operation, collection });
    }
    const text = async (from: MetricReader) =>
      new PrometheusSerializer(undefined, false, undefined, true, true).serialize((await from.collect()).resourceMetrics);
    const ours = await text(reader);
    expect(ours).toContain('vector_store_operations_total{operation="search",collection="chunks_a",status="error"} 1');
    expect(ours).toBe(await text(sdkReader));
  });
});
