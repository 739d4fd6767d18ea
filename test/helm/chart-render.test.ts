import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { findObject, fullname, type K8sObject, NAMESPACE, renderChart, renderError } from './chart';

const GUIDE_PROBES = {
  livenessProbe: { httpGet: { path: '/health', port: 8020 }, initialDelaySeconds: 30, periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3 },
  readinessProbe: { httpGet: { path: '/ready', port: 8020 }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
  startupProbe: { httpGet: { path: '/health', port: 8020 }, initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 30 },
};

const SECRET_VARIABLES = ['DATABASE_URL', 'ADMIN_API_KEY', 'REDIS_URL', 'QDRANT_API_KEY', 'EMBEDDING_API_KEY', 'LLM_API_KEY', 'RERANK_API_KEY'];

function container(deployment: K8sObject) {
  const containers = deployment.spec.template.spec.containers;
  expect(containers).toHaveLength(1);
  return containers[0];
}

function envEntry(deployment: K8sObject, name: string) {
  const entries = container(deployment).env.filter((entry: { name: string }) => entry.name === name);
  expect(entries, `env ${name}`).toHaveLength(1);
  return entries[0];
}

function kinds(objects: K8sObject[]): string[] {
  return objects.map((object) => `${object.kind}/${object.metadata.name}`).sort();
}

describe('embedded default', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderChart();
  });

  it('renders one API pod on a kept volume and no Redis, Postgres or Prometheus Operator objects', () => {
    expect(kinds(objects)).toEqual(
      [
        `ConfigMap/${fullname}`,
        `Deployment/${fullname}-api`,
        `PersistentVolumeClaim/${fullname}-data`,
        `PodDisruptionBudget/${fullname}-api`,
        `Secret/${fullname}-secrets`,
        `Service/${fullname}`,
        `Service/${fullname}-metrics`,
        `ServiceAccount/${fullname}`,
      ].sort(),
    );
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(api.spec.replicas).toBe(1);
    expect(api.spec.strategy).toEqual({ type: 'Recreate' });
    expect(findObject(objects, 'PersistentVolumeClaim', `${fullname}-data`).metadata.annotations).toMatchObject({ 'helm.sh/resource-policy': 'keep' });
    expect(envEntry(api, 'ROLE')).toEqual({ name: 'ROLE', value: 'all' });
  });

  it('mounts the data volume at DATA_DIR and an emptyDir at /tmp under a read-only root', () => {
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(container(api).volumeMounts).toEqual([
      { name: 'data', mountPath: '/data' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(api.spec.template.spec.volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: `${fullname}-data` } },
      { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    ]);
    expect(findObject(objects, 'ConfigMap', fullname).data).toMatchObject({ DATA_DIR: '/data', PORT: '8020', HOST: '0.0.0.0' });
  });

  it('leaves unset what means "unset" to the service (CORS off, no quota, no Qdrant)', () => {
    const data = findObject(objects, 'ConfigMap', fullname).data!;
    for (const name of ['CORS_ORIGINS', 'TENANT_MAX_DOCUMENTS', 'QDRANT_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'EMBEDDING_BASE_URL']) {
      expect(data, name).not.toHaveProperty(name);
    }
    expect(findObject(objects, 'Secret', `${fullname}-secrets`).data).toBeUndefined();
  });
});

