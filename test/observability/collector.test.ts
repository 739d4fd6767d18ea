import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLLECTOR_DIR, OBS, readYaml } from './helpers';

/**
 * No Collector binary can run here, so the configs are checked the way `otelcol-contrib
 * validate` would check their structure: every pipeline names components that are defined
 * and exist in the contrib distribution, connectors join the right pipelines, memory_limiter
 * comes first, every defined component is used. The redaction patterns are run against keys
 * and values, and the endpoints against the rest of the stack.
 */

type Config = Record<string, any>;

/** The Collector's config merge: maps merge key by key, lists and scalars are replaced. */
function merge(base: Config, overlay: Config): Config {
  const out: Config = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && base[key] && typeof base[key] === 'object' && !Array.isArray(base[key])
        ? merge(base[key], value)
        : value;
  }
  return out;
}

const load = (file: string) => readYaml<Config>(path.join(COLLECTOR_DIR, file));
const variants: Record<string, Config> = {
  'collector.yaml': load('collector.yaml'),
  'collector.yaml + k8s.yaml': merge(load('collector.yaml'), load('k8s.yaml')),
  'collector.yaml + k8s.yaml + filelog.yaml': merge(merge(load('collector.yaml'), load('k8s.yaml')), load('filelog.yaml')),
};

// Component types of otelcol-contrib that these configs may use, by kind.
const CONTRIB: Record<string, string[]> = {
  receivers: ['otlp', 'filelog'],
  processors: ['memory_limiter', 'batch', 'transform', 'redaction', 'k8sattributes', 'resourcedetection'],
  exporters: ['otlp', 'otlphttp'],
  connectors: ['spanmetrics', 'servicegraph'],
  extensions: ['health_check', 'pprof', 'file_storage'],
};
// What each connector consumes (as an exporter) and produces (as a receiver).
const CONNECTOR_SIGNALS: Record<string, [string, string]> = { spanmetrics: ['traces', 'metrics'], servicegraph: ['traces', 'metrics'] };

const typeOf = (id: string) => id.split('/')[0];
const signalOf = (pipeline: string) => pipeline.split('/')[0];

describe.each(Object.entries(variants))('Collector config %s', (_name, config) => {
  const pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> = config.service.pipelines;

  it('has the three pipelines, each with receivers and exporters', () => {
    expect(Object.keys(pipelines).sort()).toEqual(['logs', 'metrics', 'traces']);
    for (const [name, p] of Object.entries(pipelines)) {
      expect(p.receivers.length, name).toBeGreaterThan(0);
      expect(p.exporters.length, name).toBeGreaterThan(0);
    }
  });

  it('defines every component it references, with contrib component types', () => {
    for (const kind of Object.keys(CONTRIB)) {
      for (const id of Object.keys(config[kind] ?? {})) expect(CONTRIB[kind], `${kind}.${id}`).toContain(typeOf(id));
    }
    for (const [name, p] of Object.entries(pipelines)) {
      for (const id of p.receivers) expect(config.receivers?.[id] ?? config.connectors?.[id], `${name} receiver ${id}`).toBeDefined();
      for (const id of p.processors) expect(config.processors?.[id], `${name} processor ${id}`).toBeDefined();
      for (const id of p.exporters) expect(config.exporters?.[id] ?? config.connectors?.[id], `${name} exporter ${id}`).toBeDefined();
    }
    for (const id of config.service.extensions) expect(config.extensions[id], `extension ${id}`).toBeDefined();
  });

  it('uses every component it defines', () => {
    const used = new Set(Object.values(pipelines).flatMap((p) => [...p.receivers, ...p.processors, ...p.exporters]));
    for (const kind of ['receivers', 'processors', 'exporters', 'connectors']) {
      for (const id of Object.keys(config[kind] ?? {})) expect(used.has(id), `${kind}.${id} is never used`).toBe(true);
    }
    expect(Object.keys(config.extensions).sort()).toEqual([...config.service.extensions].sort());
  });

  it('joins each connector from the signal it consumes to the one it produces', () => {
    for (const id of Object.keys(config.connectors)) {
      const [from, to] = CONNECTOR_SIGNALS[typeOf(id)];
      const asExporter = Object.entries(pipelines)
        .filter(([, p]) => p.exporters.includes(id))
        .map(([n]) => signalOf(n));
      const asReceiver = Object.entries(pipelines)
        .filter(([, p]) => p.receivers.includes(id))
        .map(([n]) => signalOf(n));
      expect(asExporter, id).toEqual([from]);
      expect(asReceiver, id).toEqual([to]);
    }
  });

  it('puts memory_limiter first and batch last in every pipeline', () => {
    for (const [name, p] of Object.entries(pipelines)) {
      expect(p.processors[0], name).toBe('memory_limiter');
      expect(p.processors.at(-1), name).toBe('batch');
    }
  });

  it('redacts traces and logs before they are batched and exported', () => {
    for (const name of ['traces', 'logs']) {
      const processors = pipelines[name].processors;
      expect(processors, name).toEqual(expect.arrayContaining(['transform/redact', 'redaction/secrets']));
      expect(processors.indexOf('transform/redact')).toBeLessThan(processors.indexOf('batch'));
    }
  });

  it('exposes health_check, pprof (loopback) and its own metrics on 8888', () => {
    expect(config.service.extensions).toEqual(expect.arrayContaining(['health_check', 'pprof']));
    expect(config.extensions.pprof.endpoint).toMatch(/^127\.0\.0\.1:/);
    expect(config.service.telemetry.metrics.readers[0].pull.exporter.prometheus).toMatchObject({ host: '0.0.0.0', port: 8888 });
  });
});

