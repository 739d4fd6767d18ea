import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/ports';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus-server';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api, TEST_ADMIN_KEY } from '../support/test-app';

describe('a real Prometheus scrapes the running service', () => {
  let service: ServiceProcess;
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    service = await startServiceProcess({ ADMIN_API_KEY: TEST_ADMIN_KEY });
    prometheus = await startPrometheus({
      config: {
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          {
            job_name: 'rag-pipeline-api',
            metrics_path: '/metrics',
            scrape_interval: '1s',
            static_configs: [{ targets: [`127.0.0.1:${service.metricsPort}`] }],
          },
        ],
      },
    });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    await service?.stop();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('answers PromQL over http_requests_total by route template', async () => {
    const admin = api(service.baseUrl, TEST_ADMIN_KEY);
    for (let i = 0; i < 5; i += 1) await admin.get('/v1/tenants');
    await admin.get('/v1/tenants/00000000-0000-4000-8000-000000000000');
    let samples: Awaited<ReturnType<RunningPrometheus['query']>> = [];
    await waitFor(
      async () => {
        samples = await prometheus.query('sum by (endpoint, status_code) (http_requests_total{job="rag-pipeline-api", method="GET"})');
        return samples.some((s) => s.metric.endpoint === '/v1/tenants' && Number(s.value[1]) >= 5);
      },
      30_000,
      'Prometheus to scrape http_requests_total',
    );
    expect(samples.find((s) => s.metric.endpoint === '/v1/tenants/:id')?.metric.status_code).toBe('404');
    const up = await prometheus.query('up{job="rag-pipeline-api"}');
    expect(up[0]?.value[1]).toBe('1');
    await waitFor(
      async () => {
        await admin.get('/v1/tenants');
        const latency = await prometheus.query(
          'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="rag-pipeline-api"}[1m])))',
        );
        return latency.length === 1 && Number(latency[0].value[1]) > 0;
      },
      30_000,
      'a p95 latency from the scraped histogram',
    );
  });
});
