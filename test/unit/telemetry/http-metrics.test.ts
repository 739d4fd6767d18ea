import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { AppMetrics } from '../../../src/telemetry/app-metrics';

async function collect(reader: MetricReader) {
  const { resourceMetrics } = await reader.collect();
  return Object.fromEntries(
    resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m.dataPoints.map((p) => p.attributes)]),
  );
}

describe('HTTP metrics from one measurement', () => {
  it("record the guide's families and the semantic-convention http.server.request.duration with the same route", async () => {
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const metrics = new AppMetrics(new MeterProvider({ readers: [reader] }).getMeter('test'));
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
});
