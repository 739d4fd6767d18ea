import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

/** Paths and loaders shared by the observability tests. */

export const ROOT = path.resolve(__dirname, '..', '..');
export const OBS = path.join(ROOT, 'observability');
export const PROM_DIR = path.join(OBS, 'prometheus');
export const ALERT_RULES = path.join(PROM_DIR, 'alert_rules.yml');
export const RECORDING_RULES = path.join(PROM_DIR, 'recording_rules.yml');
export const COLLECTOR_DIR = path.join(ROOT, 'otel-collector');

export function readYaml<T = any>(file: string): T {
  return parse(fs.readFileSync(file, 'utf8'), { merge: true }) as T;
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

export function ruleGroups(file: string): RuleGroup[] {
  return readYaml<{ groups: RuleGroup[] }>(file).groups;
}
export const alertRules = (): Rule[] => ruleGroups(ALERT_RULES).flatMap((g) => g.rules);
export const recordingRules = (): Rule[] => ruleGroups(RECORDING_RULES).flatMap((g) => g.rules);

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary to completion (never throws on a non-zero exit). */
export function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The metric families the service exports, from src/telemetry/metric-names.ts. */
export function serviceMetrics(): Array<{ name: string; type: string; labels: string[] }> {
  const source = fs.readFileSync(path.join(ROOT, 'src', 'telemetry', 'metric-names.ts'), 'utf8');
  const found: Array<{ name: string; type: string; labels: string[] }> = [];
  const entry = /name:\s*'([a-z_:][a-z0-9_:]*)',\s*type:\s*'(\w+)',\s*labels:\s*\[([^\]]*)\]/g;
  for (const m of source.matchAll(entry)) {
    const labels = [...m[3].matchAll(/'([a-z_]+)'/g)].map((l) => l[1]);
    found.push({ name: m[1], type: m[2], labels });
  }
  return found;
}