describe.each(['embedded-values.yaml', 'postgres-qdrant-values.yaml', 'redis-worker-values.yaml'])('every Deployment of %s', (valuesFile) => {
  let objects: K8sObject[];
  let deployments: K8sObject[];
  beforeAll(() => {
    objects = renderChart({ valuesFiles: [valuesFile] });
    deployments = objects.filter((object) => object.kind === 'Deployment');
  });

  it('has the guide probes exactly, on port 8020', () => {
    for (const deployment of deployments) {
      const { livenessProbe, readinessProbe, startupProbe } = container(deployment);
      expect({ livenessProbe, readinessProbe, startupProbe }).toEqual(GUIDE_PROBES);
      // /metrics has a port of its own (METRICS_PORT), never the API's
      expect(container(deployment).ports).toEqual([
        { name: 'http', containerPort: 8020, protocol: 'TCP' },
        { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
      ]);
    }
  });

  it('runs non-root with a read-only root, no privilege escalation, no capabilities and RuntimeDefault seccomp', () => {
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container(deployment).securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
    }
  });

  it('selects exactly its own pods, whose labels match the selector, and spreads them', () => {
    for (const deployment of deployments) {
      const selector = deployment.spec.selector.matchLabels;
      expect(deployment.spec.template.metadata.labels).toMatchObject(selector);
      expect(selector['app.kubernetes.io/component']).toBe(deployment.metadata.name.replace(`${fullname}-`, ''));
      for (const constraint of deployment.spec.template.spec.topologySpreadConstraints) {
        expect(constraint.labelSelector.matchLabels).toEqual(selector);
      }
    }
    const service = findObject(objects, 'Service', fullname);
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(service.spec.selector).toEqual(api.spec.selector.matchLabels);
    for (const budget of objects.filter((object) => object.kind === 'PodDisruptionBudget')) {
      const target = findObject(objects, 'Deployment', budget.metadata.name);
      expect(budget.spec.selector.matchLabels).toEqual(target.spec.selector.matchLabels);
    }
    for (const autoscaler of objects.filter((object) => object.kind === 'HorizontalPodAutoscaler')) {
      expect(autoscaler.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: autoscaler.metadata.name });
      findObject(objects, 'Deployment', autoscaler.metadata.name);
    }
  });

  it('reads settings from the ConfigMap and every secret variable from the Secret', () => {
    for (const deployment of deployments) {
      expect(container(deployment).envFrom).toEqual([{ configMapRef: { name: fullname } }]);
      for (const name of SECRET_VARIABLES) {
        expect(envEntry(deployment, name).valueFrom.secretKeyRef).toMatchObject({ key: name });
      }
      const names = container(deployment).env.map((entry: { name: string }) => entry.name);
      expect(new Set(names).size, 'no variable set twice').toBe(names.length);
    }
  });

  it('sets the OpenTelemetry resource from the downward API', () => {
    for (const deployment of deployments) {
      expect(envEntry(deployment, 'K8S_POD_NAME').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
      expect(envEntry(deployment, 'K8S_NAMESPACE_NAME').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
      expect(envEntry(deployment, 'K8S_NODE_NAME').valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
      const attributes = envEntry(deployment, 'OTEL_RESOURCE_ATTRIBUTES').value.split(',');
      expect(attributes).toEqual(
        expect.arrayContaining([
          'k8s.pod.name=$(K8S_POD_NAME)',
          'k8s.namespace.name=$(K8S_NAMESPACE_NAME)',
          'k8s.node.name=$(K8S_NODE_NAME)',
          `k8s.deployment.name=${deployment.metadata.name}`,
        ]),
      );
      // $(VAR) expands only variables defined earlier in the list
      const names = container(deployment).env.map((entry: { name: string }) => entry.name);
      expect(names.indexOf('OTEL_RESOURCE_ATTRIBUTES')).toBeGreaterThan(names.indexOf('K8S_NODE_NAME'));
    }
    const config = findObject(objects, 'ConfigMap', fullname).data!;
    expect(config).toMatchObject({
      OTEL_SERVICE_NAME: 'self-rag-pipeline',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability.svc:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
  });

  it('drains: preStop sleep, then a grace period longer than the sleep plus SHUTDOWN_TIMEOUT_MS', () => {
    const shutdownSeconds = Number(findObject(objects, 'ConfigMap', fullname).data!.SHUTDOWN_TIMEOUT_MS) / 1000;
    for (const deployment of deployments) {
      const command: string[] = container(deployment).lifecycle.preStop.exec.command;
      expect(command[0]).toBe('sleep');
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(command[1]) + shutdownSeconds);
    }
  });

  it('rolls the pods when the configuration changes (checksum annotations)', () => {
    const configMap = findObject(objects, 'ConfigMap', fullname);
    for (const deployment of deployments) {
      const annotations = deployment.spec.template.metadata.annotations;
      expect(annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    }
    const changed = renderChart({ valuesFiles: [valuesFile], set: ['config.logLevel=debug'] });
    for (const deployment of deployments) {
      const after = findObject(changed, 'Deployment', deployment.metadata.name);
      expect(after.spec.template.metadata.annotations['checksum/config']).not.toBe(deployment.spec.template.metadata.annotations['checksum/config']);
    }
    expect(findObject(changed, 'ConfigMap', fullname).data!.LOG_LEVEL).toBe('debug');
    expect(configMap.data!.LOG_LEVEL).toBe('info');
  });
});

describe('Postgres + Qdrant without Redis', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderChart({ valuesFiles: ['postgres-qdrant-values.yaml'] });
  });

  it('runs no worker Deployment: the API pods ingest in process', () => {
    expect(objects.filter((object) => object.kind === 'Deployment').map((d) => d.metadata.name)).toEqual([`${fullname}-api`]);
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(envEntry(api, 'ROLE').value).toBe('all');
    expect(api.spec).not.toHaveProperty('replicas');
    expect(findObject(objects, 'HorizontalPodAutoscaler', `${fullname}-api`).spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  });

  it('needs DATABASE_URL and ADMIN_API_KEY from the Secret, and keeps the others optional', () => {
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(envEntry(api, 'DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: `${fullname}-secrets`, key: 'DATABASE_URL', optional: false });
    expect(envEntry(api, 'ADMIN_API_KEY').valueFrom.secretKeyRef.optional).toBe(false);
    expect(envEntry(api, 'REDIS_URL').valueFrom.secretKeyRef.optional).toBe(true);
    const secret = findObject(objects, 'Secret', `${fullname}-secrets`);
    expect(Buffer.from(secret.data!.DATABASE_URL, 'base64').toString()).toBe('postgres://kb:change-me@postgres.data.svc:5432/kb');
    expect(Object.keys(secret.data!).sort()).toEqual(['ADMIN_API_KEY', 'DATABASE_URL', 'QDRANT_API_KEY']);
    const checksum = api.spec.template.metadata.annotations['checksum/secret'];
    const rotated = renderChart({ valuesFiles: ['postgres-qdrant-values.yaml'], set: ['secrets.qdrantApiKey=rotated-key'] });
    expect(findObject(rotated, 'Deployment', `${fullname}-api`).spec.template.metadata.annotations['checksum/secret']).not.toBe(checksum);
  });

  it('has no data volume claim: the stores are servers', () => {
    expect(objects.some((object) => object.kind === 'PersistentVolumeClaim')).toBe(false);
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(api.spec.template.spec.volumes[0]).toEqual({ name: 'data', emptyDir: {} });
    expect(api.spec.strategy).toMatchObject({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } });
  });

  it('migrates with a pre-install/pre-upgrade hook Job that carries its own settings', () => {
    const job = findObject(objects, 'Job', `${fullname}-migrations`);
    expect(job.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'pre-install,pre-upgrade' });
    const migrate = job.spec.template.spec.containers[0];
    expect(migrate.command).toEqual(['node', 'dist/database/migrate.js']);
    expect(migrate.securityContext.readOnlyRootFilesystem).toBe(true);
    // the release's ConfigMap does not exist yet when a pre-install hook runs
    expect(migrate).not.toHaveProperty('envFrom');
    const configMap = findObject(objects, 'ConfigMap', fullname).data!;
    const inline = Object.fromEntries(migrate.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(inline).toEqual(configMap);
    const hookSecret = findObject(objects, 'Secret', `${fullname}-migrations`);
    expect(Number(hookSecret.metadata.annotations!['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations!['helm.sh/hook-weight']));
    expect(hookSecret.data).toEqual(findObject(objects, 'Secret', `${fullname}-secrets`).data);
    expect(migrate.env.find((e: { name: string }) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef.name).toBe(`${fullname}-migrations`);
  });

  it('admits API traffic from the configured peers and the metrics port from the monitoring namespace only', () => {
    const policy = findObject(objects, 'NetworkPolicy', `${fullname}-api`);
    expect(policy.spec.podSelector.matchLabels).toEqual(findObject(objects, 'Deployment', `${fullname}-api`).spec.selector.matchLabels);
    const byPort = Object.fromEntries(policy.spec.ingress.map((rule: any) => [rule.ports.map((p: any) => p.port).join(','), rule.from]));
    expect(byPort).toEqual({
      http: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      metrics: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    });
    expect(findObject(objects, 'ConfigMap', fullname).data).toMatchObject({ PORT: '8020', METRICS_PORT: '9464' });
  });

  it('takes the monitoring namespace selector from values, and refuses a metrics port equal to the API port', () => {
    const custom = renderChart({ valuesFiles: ['postgres-qdrant-values.yaml'], set: ['networkPolicy.metricsNamespaceSelector.matchLabels.team=observability', 'metricsPort=9100'] });
    const policy = findObject(custom, 'NetworkPolicy', `${fullname}-api`);
    const metricsRule = policy.spec.ingress.find((rule: any) => rule.ports[0].port === 'metrics');
    expect(metricsRule.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring', team: 'observability' } } }]);
    expect(container(findObject(custom, 'Deployment', `${fullname}-api`)).ports[1]).toEqual({ name: 'metrics', containerPort: 9100, protocol: 'TCP' });
    expect(findObject(custom, 'Service', `${fullname}-metrics`).spec.ports).toEqual([{ name: 'metrics', port: 9100, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(renderError({ valuesFiles: ['postgres-qdrant-values.yaml'], set: ['metricsPort=8020'] })).toContain('metricsPort must differ from containerPort');
  });

  it('passes CORS origins, quota, sampler and extra resource attributes through', () => {
    const data = findObject(objects, 'ConfigMap', fullname).data!;
    expect(data).toMatchObject({
      CORS_ORIGINS: 'https://app.example.com,https://admin.example.com',
      TENANT_MAX_DOCUMENTS: '5000',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      VECTOR_STORE: 'qdrant',
      QDRANT_URL: 'http://qdrant.data.svc:6333',
    });
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    expect(envEntry(api, 'OTEL_RESOURCE_ATTRIBUTES').value).toContain('deployment.environment.name=ci');
  });
});

describe('Redis with ingestion workers', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderChart({ valuesFiles: ['redis-worker-values.yaml'] });
  });

  it('splits the roles: API pods with ROLE=api, a worker Deployment with ROLE=worker scaled on its own', () => {
    const api = findObject(objects, 'Deployment', `${fullname}-api`);
    const worker = findObject(objects, 'Deployment', `${fullname}-worker`);
    expect(envEntry(api, 'ROLE').value).toBe('api');
    expect(envEntry(worker, 'ROLE').value).toBe('worker');
    expect(api.spec.replicas).toBe(3);
    expect(worker.spec).not.toHaveProperty('replicas');
    expect(findObject(objects, 'HorizontalPodAutoscaler', `${fullname}-worker`).spec).toMatchObject({ minReplicas: 2, maxReplicas: 8 });
    expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === `${fullname}-api`)).toBe(false);
    expect(envEntry(worker, 'REDIS_URL').valueFrom.secretKeyRef).toEqual({ name: 'self-rag-pipeline-credentials', key: 'REDIS_URL', optional: false });
  });

  it('uses the existing Secret and creates none, so no secret checksum either', () => {
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
    const job = findObject(objects, 'Job', `${fullname}-migrations`);
    const secretNames = new Set(job.spec.template.spec.containers[0].env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef.name));
    expect([...secretNames]).toEqual(['self-rag-pipeline-credentials']);
    expect(findObject(objects, 'Deployment', `${fullname}-api`).spec.template.metadata.annotations).not.toHaveProperty('checksum/secret');
  });

  it('scrapes API and worker pods under the job the alert rules select', () => {
    const monitor = findObject(objects, 'ServiceMonitor', fullname);
    expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    const services = objects.filter((object) => object.kind === 'Service');
    expect(services.map((s) => s.metadata.name).sort()).toEqual([fullname, `${fullname}-metrics`, `${fullname}-worker`]);
    // the API Service (which may be a LoadBalancer) carries the API port only and is not scraped
    const apiService = findObject(objects, 'Service', fullname);
    expect(apiService.spec.ports.map((p: any) => p.name)).toEqual(['http']);
    expect(apiService.metadata.labels).not.toHaveProperty(monitor.spec.jobLabel);
    expect(monitor.spec.selector.matchExpressions).toEqual([{ key: monitor.spec.jobLabel, operator: 'Exists' }]);
    for (const service of services.filter((s) => s.metadata.name !== fullname)) {
      expect(service.spec.clusterIP).toBe('None');
      expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
      expect(service.metadata.labels![monitor.spec.jobLabel]).toBe('rag-pipeline-api');
      const deployment = findObject(objects, 'Deployment', `${fullname}-${service.metadata.labels!['app.kubernetes.io/component']}`);
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports.find((p: any) => p.name === 'metrics'), service.metadata.name).toEqual({ name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' });
    }
    // workers serve no API: their Service exposes only the metrics port, as the API's -metrics one
    for (const name of [`${fullname}-worker`, `${fullname}-metrics`]) expect(findObject(objects, 'Service', name).spec.ports.map((p: any) => p.name)).toEqual(['metrics']);
  });

  it('lets workers be reached on the metrics port only, from the monitoring namespace', () => {
    const withPolicy = renderChart({ valuesFiles: ['redis-worker-values.yaml'], set: ['networkPolicy.enabled=true'] });
    const policy = findObject(withPolicy, 'NetworkPolicy', `${fullname}-worker`);
    expect(policy.spec.ingress).toEqual([
      { ports: [{ port: 'metrics', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
    ]);
  });

  it('turns the worker off without Redis', () => {
    const withoutRedis = renderChart({ valuesFiles: ['redis-worker-values.yaml'], set: ['redis.enabled=false'] });
    expect(withoutRedis.filter((o) => o.metadata.name.endsWith('-worker'))).toEqual([]);
    expect(envEntry(findObject(withoutRedis, 'Deployment', `${fullname}-api`), 'ROLE').value).toBe('all');
  });
});

describe('checksum annotation', () => {
  it('is the sha256 of the rendered configuration, so equal values give equal pods', () => {
    const [first, second] = [renderChart(), renderChart()];
    const annotation = (objects: K8sObject[]) => findObject(objects, 'Deployment', `${fullname}-api`).spec.template.metadata.annotations['checksum/config'];
    expect(annotation(first)).toBe(annotation(second));
    expect(annotation(first)).not.toBe(createHash('sha256').update('').digest('hex'));
  });
});
