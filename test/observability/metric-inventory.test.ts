import { describe, expect, it } from 'vitest';
import {
  alertRules,
  dashboardQueries,
  knownMetrics,
  metricNames,
  recordingRules,
  runbookQueries,
  serviceMetrics,
  seriesNames,
} from './helpers';

describe('the PromQL metric-name lexer', () => {
  it('finds metric names and skips functions, keywords, labels, strings, ranges and durations', () => {
    expect(
      metricNames(
        'sum by (job, le) (rate(http_request_duration_seconds_bucket{job="x", le=~"2|5"}[5m])) / on (job) group_left () up offset 1h',
      ),
    ).toEqual(['http_request_duration_seconds_bucket', 'up']);
    expect(metricNames('predict_linear(node_filesystem_avail_bytes[30d], 30 * 86400) > bool 0.5 and slo:objective:ratio')).toEqual([
      'node_filesystem_avail_bytes',
      'slo:objective:ratio',
    ]);
    expect(metricNames('label_replace(vector(1), "dst", "$1", "src", "(.*)") unless absent(foo_total)')).toEqual(['foo_total']);
    expect(metricNames('avg_over_time(rate(x_total{job="$job"}[$__rate_interval])[7d:1h])')).toEqual(['x_total']);
  });
});

describe('every metric a dashboard, rule or runbook uses', () => {
  const known = knownMetrics();
  const sources = [
    ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    ...recordingRules().map((r) => ({ where: `record ${r.record}`, expr: r.expr })),
    ...dashboardQueries()
      .filter((q) => q.datasource === 'prometheus')
      .map((q) => ({ where: `${q.dashboard} / ${q.panel}`, expr: q.expr })),
    ...runbookQueries().map((q) => ({ where: `runbook ${q.file}`, expr: q.expr })),
  ];

  it('is exported by the service, recorded by a rule, or on the explicit list of exporter/Collector metrics', () => {
    const unknown = sources.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !known.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('reads the service families from src/telemetry/metric-names.ts', () => {
    const names = serviceMetrics().map((m) => m.name);
    expect(names).toContain('http_requests_total');
    expect(names).toContain('http_request_duration_seconds');
    expect(names.length).toBeGreaterThanOrEqual(22);
  });

  it('covers every family the service exports on at least one dashboard', () => {
    const onDashboards = new Set(dashboardQueries().flatMap((q) => metricNames(q.expr)));
    const viaRecordings = new Set(
      recordingRules()
        .filter((r) => onDashboards.has(r.record!))
        .flatMap((r) => metricNames(r.expr)),
    );
    const missing = serviceMetrics().filter((family) => !seriesNames(family).some((s) => onDashboards.has(s) || viaRecordings.has(s)));
    expect(missing.map((f) => f.name)).toEqual([]);
  });

  it('would catch a misspelt metric (the check can fail)', () => {
    expect(metricNames('rate(http_request_total[5m])').filter((n) => !known.has(n))).toEqual(['http_request_total']);
  });
});