describe('Collector exporters and the rest of the stack', () => {
  const config = variants['collector.yaml'];
  const compose = readYaml(path.join(OBS, 'docker-compose.yml'));
  const prometheusYml = readYaml(path.join(OBS, 'prometheus', 'prometheus.yml'));
  const tempo = readYaml(path.join(OBS, 'tempo', 'tempo.yaml'));
  const loki = readYaml(path.join(OBS, 'loki', 'loki.yaml'));

  it('sends traces to Tempo over OTLP gRPC, on the port Tempo listens on', () => {
    expect(config.exporters['otlp/tempo'].endpoint).toBe(
      `tempo:${tempo.distributor.receivers.otlp.protocols.grpc.endpoint.split(':').at(-1)}`,
    );
  });

  it("sends metrics to Prometheus' OTLP receiver, which the compose file turns on with exemplar storage", () => {
    expect(config.exporters['otlphttp/prometheus'].endpoint).toBe('http://prometheus:9090/api/v1/otlp');
    expect(compose.services.prometheus.command).toEqual(
      expect.arrayContaining(['--web.enable-otlp-receiver', '--enable-feature=exemplar-storage']),
    );
  });

  it("sends logs to Loki's native OTLP endpoint (not the deprecated loki exporter)", () => {
    expect(config.exporters['otlphttp/loki'].endpoint).toBe(`http://loki:${loki.server.http_listen_port}/otlp`);
    expect(loki.limits_config.allow_structured_metadata).toBe(true);
    const types = Object.keys(config.exporters).map(typeOf);
    for (const deprecated of ['loki', 'logging', 'prometheusremotewrite']) expect(types).not.toContain(deprecated);
  });

  it('is scraped by Prometheus on its telemetry port, and reached by the service on 4318', () => {
    const job = prometheusYml.scrape_configs.find((j: any) => j.job_name === 'otel-collector');
    expect(job.static_configs[0].targets).toEqual(['otel-collector:8888']);
    expect(config.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(config.receivers.otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(compose.services.api.environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
    expect(compose.services['otel-collector'].volumes).toContain('../otel-collector/collector.yaml:/etc/otelcol-contrib/config.yaml:ro');
  });

  it('makes span metrics with exemplars under the names the dashboards query', () => {
    const spanmetrics = config.connectors.spanmetrics;
    expect(spanmetrics.exemplars.enabled).toBe(true);
    expect(spanmetrics.histogram.unit).toBe('s');
    // namespace traces.spanmetrics + unit s => traces_spanmetrics_calls_total, traces_spanmetrics_duration_seconds_*
    expect(spanmetrics.namespace).toBe('traces.spanmetrics');
  });
});

describe('Collector redaction', () => {
  const config = variants['collector.yaml'];

  /** The regex of each delete_matching_keys statement, as RE2 would read it, in JavaScript. */
  function deletePatterns(statements: string[]): RegExp[] {
    return statements.map((statement) => {
      const ottlString = /delete_matching_keys\(attributes, "((?:[^"\\]|\\.)*)"\)/.exec(statement)![1];
      const pattern = ottlString.replace(/\\\\/g, '\\');
      const insensitive = pattern.startsWith('(?i)');
      return new RegExp(insensitive ? pattern.slice(4) : pattern, insensitive ? 'i' : '');
    });
  }
  const span = deletePatterns(config.processors['transform/redact'].trace_statements.find((s: any) => s.context === 'span').statements);
  const log = deletePatterns(config.processors['transform/redact'].log_statements[0].statements);
  const deleted = (patterns: RegExp[], key: string) => patterns.some((p) => p.test(key));

  it.each([
    'http.request.header.authorization',
    'http.request.header.x-api-key',
    'http.request.header.cookie',
    'api_key',
    'admin.api_key',
    'llm.api-key',
    'db.password',
    'gen_ai.prompt',
    'gen_ai.prompt.0.content',
    'gen_ai.completion.0.content',
    'gen_ai.input.messages',
    'gen_ai.output.messages',
    'gen_ai.system_instructions',
  ])('drops %s from spans and logs', (key) => {
    expect(deleted(span, key)).toBe(true);
    expect(deleted(log, key)).toBe(true);
  });

  it.each([
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.output_tokens',
    'gen_ai.request.model',
    'gen_ai.operation.name',
    'http.route',
    'http.response.status_code',
    'tenant.id',
    'kb.id',
    'retrieval.top_k',
    'db.operation.name',
    'self_rag.verdict',
    'request_id',
  ])('keeps %s', (key) => {
    expect(deleted(span, key)).toBe(false);
    expect(deleted(log, key)).toBe(false);
  });

  it('drops prompt text from span events too', () => {
    const events = deletePatterns(
      config.processors['transform/redact'].trace_statements.find((s: any) => s.context === 'spanevent').statements,
    );
    expect(deleted(events, 'gen_ai.prompt')).toBe(true);
    expect(deleted(events, 'exception.type')).toBe(false);
  });

  it('masks secret-looking values under any key', () => {
    const blocked = (config.processors['redaction/secrets'].blocked_values as string[]).map((p) =>
      p.startsWith('(?i)') ? new RegExp(p.slice(4), 'i') : new RegExp(p),
    );
    const masked = (value: string) => blocked.some((p) => p.test(value));
    expect(config.processors['redaction/secrets'].allow_all_keys).toBe(true);
    expect(masked(`srk_0123456789ab_${'A'.repeat(43)}`)).toBe(true);
    expect(masked('Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig')).toBe(true);
    expect(masked('sk-proj-abcdefghijkl')).toBe(true);
    expect(masked('postgres://kb:s3cret@db:5432/kb')).toBe(true);
    expect(masked('POST /v1/rag')).toBe(false);
    expect(masked('http://qdrant:6333')).toBe(false);
  });
});

describe('Collector Kubernetes and filelog variants', () => {
  const k8s = variants['collector.yaml + k8s.yaml'];
  const filelog = variants['collector.yaml + k8s.yaml + filelog.yaml'];

  it('enrich every pipeline with k8sattributes and resourcedetection right after memory_limiter', () => {
    for (const config of [k8s, filelog]) {
      for (const [name, p] of Object.entries(config.service.pipelines as Record<string, { processors: string[] }>)) {
        expect(p.processors.slice(0, 3), name).toEqual(['memory_limiter', 'k8sattributes', 'resourcedetection']);
      }
    }
    expect(k8s.processors.k8sattributes.filter.node_from_env_var).toBe('K8S_NODE_NAME');
    expect(k8s.processors.resourcedetection).toMatchObject({ detectors: ['env', 'k8snode'], override: false });
  });

  it('reads container stdout with the container parser, then the JSON line and its trace context', () => {
    const receiver = filelog.receivers.filelog;
    expect(filelog.service.pipelines.logs.receivers).toEqual(['otlp', 'filelog']);
    expect(receiver.include).toEqual(['/var/log/pods/*/*/*.log']);
    expect(receiver.operators.map((o: any) => o.type)).toEqual(['container', 'json_parser', 'trace_parser', 'move']);
    expect(receiver.storage).toBe('file_storage/filelog');
    expect(receiver.exclude[0]).toContain('otel-collector');
  });

  it('leaves the base traces and metrics pipelines of the filelog variant as the k8s ones', () => {
    expect(filelog.service.pipelines.traces).toEqual(k8s.service.pipelines.traces);
    expect(filelog.service.pipelines.metrics).toEqual(k8s.service.pipelines.metrics);
  });
});
