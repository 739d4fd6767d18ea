import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS, RUNTIME_METRICS } from '../../src/telemetry/metric-names';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { waitFor } from '../support/ports';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { generatedAdminKey, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api, TEST_ADMIN_KEY } from '../support/test-app';

/** Parses Prometheus text: family → TYPE and the label names of each sample. */
function parseExposition(text: string) {
  const types = new Map<string, string>();
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (!line || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample) continue;
    const labels: Record<string, string> = {};
    for (const match of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]] = match[2]!;
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

describe('telemetry of the running service (embedded stores, an OpenAI-compatible LLM test server)', () => {
  let receiver: OtlpReceiver;
  let llm: FakeLlmServer;
  let service: ServiceProcess;
  let admin: ReturnType<typeof api>;
  let tenantKey: string;
  let tenantId: string;
  let kbId: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    llm = await startFakeLlmServer();
    service = await startServiceProcess({
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: `${llm.url}/v1`,
      LLM_MODEL: 'fake-chat-1',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
    });
    admin = api(service.baseUrl, generatedAdminKey(service.dataDir));
    const tenant = await admin.post('/v1/tenants', { name: 'observed' });
    const key = await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'k', scopes: ['admin'] });
    tenantKey = key.body.key;
    tenantId = tenant.body.id;
    const kb = await api(service.baseUrl, tenantKey).post('/v1/knowledge-bases', { name: 'kb' });
    kbId = kb.body.id;
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    await llm?.close();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('answers every request with X-Trace-ID and traceparent of its server span', async () => {
    const res = await api(service.baseUrl, tenantKey).get(`/v1/knowledge-bases/${kbId}`);
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('traceparent')).toContain(traceId!);
    await waitFor(() => receiver.spans.some((s) => s.traceId === traceId), 15_000, 'the request span over OTLP');
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const server = spans.find((s) => s.kind === 2);
    expect(server?.attributes['http.route']).toBe('/v1/knowledge-bases/:kb_id');
    expect(server?.name).toBe('GET /v1/knowledge-bases/:kb_id');
    // Express layer spans are opt-in: Nest's controller and handler spans name the work
    expect(spans.filter((s) => s.attributes['express.type'] !== undefined)).toEqual([]);
    expect(server?.resource['service.name']).toBe('self-rag-pipeline');
    expect(server?.resource['service.version']).toEqual(expect.any(String));
    expect(spans.some((s) => /KnowledgeBasesController/.test(s.name))).toBe(true);
  });

  it('exports log records over OTLP carrying the trace id of their request', async () => {
    const res = await api(service.baseUrl, tenantKey).get('/v1/knowledge-bases');
    const traceId = res.headers.get('x-trace-id')!;
    await waitFor(() => receiver.logs.some((l) => l.traceId === traceId), 15_000, 'an access log record with the trace id');
    const exported = receiver.logs.find((l) => l.traceId === traceId && l.attributes.logger === 'http.access');
    // the exported record carries the guide's fields, as the printed line does
    expect(exported?.attributes).toMatchObject({
      endpoint: '/v1/knowledge-bases',
      status_code: 200,
      request_id: res.headers.get('x-request-id'),
      tenant_id: expect.any(String),
    });
    const stdoutLine = service.output
      .map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return undefined;
        }
      })
      .find((l) => l?.trace_id === traceId && l.logger === 'http.access');
    expect(stdoutLine).toMatchObject({
      level: 'INFO',
      endpoint: '/v1/knowledge-bases',
      status_code: 200,
      request_id: res.headers.get('x-request-id'),
    });
    expect(stdoutLine.tenant_id).toEqual(expect.any(String));
    expect(stdoutLine.duration_ms).toEqual(expect.any(Number));
  });

  it("carries the upload's trace into its ingestion job: document spans are children, the batch span links to it", async () => {
    const tenantApi = api(service.baseUrl, tenantKey);
    const upload = await fetch(`${service.baseUrl}/v1/knowledge-bases/${kbId}/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Traces follow a document from its upload to its chunks.' }),
    });
    expect(upload.status).toBe(202);
    const traceId = upload.headers.get('x-trace-id')!;
    const documentId = ((await upload.json()) as { id: string }).id;
    await waitFor(
      async () => (await tenantApi.get(`/v1/knowledge-bases/${kbId}/documents/${documentId}`)).body.status === 'indexed',
      30_000,
      'the document to be indexed',
    );
    await waitFor(
      () => receiver.spans.some((s) => s.name === 'ingestion.document' && s.traceId === traceId),
      15_000,
      'the ingestion.document span in the upload trace',
    );
    const documentSpan = receiver.spans.find((s) => s.name === 'ingestion.document' && s.traceId === traceId)!;
    expect(documentSpan.attributes['document.id']).toBe(documentId);
    // its parent is a span of the upload request itself
    const parent = receiver.spans.find((s) => s.spanId === documentSpan.parentSpanId);
    expect(parent?.traceId).toBe(traceId);
    expect(parent?.name).not.toMatch(/^ingestion\./);
    for (const step of ['ingestion.parse', 'ingestion.chunk']) {
      expect(
        receiver.spans.some((s) => s.name === step && s.traceId === traceId),
        step,
      ).toBe(true);
    }
    // the batch span ends after its documents' spans (it also covers embedding and indexing), so it
    // may come in a later export
    const linked = () =>
      receiver.spans.find((s) => s.name === 'ingestion.batch' && (s.links ?? []).some((link) => link.traceId === traceId));
    await waitFor(() => linked() !== undefined, 15_000, 'an ingestion.batch span linked to the upload');
    expect(linked(), 'an ingestion.batch span linked to the upload').toBeDefined();
  });

  it('pushes the guide metrics and the semantic-convention HTTP metric over OTLP', async () => {
    await waitFor(
      () => receiver.metricNames.has(METRICS.httpRequestsTotal.name) && receiver.metricNames.has('http.server.request.duration'),
      15_000,
      'metrics over OTLP',
    );
  });

  it('serves every family of the guide on /metrics in Prometheus text that promtool accepts, with route templates and no scope labels', async () => {
    // one of each kind of work, so every family has samples: ingestion (embedding, vector upsert),
    // retrieval, an answer (LLM call), the same query again (embedding cache hit)
    const tenantApi = api(service.baseUrl, tenantKey);
    const doc = await tenantApi.post(`/v1/knowledge-bases/${kbId}/documents`, {
      content: 'Observability means metrics, traces and logs for every request.',
    });
    expect(doc.status).toBe(202);
    await waitFor(
      async () => (await tenantApi.get(`/v1/knowledge-bases/${kbId}/documents/${doc.body.id}`)).body.status === 'indexed',
      30_000,
      'the document to be indexed',
    );
    expect((await tenantApi.post('/v1/retrieve', { query: 'what is observability?', kb_ids: [kbId] })).status).toBe(200);
    expect((await tenantApi.post('/v1/rag', { query: 'what is observability?', kb_ids: [kbId], mode: 'standard' })).status).toBe(200);
    await tenantApi.get('/v1/knowledge-bases/00000000-0000-4000-8000-000000000000');
    // business gauges are read from counts cached a few seconds
    await waitFor(async () => /\nchunks_total\{/.test(await (await fetch(service.metricsUrl)).text()), 20_000, 'chunk gauges');
    // the API port does not serve /metrics: a probe there is a counted 404 (endpoint `unmatched`)
    expect((await api(service.baseUrl).get('/metrics')).status).toBe(404);
    const res = await fetch(service.metricsUrl);
    expect(res.status).toBe(200);
    const text = await res.text();
    const file = path.join(os.tmpdir(), `metrics-${process.pid}.txt`);
    fs.writeFileSync(file, text);
    try {
      execFileSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      // the guide names three gauges `*_total` (SPEC keeps its names): promtool's lint says so and
      // nothing else may be reported; a parse error fails here
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      const problems = `${stdout}${stderr}`.split('\n').filter(Boolean);
      const guideGaugeNames = /^(knowledge_bases_total|documents_total|chunks_total) non-counter metrics should not have "_total" suffix$/;
      expect(
        problems.filter((line) => !guideGaugeNames.test(line)),
        'promtool check metrics',
      ).toEqual([]);
    }
    fs.rmSync(file);

    const { types, samples } = parseExposition(text);
    const endpoints = new Set(samples.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.endpoint));
    expect(endpoints).toContain('/v1/knowledge-bases/:kb_id');
    expect([...endpoints].some((e) => e?.includes('00000000-0000'))).toBe(false);
    expect(endpoints).not.toContain('/metrics');
    expect(samples.some((s) => Object.keys(s.labels).some((l) => l.startsWith('otel_scope')))).toBe(false);

    for (const metric of Object.values(METRICS)) {
      const family = metric.name;
      const familySamples = samples.filter((s) => s.name === family || s.name === `${family}_count`);
      expect(familySamples.length, `samples of ${family}`).toBeGreaterThan(0);
      expect(types.get(family), family).toBe(metric.type);
      for (const sample of familySamples) {
        expect(Object.keys(sample.labels).sort(), family).toEqual([...metric.labels].sort());
      }
    }
    for (const always of [
      METRICS.httpRequestsTotal,
      METRICS.httpRequestDuration,
      METRICS.processCpuSecondsTotal,
      METRICS.processResidentMemoryBytes,
      METRICS.processOpenFds,
      METRICS.databaseConnectionsActive,
      METRICS.databaseConnectionsIdle,
    ]) {
      expect(types.get(always.name), always.name).toBe(always.type);
    }
    const buckets = samples.filter((s) => s.name === 'http_request_duration_seconds_bucket').map((s) => s.labels.le);
    expect(buckets).toEqual(expect.arrayContaining(['0.005', '10', '+Inf']));
    const llmBuckets = samples.filter((s) => s.name === 'llm_call_duration_seconds_bucket').map((s) => s.labels.le);
    expect(llmBuckets).toEqual(expect.arrayContaining(['60', '+Inf']));
    expect(samples.find((s) => s.name === 'llm_calls_total')?.labels).toEqual({
      provider: 'openai',
      model: 'fake-chat-1',
      status: 'success',
    });
    expect(samples.find((s) => s.name === 'cache_hits_total')?.value).toBeGreaterThan(0);
  });

  it('/health/deep pings the configured LLM once', async () => {
    const before = llm.requestsTo('/v1/chat/completions').length;
    const deep = await admin.get('/health/deep');
    expect(deep.status).toBe(200);
    expect(deep.body.checks.llm_service).toMatchObject({ status: 'ok' });
    expect(llm.requestsTo('/v1/chat/completions').length).toBe(before + 1);
  });

  it('counts a request the client abandons before the answer, as 499, and logs it with its request and tenant ids', async () => {
    llm.fail('/v1/chat/completions', { kind: 'delay', ms: 3000 }, 1);
    const abandoned = new AbortController();
    const call = fetch(`${service.baseUrl}/v1/rag`, {
      method: 'POST',
      signal: abandoned.signal,
      headers: { authorization: `Bearer ${tenantKey}`, 'content-type': 'application/json', 'x-request-id': 'abandoned-rag-1' },
      body: JSON.stringify({ query: 'what is observability?', kb_ids: [kbId], mode: 'standard' }),
    }).catch((error: Error) => error.name);
    setTimeout(() => abandoned.abort(), 500);
    expect(await call).toBe('AbortError');
    await waitFor(
      async () =>
        /http_requests_total\{method="POST",endpoint="\/v1\/rag",status_code="499"\} 1/.test(
          await (await fetch(service.metricsUrl)).text(),
        ),
      10_000,
      'the abandoned request counted as 499',
    );
    const line = service.output
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return undefined;
        }
      })
      .find((l) => l?.logger === 'http.access' && l.status_code === 499);
    // the line is written when the socket closes, outside the request's async context
    expect(line).toMatchObject({ endpoint: '/v1/rag', method: 'POST', request_id: 'abandoned-rag-1', tenant_id: tenantId });
  });

  it('serves /metrics on METRICS_PORT only: the API port answers 404 problem+json, the metrics listener nothing but /metrics', async () => {
    const onApi = await api(service.baseUrl).get('/metrics');
    expect(onApi.status).toBe(404);
    expect(onApi.headers.get('content-type')).toContain('application/problem+json');
    expect(onApi.text).not.toContain('http_requests_total');
    const scraped = await fetch(service.metricsUrl);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    expect(await scraped.text()).toContain('# TYPE http_requests_total counter');
    const elsewhere = await fetch(service.metricsUrl.replace('/metrics', '/v1/knowledge-bases'));
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.headers.get('content-type')).toContain('application/problem+json');
    // the scrape itself is neither counted nor traced; the API port's 404 is traced like any request
    expect(await (await fetch(service.metricsUrl)).text()).not.toMatch(/endpoint="\/metrics"/);
    const serverSpansFor = (path: string) =>
      receiver.spans.filter((span) => span.kind === 2 && (span.attributes['url.path'] ?? span.attributes['http.target']) === path);
    await waitFor(() => serverSpansFor('/metrics').length > 0, 15_000, "the API port's /metrics 404 span");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ports = serverSpansFor('/metrics').map((span) => Number(span.attributes['server.port'] ?? span.attributes['net.host.port']));
    expect(ports.length).toBeGreaterThan(0);
    expect(
      ports.every((port) => port === service.port),
      JSON.stringify(ports),
    ).toBe(true);
    expect(
      receiver.spans.filter(
        (span) => span.kind === 2 && Number(span.attributes['server.port'] ?? span.attributes['net.host.port']) === service.metricsPort,
      ),
    ).toEqual([]);
  });

  it("drops a deleted knowledge base's series (retrieval counter, document and chunk gauges), then a deleted tenant's, from the next scrape", async () => {
    // a tenant of its own, so the other tests' per-tenant gauges do not move
    const tenant = await admin.post('/v1/tenants', { name: 'short-lived' });
    const tenantApi = api(
      service.baseUrl,
      (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'k', scopes: ['admin'] })).body.key,
    );
    const kb = (await tenantApi.post('/v1/knowledge-bases', { name: 'short-lived' })).body.id as string;
    const doc = await tenantApi.post(`/v1/knowledge-bases/${kb}/documents`, {
      content: 'A knowledge base that is about to be deleted, with its series.',
    });
    await waitFor(
      async () => (await tenantApi.get(`/v1/knowledge-bases/${kb}/documents/${doc.body.id}`)).body.status === 'indexed',
      30_000,
      'the document to be indexed',
    );
    expect((await tenantApi.post('/v1/retrieve', { query: 'deleted series', kb_ids: [kb], retriever: 'sparse' })).status).toBe(200);
    const familiesOf = (text: string) =>
      parseExposition(text)
        .samples.filter((sample) => sample.labels.kb_id === kb)
        .map((sample) => sample.name)
        .sort();
    let text = '';
    await waitFor(
      async () => {
        text = await (await fetch(service.metricsUrl)).text();
        return familiesOf(text).join() === 'chunks_total,documents_total,retrieval_operations_total';
      },
      20_000,
      "the KB's series",
    );
    const { types } = parseExposition(text);
    expect(types.get('retrieval_operations_total')).toBe('counter');
    expect(
      parseExposition(text).samples.find((sample) => sample.name === 'retrieval_operations_total' && sample.labels.kb_id === kb),
    ).toMatchObject({ labels: { retriever_type: 'sparse', kb_id: kb }, value: 1 });

    expect((await tenantApi.delete(`/v1/knowledge-bases/${kb}`)).status).toBe(204);
    const after = await (await fetch(service.metricsUrl)).text();
    expect(familiesOf(after)).toEqual([]);
    // the other KB's series stay
    const seriesOf = (exposition: string, id: string) =>
      parseExposition(exposition)
        .samples.filter((sample) => sample.labels.kb_id === id)
        .map((sample) => `${sample.name}${JSON.stringify(sample.labels)}`)
        .sort();
    expect(seriesOf(after, kbId)).toEqual(seriesOf(text, kbId));
    // and a deleted tenant's own series (active_api_keys, knowledge_bases_total) go the same way
    expect(
      parseExposition(after)
        .samples.filter((sample) => sample.labels.tenant_id === tenant.body.id)
        .map((sample) => sample.name),
    ).toContain('active_api_keys');
    expect((await admin.delete(`/v1/tenants/${tenant.body.id}`)).status).toBe(204);
    expect(
      parseExposition(await (await fetch(service.metricsUrl)).text()).samples.filter(
        (sample) => sample.labels.tenant_id === tenant.body.id,
      ),
    ).toEqual([]);
    // the same producer feeds the OTLP export
    await waitFor(
      () => receiver.metricNames.has('retrieval_operations_total') && receiver.metricNames.has('documents_total'),
      15_000,
      'the kb-labelled families over OTLP',
    );
  });

  it('shows a stalled event loop: a warning line with its duration, the stall counter and the delay gauges', async () => {
    const sampleOf = (text: string, name: string) => parseExposition(text).samples.find((sample) => sample.name === name)?.value;
    const before = await (await fetch(service.metricsUrl)).text();
    for (const metric of Object.values(RUNTIME_METRICS))
      expect(parseExposition(before).types.get(metric.name), metric.name).toBe(metric.type);
    const stallsBefore = sampleOf(before, 'nodejs_eventloop_stalls_total')!;
    expect(stallsBefore).toBeGreaterThanOrEqual(0);
    expect(sampleOf(before, 'nodejs_eventloop_utilization_ratio')).toBeGreaterThan(0);

    // a stopped process is a stalled loop: every timer is late by as long as it was stopped
    service.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 1600));
    service.child.kill('SIGCONT');
    const stallLine = () =>
      service.output
        .map((line) => {
          try {
            return JSON.parse(line);
          } catch {
            return undefined;
          }
        })
        .find((line) => line?.logger === 'event-loop');
    await waitFor(() => stallLine() !== undefined, 10_000, 'the stall warning');
    expect(stallLine()).toMatchObject({
      level: 'WARN',
      message: expect.stringMatching(/^event loop stalled for \d+ ms$/),
      threshold_ms: 1000,
    });
    expect(stallLine().stall_ms).toBeGreaterThanOrEqual(1500);
    const after = await (await fetch(service.metricsUrl)).text();
    expect(sampleOf(after, 'nodejs_eventloop_stalls_total')).toBe(stallsBefore + 1);
    expect(sampleOf(after, 'nodejs_eventloop_delay_max_seconds')).toBeGreaterThanOrEqual(1.5);
  });

  it('counts business gauges per tenant', async () => {
    await waitFor(
      async () => {
        const text = await (await fetch(service.metricsUrl)).text();
        return (
          /knowledge_bases_total\{tenant_id="[0-9a-f-]{36}"\} 1/.test(text) && /active_api_keys\{tenant_id="[0-9a-f-]{36}"\} 1/.test(text)
        );
      },
      15_000,
      'business gauges',
    );
  });
});

describe('a worker process (ROLE=worker)', () => {
  let worker: ServiceProcess;

  beforeAll(async () => {
    worker = await startServiceProcess({ ROLE: 'worker', ADMIN_API_KEY: TEST_ADMIN_KEY });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    if (worker) fs.rmSync(worker.dataDir, { recursive: true, force: true });
  });

  it('serves its metrics on its own metrics listener, and not on its API port', async () => {
    const scraped = await fetch(worker.metricsUrl);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('# TYPE process_resident_memory_bytes gauge');
    expect((await api(worker.baseUrl).get('/metrics')).status).toBe(404);
  });
});

describe('readiness follows the database', () => {
  let postgres: PostgresServer;
  let service: ServiceProcess;

  beforeAll(async () => {
    postgres = await startPostgres();
    service = await startServiceProcess({ DATABASE_URL: postgres.url, ADMIN_API_KEY: TEST_ADMIN_KEY, OTEL_SDK_DISABLED: 'true' });
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await postgres?.stop();
  });

  it('/ready is 503 while PostgreSQL is stopped and 200 again once it is back, while /health stays 200', async () => {
    const ready = await api(service.baseUrl).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toMatchObject({ status: 'ok', latency_ms: expect.any(Number) });

    await postgres.pause();
    await waitFor(async () => (await api(service.baseUrl).get('/ready')).status === 503, 20_000, '/ready to turn 503');
    const down = await api(service.baseUrl).get('/ready');
    expect(down.body.status).toBe('error');
    expect(down.body.checks.database.status).toBe('error');
    expect((await api(service.baseUrl).get('/health')).status).toBe(200);

    await postgres.resume();
    await waitFor(async () => (await api(service.baseUrl).get('/ready')).status === 200, 30_000, '/ready to recover');
  });

  it('/health/deep needs the admin key and reports counts', async () => {
    expect((await api(service.baseUrl).get('/health/deep')).status).toBe(401);
    const deep = await api(service.baseUrl, TEST_ADMIN_KEY).get('/health/deep');
    expect(deep.status).toBe(200);
    expect(deep.body.checks.database_query.data).toMatchObject({ total_tenants: expect.any(Number), indexed_chunks: expect.any(Number) });
  });
});
