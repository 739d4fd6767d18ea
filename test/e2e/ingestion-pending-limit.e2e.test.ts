import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app-config';
import { METRICS } from '../../src/telemetry/metric-names';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { listAllDocuments, uploadFile, waitForDocument } from '../support/ingestion-client';
import { waitFor } from '../support/ports';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type ApiResponse, type TestApp } from '../support/test-app';

/**
 * The pending-jobs limit (INGESTION_MAX_PENDING_JOBS_PER_TENANT): two API replicas on one
 * database, no worker at first, so every accepted upload stays queued and the count is exact.
 */
const LIMIT = 3;

/** The service's own counters, read from a real OpenTelemetry SDK meter provider. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}
const reader = new CollectingReader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

async function rejectedUploads(): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  const points = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === METRICS.documentIngestionTotal.name)
    .flatMap((metric) => metric.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>);
  return points.filter((point) => point.attributes.status === 'rejected').reduce((sum, point) => sum + Number(point.value), 0);
}

function expectPendingLimitProblem(response: ApiResponse, pending: number): number {
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status: 429, title: 'Too Many Requests', pending_jobs: pending, max_pending_jobs: LIMIT });
  expect(response.body.type).toMatch(/\/rate-limited$/);
  expect(response.body.detail).toContain(`at most ${LIMIT}`);
  expect(response.body.request_id).toEqual(expect.any(String));
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.headers.get('ratelimit-limit-ingestion')).toBe(String(LIMIT));
  expect(response.headers.get('ratelimit-remaining-ingestion')).toBe('0');
  expect(response.headers.get('ratelimit-reset-ingestion')).toBe(String(retryAfter));
  return retryAfter;
}

describe.each(DATABASES)('pending ingestion jobs per tenant on %s', (database) => {
  let db: DatabaseHandle;
  let one: TestApp;
  let two: NestExpressApplication;
  let twoUrl: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await startDatabase(database);
    env = { ...db.env, OTEL_SDK_DISABLED: 'true', INGESTION_MAX_PENDING_JOBS_PER_TENANT: String(LIMIT) };
    one = await startTestApp({ ...env, ROLE: 'api' });
    // a second API replica: the same SQLite file, or the same Postgres
    two = await createApp(
      loadConfig({
        ADMIN_API_KEY: TEST_ADMIN_KEY,
        ...env,
        ROLE: 'api',
        DATA_DIR: database === 'sqlite' ? one.dataDir : fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-api-')),
      }),
    );
    await two.listen(0, '127.0.0.1');
    twoUrl = `http://127.0.0.1:${(two.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await two?.close();
    await one?.close();
    await db?.stop();
  });

  it('accepts uploads up to the limit across replicas, then answers 429 with Retry-After and RateLimit headers and stores nothing', async () => {
    const tenant = await createTenantWithKeys(one.baseUrl, 'backlog');
    const other = await createTenantWithKeys(one.baseUrl, 'other');
    const kb = (await api(one.baseUrl, tenant.keys.admin).post('/v1/knowledge-bases', { name: 'kb' })).body.id as string;
    const docs = `/v1/knowledge-bases/${kb}/documents`;
    const rejectedBefore = await rejectedUploads();

    // uploads alternate between the replicas; each 202 tells the places left
    const accepted: ApiResponse[] = [];
    for (let i = 0; i < LIMIT; i++)
      accepted.push(await api(i % 2 ? twoUrl : one.baseUrl, tenant.keys.write).post(docs, { content: `document ${i}` }));
    expect(accepted.map((r) => r.status)).toEqual(Array(LIMIT).fill(202));
    expect(accepted.map((r) => r.headers.get('ratelimit-limit-ingestion'))).toEqual(Array(LIMIT).fill(String(LIMIT)));
    expect(accepted.map((r) => r.headers.get('ratelimit-remaining-ingestion'))).toEqual(['2', '1', '0']);

    // full: both replicas refuse, JSON and multipart alike; nothing was stored
    expectPendingLimitProblem(await api(one.baseUrl, tenant.keys.write).post(docs, { content: 'one too many' }), LIMIT);
    // none of the tenant's jobs ended in the last minute: no rate to go by, try again in 5 s
    expect(expectPendingLimitProblem(await api(twoUrl, tenant.keys.write).post(docs, { content: 'one too many' }), LIMIT)).toBe(5);
    expectPendingLimitProblem(
      (await uploadFile(twoUrl, tenant.keys.write, kb, 'late.md', '# Late\n\nOne too many.')) as ApiResponse,
      LIMIT,
    );
    expect((await listAllDocuments(one.baseUrl, tenant.keys.read, kb)).map((d) => d.content_hash).sort()).toEqual(
      accepted.map((r) => r.body.content_hash).sort(),
    );
    expect((await rejectedUploads()) - rejectedBefore).toBe(3);

    // the same content as a stored document is answered from the KB (200), not refused
    expect((await api(one.baseUrl, tenant.keys.write).post(docs, { content: 'document 0' })).status).toBe(200);
    // re-indexing a queued document replaces its job: allowed at the limit
    const requeued = await api(twoUrl, tenant.keys.write).post(`${docs}/${accepted[0].body.id}/reindex`);
    expect(requeued.status).toBe(202);
    // another tenant has its own count
    const otherKb = (await api(one.baseUrl, other.keys.admin).post('/v1/knowledge-bases', { name: 'kb' })).body.id as string;
    const otherUpload = await api(one.baseUrl, other.keys.write).post(`/v1/knowledge-bases/${otherKb}/documents`, { content: 'unrelated' });
    expect(otherUpload.status).toBe(202);
    expect(otherUpload.headers.get('ratelimit-remaining-ingestion')).toBe(String(LIMIT - 1));
    // the limit and its problem are in the OpenAPI document
    const openApi = (await api(one.baseUrl).get('/docs-json')).body;
    expect(openApi.paths['/v1/knowledge-bases/{kb_id}/documents'].post.description).toContain('INGESTION_MAX_PENDING_JOBS_PER_TENANT');
    expect(Object.keys(openApi.paths['/v1/knowledge-bases/{kb_id}/documents/{doc_id}/reindex'].post.responses)).toContain('429');

    // a worker drains the backlog: places free up, and Retry-After now follows the tenant's recent throughput
    const worker = await createApp(
      loadConfig({
        ADMIN_API_KEY: TEST_ADMIN_KEY,
        ...env,
        ROLE: 'worker',
        DATA_DIR: database === 'sqlite' ? one.dataDir : fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-worker-')),
      }),
    );
    await worker.init();
    try {
      for (const r of accepted) expect((await waitForDocument(one.baseUrl, tenant.keys.read, kb, r.body.id)).status).toBe('indexed');
      await waitFor(
        async () => (await listAllDocuments(one.baseUrl, tenant.keys.read, kb, 'indexed')).length === LIMIT,
        30_000,
        'the re-index to finish',
      );
    } finally {
      await worker.close();
    }
    const again: ApiResponse[] = [];
    for (let i = 0; i < LIMIT; i++) again.push(await api(one.baseUrl, tenant.keys.write).post(docs, { content: `second round ${i}` }));
    expect(again.map((r) => r.status)).toEqual(Array(LIMIT).fill(202));
    // 3 jobs ended within the last seconds (the re-indexed document's first job was cancelled): at that rate a place frees in a second or two
    const retryAfter = expectPendingLimitProblem(await api(one.baseUrl, tenant.keys.write).post(docs, { content: 'one too many' }), LIMIT);
    expect(retryAfter).toBeLessThan(5);
    // re-indexing an indexed document needs a place, like an upload
    expectPendingLimitProblem(await api(one.baseUrl, tenant.keys.write).post(`${docs}/${accepted[1].body.id}/reindex`), LIMIT);
    expect((await api(one.baseUrl, tenant.keys.read).get(`${docs}/${accepted[1].body.id}`)).body.status).toBe('indexed');
  });
});
