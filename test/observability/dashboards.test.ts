import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus-server';
import { waitFor } from '../support/ports';
import {
  ALERT_RULES,
  OBS,
  RECORDING_RULES,
  dashboardQueries,
  dashboards,
  externalExposition,
  readYaml,
  ruleGroups,
  runbookQueries,
  serviceExposition,
  substituteGrafanaVariables,
} from './helpers';

const datasources = readYaml(path.join(OBS, 'grafana', 'provisioning', 'datasources', 'datasources.yaml')).datasources as any[];
const byUid = (uid: string) => datasources.find((d) => d.uid === uid);

describe('Grafana provisioning', () => {
  it('provisions Prometheus, Loki, Tempo and Alertmanager with fixed uids', () => {
    expect(datasources.map((d) => [d.uid, d.type])).toEqual([
      ['prometheus', 'prometheus'],
      ['tempo', 'tempo'],
      ['loki', 'loki'],
      ['alertmanager', 'alertmanager'],
    ]);
  });

  it('links metrics, traces and logs both ways', () => {
    expect(byUid('prometheus').jsonData.exemplarTraceIdDestinations).toEqual([
      expect.objectContaining({ name: 'trace_id', datasourceUid: 'tempo' }),
    ]);
    const tempo = byUid('tempo').jsonData;
    expect(tempo.tracesToLogsV2.datasourceUid).toBe('loki');
    expect(tempo.tracesToLogsV2.query).toContain('trace_id="$${__trace.traceId}"');
    expect(tempo.tracesToMetrics.datasourceUid).toBe('prometheus');
    expect(tempo.serviceMap.datasourceUid).toBe('prometheus');
    const derived = byUid('loki').jsonData.derivedFields;
    expect(derived.every((f: any) => f.datasourceUid === 'tempo')).toBe(true);
    expect(derived.map((f: any) => f.matcherType).sort()).toEqual(['label', 'regex']);
    // the regex field must catch the trace id of a stdout JSON line
    const regex = new RegExp(derived.find((f: any) => f.matcherType === 'regex').matcherRegex);
    expect(regex.exec('{"level":"info","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}')?.[1]).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
  });

  it('escapes Grafana expressions from environment expansion ($$)', () => {
    const text = JSON.stringify(datasources);
    expect(text).not.toMatch(/(^|[^$])\$\{__/);
  });

  it('loads the dashboards folder that the compose file mounts', () => {
    const providers = readYaml(path.join(OBS, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml')).providers;
    const compose = readYaml(path.join(OBS, 'docker-compose.yml'));
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${providers[0].options.path}:ro`);
  });
});

describe('dashboards', () => {
  const all = dashboards();

  it("are the guide's two and the three added ones", () => {
    expect(all.map((d) => d.json.title).sort()).toEqual([
      'RAG Pipeline - Business Metrics',
      'RAG Pipeline - Capacity',
      'RAG Pipeline - Ingestion, Retrieval, Self-RAG',
      'RAG Pipeline - SLO',
      'RAG Pipeline - System Overview',
    ]);
    expect(new Set(all.map((d) => d.json.uid)).size).toBe(all.length);
  });

  it("keep the guide's panels", () => {
    const titles = (file: string) => all.find((d) => d.file === file)!.json.panels.map((p: any) => p.title);
    expect(titles('system-overview.json')).toEqual(
      expect.arrayContaining(['Service Status', 'Request Rate', 'Response Time', 'Error Rate']),
    );
    expect(titles('business-metrics.json')).toEqual(
      expect.arrayContaining(['Active Tenants', 'Document Ingestion Rate', 'Retrieval Operations', 'LLM Call Success Rate']),
    );
  });

  it('have unique panel ids, use provisioned data sources, and panels that fit the grid without overlapping', () => {
    for (const { file, json } of all) {
      const ids = json.panels.map((p: any) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      const cells = new Set<string>();
      for (const panel of json.panels) {
        const { x, y, w, h } = panel.gridPos;
        expect(x + w, `${file} ${panel.title}`).toBeLessThanOrEqual(24);
        for (let i = x; i < x + w; i++) {
          for (let j = y; j < y + h; j++) {
            expect(cells.has(`${i},${j}`), `${file} ${panel.title} overlaps`).toBe(false);
            cells.add(`${i},${j}`);
          }
        }
        if (panel.type === 'row') continue;
        expect(byUid(panel.datasource.uid), `${file} ${panel.title}`).toBeTruthy();
        expect(panel.targets.length, `${file} ${panel.title}`).toBeGreaterThan(0);
      }
    }
  });

  it('show the capacity forecasts against the 20-30 % headroom', () => {
    const capacity = all.find((d) => d.file === 'capacity.json')!.json;
    const forecasts = capacity.panels.filter((p: any) => p.targets?.some((t: any) => t.expr.includes('predict_linear')));
    expect(forecasts.length).toBeGreaterThanOrEqual(5);
    for (const panel of forecasts) {
      for (const t of panel.targets) if (t.expr.includes('predict_linear')) expect(t.expr, panel.title).toContain('30 * 86400');
    }
    const headroom = forecasts.filter((p: any) => p.fieldConfig.defaults.unit === 'percentunit');
    for (const panel of headroom)
      expect(
        panel.fieldConfig.defaults.thresholds.steps.map((s: any) => s.value),
        panel.title,
      ).toEqual([null, 0.7, 0.8]);
  });
});

describe('every dashboard query in a real Prometheus', () => {
  let prometheus: RunningPrometheus;
  let exporter: http.Server;
  const started = Date.now();

  beforeAll(async () => {
    // A stand-in for the service, the exporters and the Collector: every family the queries
    // use, with label sets like the real ones, so the queries and rules run on data.
    exporter = http.createServer((req, res) => {
      const seconds = Math.round((Date.now() - started) / 1000) + 1;
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(req.url === '/service' ? serviceExposition(seconds) : externalExposition(seconds));
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
    const port = (exporter.address() as { port: number }).port;
    prometheus = await startPrometheus({
      config: {
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          // two replicas of the API (two instance labels, one stand-in)
          {
            job_name: 'rag-pipeline-api',
            metrics_path: '/service',
            static_configs: [{ targets: [`127.0.0.1:${port}`, `localhost:${port}`] }],
          },
          { job_name: 'node', metrics_path: '/external', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
        ],
      },
      rules: [ALERT_RULES, RECORDING_RULES],
    });
    await waitFor(
      async () => (await prometheus.query('job:http_requests:rate5m')).length > 0,
      30_000,
      'recording rules evaluated on scraped data',
    );
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => exporter?.close(resolve));
  });

  it('evaluates every alert and recording rule without error', async () => {
    const groups = await prometheus.rules();
    const rules = groups.flatMap((g) => g.rules.map((r) => ({ ...r, group: g.name })));
    expect(rules.length).toBe(
      ruleGroups(ALERT_RULES)
        .concat(ruleGroups(RECORDING_RULES))
        .flatMap((g) => g.rules).length,
    );
    expect(rules.filter((r) => r.health === 'err').map((r) => `${r.group}/${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('produces every fast recording rule from the service-shaped data', async () => {
    const fast = ruleGroups(RECORDING_RULES)
      .filter((g) => !g.interval)
      .flatMap((g) => g.rules);
    const selectors = fast.map(
      (rule) =>
        `${rule.record}${
          rule.labels
            ? `{${Object.entries(rule.labels)
                .map(([k, v]) => `${k}="${v}"`)
                .join(',')}}`
            : ''
        }`,
    );
    let empty: string[] = selectors;
    // rule groups are evaluated independently: give each a few rounds on the scraped data
    await waitFor(
      async () => {
        const results = await Promise.all(selectors.map((s) => prometheus.query(s)));
        empty = selectors.filter((_, i) => results[i].length === 0);
        return empty.length === 0;
      },
      20_000,
      'every fast recording rule',
    ).catch(() => {});
    expect(empty).toEqual([]);
  }, 30_000);

  it('parses and evaluates every panel, annotation and variable query', async () => {
    const queries = dashboardQueries().filter((q) => q.datasource === 'prometheus');
    expect(queries.length).toBeGreaterThan(60);
    const failures: string[] = [];
    for (const q of queries) {
      try {
        await prometheus.query(substituteGrafanaVariables(q.expr));
      } catch (error) {
        failures.push(`${q.dashboard} / ${q.panel}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('and most panels show data', async () => {
    const queries = dashboardQueries().filter((q) => q.datasource === 'prometheus' && !q.panel.startsWith('annotation'));
    let withData = 0;
    for (const q of queries) if ((await prometheus.query(substituteGrafanaVariables(q.expr))).length > 0) withData++;
    // the 7-day subqueries and 30-day forecasts need more than a few seconds of history
    expect(withData / queries.length).toBeGreaterThan(0.75);
  });

  it('parses every PromQL query the runbooks give', async () => {
    const queries = runbookQueries();
    expect(queries.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const q of queries) {
      try {
        await prometheus.query(q.expr);
      } catch (error) {
        failures.push(`${q.file}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("rejects the guide's storage trend without parentheses (the check can fail)", async () => {
    await expect(prometheus.query('avg_over_time(node_filesystem_size_bytes - node_filesystem_free_bytes[7d:1h])')).rejects.toThrow(
      /bad_data|parse error/,
    );
    await prometheus.query('avg_over_time((node_filesystem_size_bytes - node_filesystem_free_bytes)[7d:1h])');
  });
});