/** Every series name a family produces in Prometheus (histograms: _bucket, _sum, _count). */
export function seriesNames(family: { name: string; type: string }): string[] {
  return family.type === 'histogram' ? [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`] : [family.name];
}

const NOT_METRICS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects. A small lexer, enough for the queries here:
 * strings, label matchers, ranges and grouping label lists are removed, then every identifier
 * that is not a keyword and not followed by "(" (a function or aggregation) is a metric name.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{[^}]*\}|\$\w+/g, '0')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  const token = /(\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])*)|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/gi;
  for (const m of stripped.matchAll(token)) {
    if (!m[2] || m[3] || NOT_METRICS.has(m[2].toLowerCase())) continue;
    names.add(m[2]);
  }
  return [...names];
}

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  datasource: string;
  expr: string;
}

export function dashboards(): Array<{ file: string; json: any }> {
  const dir = path.join(OBS, 'grafana', 'dashboards');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, json: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

/** Every query of every dashboard: panel targets, annotation queries, variable queries. */
export function dashboardQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { file, json } of dashboards()) {
    const panels = (json.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])]);
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const uid = target.datasource?.uid ?? panel.datasource?.uid;
        out.push({ dashboard: file, panel: panel.title, datasource: uid, expr: target.expr });
      }
    }
    for (const annotation of json.annotations?.list ?? []) {
      if (annotation.expr)
        out.push({ dashboard: file, panel: `annotation ${annotation.name}`, datasource: annotation.datasource.uid, expr: annotation.expr });
    }
    for (const variable of json.templating?.list ?? []) {
      if (variable.type !== 'query') continue;
      const query: string = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const selector = /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? query;
      out.push({ dashboard: file, panel: `variable ${variable.name}`, datasource: variable.datasource.uid, expr: selector });
    }
  }
  return out;
}

/** Grafana's variables replaced by values a plain Prometheus accepts. */
export function substituteGrafanaVariables(expr: string): string {
  const values: Record<string, string> = {
    __rate_interval: '1m',
    __interval: '1m',
    __range: '1h',
    job: 'rag-pipeline-api',
    service: 'self-rag-pipeline',
  };
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string, bare: string) => {
    const name = braced ?? bare;
    if (!(name in values)) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return values[name];
  });
}

type Family = { type: 'counter' | 'gauge' | 'histogram'; labels: Record<string, string[]> };

/**
 * Metrics the dashboards, rules and runbooks may use besides the service's own families and
 * the recording rules: the exporters', the Collector's, the Collector connectors' and the
 * service's OTLP semantic-convention metrics, as Prometheus names them. Explicit names, not
 * prefixes, so a typo cannot hide behind a wildcard.
 */
export const EXTERNAL_METRICS: Record<string, Record<string, Family>> = {
  'node-exporter': {
    node_filesystem_avail_bytes: { type: 'gauge', labels: { device: ['/dev/sda1'], fstype: ['ext4'], mountpoint: ['/'] } },
    node_filesystem_free_bytes: { type: 'gauge', labels: { device: ['/dev/sda1'], fstype: ['ext4'], mountpoint: ['/'] } },
    node_filesystem_size_bytes: { type: 'gauge', labels: { device: ['/dev/sda1'], fstype: ['ext4'], mountpoint: ['/'] } },
    node_memory_MemAvailable_bytes: { type: 'gauge', labels: {} },
    node_memory_MemTotal_bytes: { type: 'gauge', labels: {} },
    node_cpu_seconds_total: { type: 'counter', labels: { cpu: ['0', '1'], mode: ['idle', 'user'] } },
  },
  'postgres-exporter': {
    pg_up: { type: 'gauge', labels: {} },
    pg_stat_database_numbackends: { type: 'gauge', labels: { datname: ['kb', 'postgres'] } },
    pg_settings_max_connections: { type: 'gauge', labels: {} },
  },
  'redis-exporter': {
    redis_up: { type: 'gauge', labels: {} },
  },
  'otel-collector self-telemetry': {
    otelcol_receiver_accepted_spans_total: { type: 'counter', labels: { receiver: ['otlp'], transport: ['grpc', 'http'] } },
    otelcol_receiver_accepted_metric_points_total: { type: 'counter', labels: { receiver: ['otlp'], transport: ['http'] } },
    otelcol_receiver_accepted_log_records_total: { type: 'counter', labels: { receiver: ['otlp'], transport: ['http'] } },
    otelcol_receiver_refused_spans_total: { type: 'counter', labels: { receiver: ['otlp'], transport: ['grpc', 'http'] } },
    otelcol_receiver_refused_metric_points_total: { type: 'counter', labels: { receiver: ['otlp'], transport: ['http'] } },
    otelcol_receiver_refused_log_records_total: { type: 'counter', labels: { receiver: ['otlp'], transport: ['http'] } },
    otelcol_exporter_sent_spans_total: { type: 'counter', labels: { exporter: ['otlp/tempo'] } },
    otelcol_exporter_send_failed_spans_total: { type: 'counter', labels: { exporter: ['otlp/tempo'] } },
    otelcol_exporter_send_failed_metric_points_total: { type: 'counter', labels: { exporter: ['otlphttp/prometheus'] } },
    otelcol_exporter_send_failed_log_records_total: { type: 'counter', labels: { exporter: ['otlphttp/loki'] } },
    otelcol_exporter_enqueue_failed_spans_total: { type: 'counter', labels: { exporter: ['otlp/tempo'] } },
    otelcol_exporter_enqueue_failed_metric_points_total: { type: 'counter', labels: { exporter: ['otlphttp/prometheus'] } },
    otelcol_exporter_enqueue_failed_log_records_total: { type: 'counter', labels: { exporter: ['otlphttp/loki'] } },
    otelcol_exporter_queue_size: { type: 'gauge', labels: { exporter: ['otlp/tempo', 'otlphttp/loki'], data_type: ['traces'] } },
    otelcol_exporter_queue_capacity: { type: 'gauge', labels: { exporter: ['otlp/tempo', 'otlphttp/loki'], data_type: ['traces'] } },
    otelcol_process_memory_rss_bytes: { type: 'gauge', labels: {} },
  },
  'spanmetrics connector': {
    traces_spanmetrics_calls_total: {
      type: 'counter',
      labels: {
        service_name: ['self-rag-pipeline'],
        span_name: ['ingestion.parse', 'retrieval.fusion', 'rag.grade_relevance'],
        span_kind: ['SPAN_KIND_INTERNAL'],
        status_code: ['STATUS_CODE_UNSET', 'STATUS_CODE_ERROR'],
      },
    },
    traces_spanmetrics_duration_seconds: {
      type: 'histogram',
      labels: {
        service_name: ['self-rag-pipeline'],
        span_name: ['ingestion.parse', 'retrieval.fusion', 'rag.grade_relevance'],
        span_kind: ['SPAN_KIND_INTERNAL'],
        status_code: ['STATUS_CODE_UNSET'],
      },
    },
  },
  'servicegraph connector': {
    traces_service_graph_request_total: {
      type: 'counter',
      labels: { client: ['self-rag-pipeline'], server: ['postgresql'], connection_type: ['database'] },
    },
    traces_service_graph_request_failed_total: {
      type: 'counter',
      labels: { client: ['self-rag-pipeline'], server: ['postgresql'], connection_type: ['database'] },
    },
    traces_service_graph_request_server_seconds: { type: 'histogram', labels: { client: ['self-rag-pipeline'], server: ['postgresql'] } },
    traces_service_graph_request_client_seconds: { type: 'histogram', labels: { client: ['self-rag-pipeline'], server: ['postgresql'] } },
  },
  // OpenTelemetry semantic-convention instruments of the service (HTTP and GenAI
  // instrumentations). On its /metrics the OTel Prometheus exporter adds no unit suffix;
  // pushed over OTLP, Prometheus names them with one (_seconds).
  'service /metrics (semantic conventions)': {
    http_server_request_duration: {
      type: 'histogram',
      labels: { http_request_method: ['POST'], http_route: ['/v1/rag'], http_response_status_code: ['200'] },
    },
    gen_ai_client_operation_duration: {
      type: 'histogram',
      labels: { gen_ai_operation_name: ['chat', 'embeddings'], gen_ai_request_model: ['gpt-4o-mini'] },
    },
    gen_ai_client_token_usage: {
      type: 'histogram',
      labels: { gen_ai_token_type: ['input', 'output'], gen_ai_request_model: ['gpt-4o-mini'], gen_ai_operation_name: ['chat'] },
    },
  },
  'service over OTLP (semantic conventions)': {
    http_server_request_duration_seconds: {
      type: 'histogram',
      labels: { http_request_method: ['POST'], http_route: ['/v1/rag'], http_response_status_code: ['200'] },
    },
    gen_ai_client_operation_duration_seconds: {
      type: 'histogram',
      labels: { gen_ai_operation_name: ['chat', 'embeddings'], gen_ai_request_model: ['gpt-4o-mini'] },
    },
  },
};

/** Series Prometheus makes itself (scrapes, alert state, OTLP resource info). */
export const PROMETHEUS_METRICS = ['up', 'scrape_duration_seconds', 'ALERTS', 'ALERTS_FOR_STATE', 'target_info'];

/** Every metric name allowed in a query, with where it comes from. */
export function knownMetrics(): Map<string, string> {
  const known = new Map<string, string>();
  for (const family of serviceMetrics()) for (const name of seriesNames(family)) known.set(name, 'service /metrics');
  for (const rule of recordingRules()) known.set(rule.record!, 'recording rule');
  for (const [source, families] of Object.entries(EXTERNAL_METRICS)) {
    for (const [name, family] of Object.entries(families))
      for (const series of seriesNames({ name, type: family.type })) known.set(series, source);
  }
  for (const name of PROMETHEUS_METRICS) known.set(name, 'prometheus');
  return known;
}

const SERVICE_LABEL_VALUES: Record<string, string[]> = {
  method: ['GET', 'POST'],
  endpoint: ['/v1/retrieve', '/v1/rag', '/v1/knowledge-bases/:kb_id', '/ready'],
  status_code: ['200', '503'],
  retriever_type: ['hybrid', 'dense'],
  kb_id: ['kb1', 'kb2'],
  tenant_id: ['t1', 't2'],
  chunker_type: ['recursive'],
  provider: ['openai'],
  model: ['gpt-4o-mini'],
  operation: ['search', 'upsert'],
  collection: ['kb_kb1'],
};
const STATUS_VALUES: Record<string, string[]> = {
  rag_operations_total: ['success', 'error', 'pass', 'fail', 'answered', 'abstained'],
  document_ingestion_total: ['indexed', 'failed'],
  chunks_total: ['indexed', 'pending'],
};
const OPERATION_TYPES = ['self-rag', 'standard', 'relevance', 'support', 'answer_outcome'];
const BUCKETS = ['0.05', '0.25', '1', '2', '5', '10', '+Inf'];

function combinations(labels: Record<string, string[]>): Array<Record<string, string>> {
  return Object.entries(labels).reduce<Array<Record<string, string>>>(
    (acc, [name, values]) => acc.flatMap((partial) => values.map((value) => ({ ...partial, [name]: value }))),
    [{}],
  );
}

function exposition(families: Record<string, Family>, seconds: number): string {
  const lines: string[] = [];
  let seed = 1;
  const fmt = (labels: Record<string, string>) => {
    const body = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    return body ? `{${body}}` : '';
  };
  for (const [name, family] of Object.entries(families)) {
    lines.push(`# TYPE ${name} ${family.type}`);
    for (const labels of combinations(family.labels)) {
      seed += 1;
      const rate = 1 + (seed % 7);
      if (family.type === 'gauge') lines.push(`${name}${fmt(labels)} ${100 + seed * 10}`);
      else if (family.type === 'counter') lines.push(`${name}${fmt(labels)} ${rate * seconds}`);
      else {
        BUCKETS.forEach((le, i) =>
          lines.push(`${name}_bucket${fmt({ ...labels, le })} ${Math.round(((i + 1) / BUCKETS.length) * rate * seconds * 10)}`),
        );
        lines.push(`${name}_sum${fmt(labels)} ${rate * seconds * 3}`, `${name}_count${fmt(labels)} ${rate * seconds * 10}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Synthetic /metrics of the service: every family of metric-names.ts with plausible labels. */
export function serviceExposition(seconds: number): string {
  const families: Record<string, Family> = {};
  for (const family of serviceMetrics()) {
    const labels: Record<string, string[]> = {};
    for (const label of family.labels) {
      labels[label] =
        label === 'status'
          ? (STATUS_VALUES[family.name] ?? ['success', 'error'])
          : label === 'operation_type'
            ? OPERATION_TYPES
            : SERVICE_LABEL_VALUES[label];
    }
    families[family.name] = { type: family.type as Family['type'], labels };
  }
  return exposition(families, seconds);
}

/** Synthetic exposition of every external family (exporters, Collector, connectors, OTLP). */
export function externalExposition(seconds: number): string {
  return exposition(Object.assign({}, ...Object.values(EXTERNAL_METRICS)), seconds);
}

/** PromQL in the runbooks' "First queries": code spans that are neither LogQL/TraceQL nor shell. */
export function runbookQueries(): Array<{ file: string; expr: string }> {
  const dir = path.join(OBS, 'runbooks');
  const out: Array<{ file: string; expr: string }> = [];
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const section = text.split('## First queries')[1]?.split('\n## ')[0] ?? '';
    for (const m of section.matchAll(/`([^`]+)`/g)) {
      const code = m[1];
      if (code.startsWith('{') || /^(curl|kubectl|docker|go tool|du |SELECT|\/)/.test(code) || !/[({]/.test(code)) continue;
      out.push({ file, expr: code });
    }
  }
  return out;
}
