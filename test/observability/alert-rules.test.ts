import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OBS, alertRules, metricNames, readYaml, recordingRules, serviceMetrics, seriesNames } from './helpers';

const alerts = alertRules();
const SEVERITIES = ['critical', 'high', 'medium', 'low'];
const GUIDE_ALERTS = [
  'ServiceDown',
  'HighErrorRate',
  'HighLatency',
  'DatabaseConnectionsHigh',
  'LLMCallFailureRate',
  'DiskSpaceHigh',
  'MemoryUsageHigh',
  'VectorStoreOperationFailures',
  'DocumentIngestionFailures',
  'RetrievalOperationAnomalies',
  'TenantQuotaExceeded',
];
const byName = (name: string) => alerts.find((a) => a.alert === name)!;
const oneLine = (expr: string) => expr.replace(/\s+/g, ' ');

describe('alert rules', () => {
  it("keep every one of the guide's eleven alerts", () => {
    expect(GUIDE_ALERTS.filter((name) => !byName(name))).toEqual([]);
  });

  it('have unique names', () => {
    const names = alerts.map((a) => a.alert);
    expect(names.length).toBe(new Set(names).size);
  });

  it('carry severity (the P0-P3 grades), team, summary, description and runbook_url', () => {
    for (const alert of alerts) {
      expect(SEVERITIES, alert.alert).toContain(alert.labels?.severity);
      expect(alert.labels?.team, alert.alert).toMatch(/^(platform|ai|infrastructure|business)$/);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      expect(alert.annotations?.runbook_url, alert.alert).toBe(`observability/runbooks/${alert.alert}.md`);
    }
  });

  it('each point at a runbook that exists and is about that alert, and every runbook has its alert', () => {
    const dir = path.join(OBS, 'runbooks');
    for (const alert of alerts) {
      const file = path.join(dir, `${alert.alert}.md`);
      expect(fs.existsSync(file), file).toBe(true);
      const text = fs.readFileSync(file, 'utf8');
      expect(text.split('\n')[0]).toBe(`# ${alert.alert}`);
      for (const section of ['## What it means', '## First queries', '## Likely causes and fixes'])
        expect(text, `${alert.alert}: ${section}`).toContain(section);
      expect(text).toContain(`**Severity:** ${alert.labels!.severity}`);
    }
    const orphans = fs.readdirSync(dir).filter((f) => !alerts.some((a) => `${a.alert}.md` === f));
    expect(orphans).toEqual([]);
  });

  it('HighErrorRate divides sums over the same labels (the guide divided mismatched series)', () => {
    const expr = oneLine(byName('HighErrorRate').expr);
    expect(expr).toMatch(
      /sum by \(job\) \(rate\(http_requests_total\{[^}]*status_code=~"5\.\."[^}]*\}\[5m\]\)\) \/ sum by \(job\) \(rate\(http_requests_total\{/,
    );
    expect(expr).toContain('> 0.05');
  });

  it('compute ratios and quantiles from aggregated series only', () => {
    for (const rule of [...alerts, ...recordingRules()]) {
      const expr = oneLine(rule.expr);
      // histogram_quantile over raw buckets keeps one series per label set instead of one quantile
      if (expr.includes('histogram_quantile('))
        expect(expr, rule.alert ?? rule.record).toMatch(/histogram_quantile\([\d.]+, (sum by \([^)]*\ble\b[^)]*\)|job_endpoint_le:)/);
    }
  });

  it('select endpoints by route template, never by a raw path', () => {
    const retrieval = oneLine(byName('RetrievalOperationAnomalies').expr);
    expect(retrieval).toContain('endpoint="/v1/retrieve"');
    for (const rule of [...alerts, ...recordingRules()]) {
      for (const m of rule.expr.matchAll(/endpoint=~?"([^"]*)"/g)) {
        // a path segment that is an id would be a raw path: route templates use :param
        expect(m[1], rule.alert ?? rule.record).not.toMatch(/\/[0-9a-f-]{8,}/);
      }
    }
  });

  it("select the service's families from the rag-pipeline-api job only", () => {
    const families = new Set(serviceMetrics().flatMap(seriesNames));
    for (const rule of [...alerts, ...recordingRules()]) {
      for (const selector of rule.expr.matchAll(/([a-z_:][a-z0-9_:]*)\{([^}]*)\}/g)) {
        if (families.has(selector[1]))
          expect(selector[2], `${rule.alert ?? rule.record}: ${selector[0]}`).toContain('job="rag-pipeline-api"');
      }
      for (const name of metricNames(rule.expr)) {
        if (families.has(name)) expect(rule.expr, `${rule.alert ?? rule.record}: bare ${name}`).toMatch(new RegExp(`${name}\\{`));
      }
    }
  });

  it('burn-rate alerts pair the workbook windows with their factors', () => {
    const expected: Array<[string, number, string, string]> = [
      ['SLOAvailabilityBurnRate1h', 14.4, '1h', '5m'],
      ['SLOAvailabilityBurnRate6h', 6, '6h', '30m'],
      ['SLOAvailabilityBurnRate1d', 3, '1d', '2h'],
      ['SLOAvailabilityBurnRate3d', 1, '3d', '6h'],
    ];
    for (const [name, factor, long, short] of expected) {
      const expr = oneLine(byName(name).expr);
      for (const window of [long, short]) {
        expect(expr, name).toContain(
          `slo:sli_error:ratio_rate${window}{slo="availability"} > on (slo) group_left () (${factor} * (1 - slo:objective:ratio))`,
        );
      }
    }
    const fast = oneLine(byName('SLOLatencyBurnRateFast').expr);
    const slow = oneLine(byName('SLOLatencyBurnRateSlow').expr);
    for (const [w, f] of [
      ['1h', 14.4],
      ['5m', 14.4],
      ['6h', 6],
      ['30m', 6],
    ] as const)
      expect(fast).toContain(`ratio_rate${w}{slo="latency"} > on (slo) group_left () (${f} *`);
    for (const [w, f] of [
      ['1d', 3],
      ['2h', 3],
      ['3d', 1],
      ['6h', 1],
    ] as const)
      expect(slow).toContain(`ratio_rate${w}{slo="latency"} > on (slo) group_left () (${f} *`);
  });

  it("encode the guide's objectives: 99.9 % availability, 95 % of requests under 2 s", () => {
    const objectives = recordingRules().filter((r) => r.record === 'slo:objective:ratio');
    expect(objectives.map((r) => [r.labels!.slo, r.expr])).toEqual([
      ['availability', 'vector(0.999)'],
      ['latency', 'vector(0.95)'],
    ]);
    const latency = recordingRules().filter((r) => r.record?.startsWith('slo:sli_error:') && r.labels?.slo === 'latency');
    for (const rule of latency) expect(rule.expr).toContain('le=~"2|2\\\\.0"');
  });

  it('watch the Collector with its real self-metric names', () => {
    const used = new Set(alerts.filter((a) => a.alert!.startsWith('OtelCollector')).flatMap((a) => metricNames(a.expr)));
    for (const name of [
      'otelcol_receiver_refused_spans_total',
      'otelcol_exporter_send_failed_spans_total',
      'otelcol_exporter_enqueue_failed_spans_total',
      'otelcol_exporter_queue_size',
      'otelcol_exporter_queue_capacity',
      'up',
    ])
      expect(used).toContain(name);
  });

  it('use severities that Alertmanager routes', () => {
    const config = readYaml(path.join(OBS, 'alertmanager', 'alertmanager.yml'));
    const text = JSON.stringify(config.route);
    for (const severity of new Set(alerts.map((a) => a.labels!.severity))) expect(text).toContain(severity);
  });
});
