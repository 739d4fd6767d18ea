import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OBS, ROOT, readYaml } from './helpers';

const compose = readYaml(path.join(OBS, 'docker-compose.yml'));
const services: Record<string, any> = compose.services;
const elk = readYaml(path.join(OBS, 'elk', 'docker-compose.logging.yml'));

describe('docker-compose.yml', () => {
  it('runs the whole stack', () => {
    for (const name of [
      'api',
      'db',
      'qdrant',
      'redis',
      'otel-collector',
      'prometheus',
      'alertmanager',
      'loki',
      'tempo',
      'grafana',
      'postgres-exporter',
      'redis-exporter',
      'node-exporter',
    ]) {
      expect(services[name], name).toBeDefined();
    }
  });

  it('pins every image it pulls to a version', () => {
    for (const [name, service] of [...Object.entries(services), ...Object.entries(elk.services as Record<string, any>)]) {
      if (!service.image || service.build) continue; // the API is built from this repository
      const tag = /:([^/:@]+)$/.exec(service.image)?.[1];
      expect(tag, `${name}: ${service.image}`).toMatch(/^v?\d+\.\d+(\.\d+)?/);
    }
  });

  it("keeps the guide's healthchecks (intervals, timeouts, retries)", () => {
    expect(services.api.healthcheck).toMatchObject({ interval: '30s', timeout: '10s', retries: 3, start_period: '40s' });
    expect(services.api.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8020/health');
    expect(services.db.healthcheck).toMatchObject({
      test: ['CMD-SHELL', 'pg_isready -U kb -d kb'],
      interval: '10s',
      timeout: '5s',
      retries: 5,
      start_period: '30s',
    });
    expect(services.qdrant.healthcheck).toMatchObject({ interval: '30s', timeout: '10s', retries: 3 });
    expect(services.qdrant.healthcheck.test.join(' ')).toContain('/readyz');
    expect(services.redis.healthcheck).toMatchObject({ test: ['CMD', 'redis-cli', 'ping'], interval: '10s', timeout: '5s', retries: 3 });
  });

  it('starts the API after its dependencies are healthy', () => {
    expect(services.api.depends_on).toMatchObject({
      db: { condition: 'service_healthy' },
      qdrant: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('mounts only files that exist in the repository', () => {
    const composeDir = OBS;
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = String(volume)
          .split(':')[0]
          .replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1');
        if (!source.startsWith('.')) continue;
        expect(fs.existsSync(path.resolve(composeDir, source)), `${name}: ${volume}`).toBe(true);
      }
    }
    for (const secret of Object.values(compose.secrets as Record<string, { file: string }>)) {
      expect(fs.existsSync(path.resolve(composeDir, secret.file.replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')))).toBe(true);
    }
    expect(services.api.build.context).toBe('..');
    expect(path.resolve(composeDir, services.api.build.context)).toBe(ROOT);
  });

  it('publishes ports on loopback only', () => {
    for (const [name, service] of [...Object.entries(services), ...Object.entries(elk.services as Record<string, any>)]) {
      for (const port of service.ports ?? []) expect(String(port), name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('keeps secrets out of the Grafana and Alertmanager configuration', () => {
    expect(services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe('/run/secrets/grafana_admin_password');
    expect(services.alertmanager.volumes.join(' ')).toContain(':/etc/alertmanager/secrets:ro');
  });
});

describe('prometheus.yml', () => {
  const config = readYaml(path.join(OBS, 'prometheus', 'prometheus.yml'));
  const jobs = Object.fromEntries(config.scrape_configs.map((j: any) => [j.job_name, j]));

  it("scrapes the guide's targets", () => {
    expect(jobs['rag-pipeline-api']).toMatchObject({
      metrics_path: '/metrics',
      scrape_interval: '30s',
      scrape_timeout: '10s',
      static_configs: [{ targets: ['api:9464'] }],
    });
    // the metrics listener, not the API port (README: the guide scrapes 8020)
    expect(services.api.environment.METRICS_PORT).toBe('9464');
    expect(jobs.qdrant.static_configs[0].targets).toEqual(['qdrant:6333']);
    expect(jobs.postgres.static_configs[0].targets).toEqual(['postgres-exporter:9187']);
    expect(jobs.redis.static_configs[0].targets).toEqual(['redis-exporter:9121']);
    expect(jobs.node.static_configs[0].targets).toEqual(['node-exporter:9100']);
    expect(config.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
    expect(config.rule_files).toEqual(['alert_rules.yml', 'recording_rules.yml']);
  });

  it('points every target at a compose service', () => {
    for (const job of config.scrape_configs) {
      for (const target of job.static_configs[0].targets) {
        const host = target.split(':')[0];
        if (host === 'localhost') continue;
        expect(Object.keys(services), `${job.job_name}: ${target}`).toContain(host === 'api' ? 'api' : host);
      }
    }
  });
});

describe('Loki, Tempo, promtail and the ELK alternative', () => {
  it('Loki stores OTLP logs with structured metadata on a TSDB v13 schema with retention', () => {
    const loki = readYaml(path.join(OBS, 'loki', 'loki.yaml'));
    expect(loki.schema_config.configs.at(-1)).toMatchObject({ store: 'tsdb', schema: 'v13' });
    expect(loki.limits_config).toMatchObject({ allow_structured_metadata: true, retention_period: '336h' });
    expect(loki.compactor).toMatchObject({ retention_enabled: true, delete_request_store: 'filesystem' });
    expect(loki.common.path_prefix).toBe('/loki');
    expect(services.loki.volumes).toContain('loki-data:/loki');
  });

  it('Tempo receives OTLP and keeps its data on the volume the init container prepares', () => {
    const tempo = readYaml(path.join(OBS, 'tempo', 'tempo.yaml'));
    expect(tempo.distributor.receivers.otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(tempo.storage.trace.backend).toBe('local');
    expect(tempo.storage.trace.wal.path.startsWith('/var/tempo/')).toBe(true);
    expect(services.tempo.volumes).toContain('tempo-data:/var/tempo');
    expect(services['tempo-init'].entrypoint).toEqual(['chown', '10001:10001', '/var/tempo']);
    expect(tempo.server.http_listen_port).toBe(3200);
  });

  it('promtail pushes to Loki and keeps ids out of the labels', () => {
    const promtail = readYaml(path.join(OBS, 'promtail', 'promtail.yaml'));
    expect(promtail.clients[0].url).toBe('http://loki:3100/loki/api/v1/push');
    const stages = promtail.scrape_configs[0].pipeline_stages[0].match.stages;
    const labels = Object.keys(stages.find((s: any) => s.labels).labels);
    const metadata = Object.keys(stages.find((s: any) => s.structured_metadata).structured_metadata);
    expect(labels).toEqual(['level', 'logger']);
    expect(metadata).toEqual(['trace_id', 'span_id', 'request_id', 'tenant_id']);
  });

  it("filebeat keeps the guide's index and template, with ILM off so the index applies", () => {
    const filebeat = readYaml(path.join(OBS, 'elk', 'filebeat.yml'));
    expect(filebeat['output.elasticsearch']).toEqual({ hosts: ['elasticsearch:9200'], index: 'rag-pipeline-%{+yyyy.MM.dd}' });
    expect(filebeat['setup.ilm.enabled']).toBe(false);
    expect(filebeat['setup.template.pattern']).toBe('rag-pipeline-*');
    expect(filebeat['filebeat.inputs'][0]).toMatchObject({ type: 'filestream', parsers: [{ container: { format: 'docker' } }] });
    expect(filebeat.processors.map((p: any) => Object.keys(p)[0])).toEqual(['add_docker_metadata', 'decode_json_fields']);
    expect(elk.services.filebeat.volumes).toContain('./filebeat.yml:/usr/share/filebeat/filebeat.yml:ro');
  });
});
