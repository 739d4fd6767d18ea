import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server';
import { uploadFile, waitForDocument } from '../support/ingestion-client';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { waitFor } from '../support/ports';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { REPO_ROOT, startServiceProcess, type ServiceProcess } from '../support/service-process';

/**
 * Secrets never leave the service: after a run over every route (successes and errors) with
 * telemetry exported over OTLP, the admin key, every tenant API key, the database password and
 * the provider keys appear nowhere in stdout/stderr, spans, OTLP log records, /metrics, error
 * bodies or /docs-json. Uploads: size-limited before buffering; never written outside DATA_DIR.
 * Needs `npm run build`.
 */

const secret = (prefix: string) => `${prefix}${randomBytes(18).toString('hex')}`;
const ADMIN_KEY = secret('admin-');
const DB_PASSWORD = secret('dbpw');
const LLM_KEY = secret('sk-llm-');
const EMBEDDING_KEY = secret('sk-emb-');
const MAX_UPLOAD_BYTES = 1024 * 1024;

interface Seen {
  method: string;
  path: string;
  status: number;
  headers: string;
  body: string;
}

describe('secrets and uploads', () => {
  let postgres: PostgresServer;
  let llm: FakeLlmServer;
  let embeddings: FakeLlmServer;
  let receiver: OtlpReceiver;
  let service: ServiceProcess;
  const seen: Seen[] = [];
  const tenantKeys: string[] = [];

  /** Every response is kept, except the one 201 that shows a new key once, by design. */
  const call = async (method: string, route: string, key: string | undefined, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${service.baseUrl}${route}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    seen.push({ method, path: route, status: res.status, headers: JSON.stringify([...res.headers]), body: text });
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics, SSE)
    }
    return { status: res.status, body: parsed, text };
  };

  beforeAll(async () => {
    postgres = await startPostgres();
    // a role of our own with a random password, so that the needle is unique
    const pg = new Client({ connectionString: postgres.url });
    await pg.connect();
    await pg.query(`CREATE ROLE secretive LOGIN PASSWORD '${DB_PASSWORD}' SUPERUSER`);
    await pg.query('CREATE DATABASE secretive OWNER secretive');
    await pg.end();
    llm = await startFakeLlmServer({ apiKey: LLM_KEY });
    embeddings = await startFakeLlmServer({ apiKey: EMBEDDING_KEY, embeddingDimension: 64 });
    receiver = await startOtlpReceiver();
    service = await startServiceProcess(
      {
        ADMIN_API_KEY: ADMIN_KEY,
        DATABASE_URL: `postgres://secretive:${DB_PASSWORD}@127.0.0.1:${postgres.port}/secretive`,
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: `${llm.url}/v1`,
        LLM_MODEL: 'fake-chat',
        LLM_API_KEY: LLM_KEY,
        EMBEDDING_PROVIDER: 'openai',
        EMBEDDING_BASE_URL: `${embeddings.url}/v1`,
        EMBEDDING_MODEL: 'fake-embed',
        EMBEDDING_API_KEY: EMBEDDING_KEY,
        MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
        // the size limit is under test here: six 100 MB uploads of undeclared length would each be
        // charged MAX_UPLOAD_BYTES by the tenant's upload budget and meet its 429 from the third on
        UPLOAD_BYTES_PER_SECOND_PER_TENANT: '0',
        LOG_LEVEL: 'debug',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_BLRP_SCHEDULE_DELAY: '100',
      },
      { waitMs: 60_000 },
    );
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    await receiver?.close();
    await llm?.close();
    await embeddings?.close();
    await postgres?.stop();
  });

  it('exercises every route, then finds no secret in logs, spans, log records, metrics, error bodies or the OpenAPI document', async () => {
    // platform admin: tenants and keys
    expect((await call('GET', '/v1/tenants', ADMIN_KEY)).status).toBe(200);
    const tenant = await call('POST', '/v1/tenants', ADMIN_KEY, { name: 'secretive' });
    expect(tenant.status).toBe(201);
    const other = await call('POST', '/v1/tenants', ADMIN_KEY, { name: 'other' });
    const keyIds: Record<string, string> = {};
    for (const scope of ['admin', 'write', 'read'] as const) {
      const res = await fetch(`${service.baseUrl}/v1/tenants/${tenant.body.id}/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${scope}-key`, scopes: [scope] }),
      });
      const created = (await res.json()) as { id: string; key: string };
      expect(res.status).toBe(201);
      tenantKeys.push(created.key);
      keyIds[scope] = created.id;
    }
    const [adminKey, writeKey, readKey] = tenantKeys as [string, string, string];
    const doomed = (await (
      await fetch(`${service.baseUrl}/v1/tenants/${other.body.id}/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'doomed', scopes: ['read'] }),
      })
    ).json()) as { id: string; key: string };
    tenantKeys.push(doomed.key);
    expect((await call('GET', `/v1/tenants/${tenant.body.id}`, ADMIN_KEY)).status).toBe(200);
    expect((await call('PATCH', `/v1/tenants/${tenant.body.id}`, ADMIN_KEY, { name: 'secretive-2' })).status).toBe(200);
    expect((await call('GET', `/v1/tenants/${tenant.body.id}/api-keys`, ADMIN_KEY)).status).toBe(200);
    expect((await call('DELETE', `/v1/api-keys/${doomed.id}`, ADMIN_KEY)).status).toBe(204);

    // the key of every kind of failure: revoked, almost right, in the other header, wrong scope, in the query string
    expect((await call('GET', '/v1/knowledge-bases', doomed.key)).status).toBe(401);
    expect((await call('GET', '/v1/knowledge-bases', `${readKey}x`)).status).toBe(401);
    expect((await call('GET', '/v1/knowledge-bases', readKey.slice(0, -1))).status).toBe(401);
    expect((await call('GET', '/v1/knowledge-bases', undefined, undefined, { 'x-api-key': `${adminKey}0` })).status).toBe(401);
    expect((await call('GET', '/v1/tenants', `${ADMIN_KEY}!`)).status).toBe(401);
    expect((await call('GET', '/v1/tenants', readKey)).status).toBe(403);
    expect((await call('POST', '/v1/knowledge-bases', readKey, { name: 'nope' })).status).toBe(403);
    expect(
      (
        await call('GET', '/v1/knowledge-bases', undefined, undefined, {
          authorization: `Basic ${Buffer.from(`user:${writeKey}`).toString('base64')}`,
        })
      ).status,
    ).toBe(401);

    // knowledge bases and documents
    const kb = await call('POST', '/v1/knowledge-bases', adminKey, { name: 'kb', description: 'secret keeping' });
    expect(kb.status).toBe(201);
    expect((await call('GET', '/v1/knowledge-bases', readKey)).status).toBe(200);
    expect((await call('GET', `/v1/knowledge-bases/${kb.body.id}`, readKey)).status).toBe(200);
    expect((await call('PATCH', `/v1/knowledge-bases/${kb.body.id}`, adminKey, { description: 'changed' })).status).toBe(200);
    const doc = await call('POST', `/v1/knowledge-bases/${kb.body.id}/documents`, writeKey, {
      title: 'keys',
      content: 'API keys are stored hashed and shown once at creation. Keys can expire and be revoked.',
    });
    expect(doc.status).toBe(202);
    const upload = await uploadFile(
      service.baseUrl,
      writeKey,
      kb.body.id,
      'notes.md',
      '# Notes\n\nProvider keys come from the environment.',
      { metadata: '{"source":"test"}' },
    );
    seen.push({
      method: 'POST',
      path: 'multipart',
      status: upload.status,
      headers: JSON.stringify([...upload.headers]),
      body: JSON.stringify(upload.body),
    });
    expect(upload.status).toBe(202);
    expect((await waitForDocument(service.baseUrl, readKey, kb.body.id, doc.body.id)).status).toBe('indexed');
    expect((await waitForDocument(service.baseUrl, readKey, kb.body.id, upload.body.id)).status).toBe('indexed');
    expect((await call('GET', `/v1/knowledge-bases/${kb.body.id}/documents`, readKey)).status).toBe(200);
    expect((await call('GET', `/v1/knowledge-bases/${kb.body.id}/documents/${doc.body.id}`, readKey)).status).toBe(200);
    expect((await call('POST', `/v1/knowledge-bases/${kb.body.id}/documents/${doc.body.id}/reindex`, writeKey)).status).toBe(202);
    expect((await waitForDocument(service.baseUrl, readKey, kb.body.id, doc.body.id)).status).toBe('indexed');

    // retrieval and RAG, including provider failures
    expect((await call('POST', '/v1/retrieve', readKey, { query: 'how are keys stored', kb_ids: [kb.body.id] })).status).toBe(200);
    expect((await call('POST', '/v1/rag', readKey, { query: 'how are keys stored', kb_ids: [kb.body.id], mode: 'standard' })).status).toBe(
      200,
    );
    expect((await call('POST', '/v1/rag', readKey, { query: 'how are keys stored', kb_ids: [kb.body.id], mode: 'self-rag' })).status).toBe(
      200,
    );
    expect((await call('POST', '/v1/rag', readKey, { query: 'how are keys stored', kb_ids: [kb.body.id], stream: true })).status).toBe(200);
    llm.fail(
      '/v1/chat/completions',
      { kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } },
      10,
    );
    const rejected = await call('POST', '/v1/rag', readKey, { query: 'how are keys stored', kb_ids: [kb.body.id], mode: 'standard' });
    expect(rejected.status).toBeGreaterThanOrEqual(500);
    llm.clearFaults();
    embeddings.fail('/v1/embeddings', { kind: 'status', status: 500 }, Infinity);
    expect(
      (await call('POST', '/v1/retrieve', readKey, { query: 'an uncached query about rotation', kb_ids: [kb.body.id], retriever: 'dense' }))
        .status,
    ).toBeGreaterThanOrEqual(500);
    embeddings.clearFaults();
    expect((await call('POST', '/v1/retrieve', readKey, { query: 'x', kb_ids: ['not-a-uuid'], top_k: 'ten' })).status).toBe(422);
    expect((await call('POST', '/v1/retrieve', readKey, '{"query": ')).status).toBe(400);

    // health, metrics, docs, deletes
    expect((await call('GET', '/health', undefined)).status).toBe(200);
    expect((await call('GET', '/ready', undefined)).status).toBe(200);
    expect((await call('GET', '/health/deep', ADMIN_KEY)).status).toBe(200);
    expect((await call('GET', '/health/deep', adminKey)).status).toBe(403);
    expect((await call('DELETE', `/v1/knowledge-bases/${kb.body.id}/documents/${upload.body.id}`, writeKey)).status).toBe(204);
    expect((await call('DELETE', `/v1/knowledge-bases/${kb.body.id}`, adminKey)).status).toBe(204);
    expect((await call('DELETE', `/v1/tenants/${other.body.id}`, ADMIN_KEY)).status).toBe(204);
    const docsJson = await call('GET', '/docs-json', undefined);
    expect(docsJson.status).toBe(200);

    // every OpenAPI path was called at least once
    const called = new Set(seen.map((s) => `${s.method} ${s.path.split('?')[0].replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}')}`));
    // called outside `call`: the multipart upload, the key creations (their 201 shows the key by design)
    for (const op of ['POST /v1/knowledge-bases/{id}/documents', 'POST /v1/tenants/{id}/api-keys']) called.add(op);
    const operations = Object.entries(docsJson.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{id}')}`),
    );
    expect(operations.filter((op) => !called.has(op) && !op.includes('/docs'))).toEqual([]);

    // let the exporters flush, then gather everything the service emitted
    await waitFor(
      () => receiver.logs.length > 0 && receiver.spans.some((s) => s.name.includes('/v1/rag') || s.attributes['http.route'] === '/v1/rag'),
      20_000,
      'spans and log records over OTLP',
    );
    await new Promise((r) => setTimeout(r, 1500));
    // the metrics listener's text (METRICS_PORT), not the API port's
    const metricsResponse = await fetch(service.metricsUrl);
    const metrics = { status: metricsResponse.status, text: await metricsResponse.text() };
    expect(metrics.status).toBe(200);
    const haystacks: Record<string, string> = {
      'stdout/stderr': service.output.join('\n'),
      spans: JSON.stringify(receiver.spans),
      'OTLP log records': JSON.stringify(receiver.logs),
      '/metrics': metrics.text,
      'response bodies and headers': seen.map((s) => `${s.method} ${s.path} ${s.status} ${s.headers} ${s.body}`).join('\n'),
      '/docs-json': docsJson.text,
    };
    expect(service.output.length).toBeGreaterThan(20);
    expect(receiver.spans.length).toBeGreaterThan(20);
    const needles: Record<string, string> = {
      'platform admin key': ADMIN_KEY,
      'database password': DB_PASSWORD,
      LLM_API_KEY: LLM_KEY,
      EMBEDDING_API_KEY: EMBEDDING_KEY,
      ...Object.fromEntries(tenantKeys.map((k, i) => [`tenant API key ${i}`, k])),
      // the part of a tenant key after its public prefix is the secret: no long piece of it either
      ...Object.fromEntries(tenantKeys.map((k, i) => [`tail of tenant API key ${i}`, k.slice(-20)])),
    };
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(haystacks)) {
      for (const [what, needle] of Object.entries(needles)) if (text.includes(needle)) leaks.push(`${what} in ${where}`);
      if (text.includes(Buffer.from(`user:${writeKey}`).toString('base64'))) leaks.push(`basic credentials in ${where}`);
    }
    expect(leaks).toEqual([]);
    // the provider really was called with its key (the needles are live secrets)
    expect(llm.requestsTo('/v1/chat/completions').some((r) => r.headers.authorization === `Bearer ${LLM_KEY}`)).toBe(true);
    expect(embeddings.requestsTo('/v1/embeddings').some((r) => r.headers.authorization === `Bearer ${EMBEDDING_KEY}`)).toBe(true);
  }, 120_000);

  // the HTTP and NestJS instrumentations copy the raw query string into span attributes (`url.query`,
  // `url.full`); RedactingSpanExporter masks it, so a key put in the URL does not reach traces
  it('keeps a key sent in the query string out of spans and logs', async () => {
    const [, writeKey] = tenantKeys as [string, string];
    const res = await fetch(`${service.baseUrl}/v1/knowledge-bases?limit=1&api_key=${writeKey}`);
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(writeKey);
    await waitFor(
      () =>
        receiver.spans.some(
          (s) =>
            s.attributes['http.response.status_code'] === 401 &&
            String((s.attributes['url.query'] as string | undefined) ?? '').includes('limit=1'),
        ),
      15_000,
      'the span of the request',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(service.output.join('\n')).not.toContain(writeKey);
    expect(JSON.stringify(receiver.logs)).not.toContain(writeKey);
    expect(JSON.stringify(receiver.spans)).not.toContain(writeKey);
  }, 30_000);

  it('refuses uploads over MAX_UPLOAD_BYTES with 413 without buffering them', async () => {
    const tenant = await call('POST', '/v1/tenants', ADMIN_KEY, { name: 'uploads' });
    const created = await fetch(`${service.baseUrl}/v1/tenants/${tenant.body.id}/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'k', scopes: ['admin'] }),
    });
    const key = ((await created.json()) as { key: string }).key;
    const kb = await call('POST', '/v1/knowledge-bases', key, { name: 'uploads' });
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${service.child.pid}/status`, 'utf8'))![1]) / 1024;

    /** Streams a multipart body of `totalBytes`, chunked or with a declared length; stops when the answer comes. */
    const streamUpload = (totalBytes: number, declareLength: boolean) =>
      new Promise<{ status?: number; body: string; sentMb: number; cut: boolean }>((resolve) => {
        const boundary = 'x-boundary-0123456789';
        const head = Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.txt"\r\nContent-Type: text/plain\r\n\r\n`,
        );
        const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
        const chunk = Buffer.alloc(256 * 1024, 'a');
        const url = new URL(`${service.baseUrl}/v1/knowledge-bases/${kb.body.id}/documents`);
        let sent = 0;
        let answered = false;
        let status: number | undefined;
        let body = '';
        const req = http.request({
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            ...(declareLength ? { 'content-length': String(head.length + totalBytes + tail.length) } : { 'transfer-encoding': 'chunked' }),
          },
        });
        const finish = (cut: boolean) => resolve({ status, body, sentMb: sent / 1024 / 1024, cut });
        req.on('response', (res) => {
          answered = true;
          status = res.statusCode;
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            req.destroy();
            finish(sent < totalBytes);
          });
        });
        req.on('error', () => finish(true));
        req.write(head);
        const pump = () => {
          while (!answered && sent < totalBytes) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!answered) req.end(tail);
        };
        pump();
      });

    const before = rss();
    const declared = await streamUpload(100 * 1024 * 1024, true);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ status: 413, type: expect.stringMatching(/payload-too-large$/) });
    expect(declared.sentMb).toBeLessThan(100);
    const chunked: Array<Awaited<ReturnType<typeof streamUpload>>> = [];
    for (let i = 0; i < 3; i++) chunked.push(await streamUpload(100 * 1024 * 1024, false));
    const afterFirst = rss();
    for (let i = 0; i < 3; i++) chunked.push(await streamUpload(100 * 1024 * 1024, false));
    const after = rss();
    for (const attempt of chunked) {
      expect(attempt.status).toBe(413);
      expect(JSON.parse(attempt.body)).toMatchObject({ status: 413 });
    }
    // a chunked upload is read to its end and discarded (multer answers once the request is over):
    // the socket buffers are garbage until a collection, which V8 starts by the external memory
    // they hold, so RSS rises once (measured +82 to +89 MB on Node 24 for the first 300 MB) and no
    // further (+2 to +10 MB for 300 MB more). Holding the uploads would add 100 MB per upload.
    expect(afterFirst - before).toBeLessThan(150);
    expect(after - afterFirst).toBeLessThan(30);
    process.stdout.write(
      `uploads over MAX_UPLOAD_BYTES: declared 100 MB refused after ${declared.sentMb.toFixed(1)} MB sent; 6 chunked 100 MB refused after ${chunked.map((c) => c.sentMb.toFixed(1)).join(', ')} MB sent; RSS ${before.toFixed(0)} → ${afterFirst.toFixed(0)} → ${after.toFixed(0)} MB\n`,
    );
    expect((await call('GET', '/health', undefined)).status).toBe(200);
  }, 120_000);

  it('writes nothing outside DATA_DIR, whatever the uploaded file is called', async () => {
    const tenant = await call('POST', '/v1/tenants', ADMIN_KEY, { name: 'traversal' });
    const created = await fetch(`${service.baseUrl}/v1/tenants/${tenant.body.id}/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'k', scopes: ['admin'] }),
    });
    const key = ((await created.json()) as { key: string }).key;
    const kb = await call('POST', '/v1/knowledge-bases', key, { name: 'traversal' });
    const marker = randomBytes(6).toString('hex');
    const absolute = path.join(os.tmpdir(), `evil-${marker}-abs.txt`);
    const names = [
      `../../evil-${marker}.txt`,
      `..\\..\\evil-${marker}-win.txt`,
      `....//....//evil-${marker}-dots.txt`,
      absolute,
      `%2e%2e%2fevil-${marker}-enc.txt`,
    ];
    const dataDir = service.dataDir;
    const before = new Set(fs.readdirSync(REPO_ROOT));
    for (const [i, name] of names.entries()) {
      const res = await uploadFile(service.baseUrl, key, kb.body.id, name, `traversal attempt ${i} ${marker}`);
      expect([200, 202, 415, 422]).toContain(res.status);
      if (res.status === 202) expect((await waitForDocument(service.baseUrl, key, kb.body.id, res.body.id)).status).toBe('indexed');
    }
    const candidates = [
      absolute,
      path.resolve(dataDir, '..', '..', `evil-${marker}.txt`),
      path.resolve(dataDir, '..', `evil-${marker}.txt`),
      path.resolve(REPO_ROOT, '..', '..', `evil-${marker}.txt`),
      path.resolve(REPO_ROOT, '..', `evil-${marker}.txt`),
    ];
    expect(candidates.filter((file) => fs.existsSync(file))).toEqual([]);
    const scan = (dir: string, depth: number): string[] =>
      depth < 0 || !fs.existsSync(dir)
        ? []
        : fs
            .readdirSync(dir, { withFileTypes: true })
            .flatMap((e) =>
              e.name.includes(marker)
                ? [path.join(dir, e.name)]
                : e.isDirectory() && !e.isSymbolicLink()
                  ? scan(path.join(dir, e.name), depth - 1)
                  : [],
            );
    expect([...scan(os.tmpdir(), 1), ...scan(path.dirname(REPO_ROOT), 1)]).toEqual([]);
    expect(fs.readdirSync(REPO_ROOT).filter((e) => !before.has(e))).toEqual([]);
  }, 60_000);
});
