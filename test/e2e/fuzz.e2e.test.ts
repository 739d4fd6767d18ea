import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDocument } from '../support/ingestion-client';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

/** Raw HTTP, so bodies can be invalid UTF-8 and headers can carry what fetch refuses. */
function rawRequest(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; contentType: string; text: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body && { 'content-length': String(body.length) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const HOSTILE_IDS = ['..%2F..%2Fetc%2Fpasswd', "'%20OR%201%3D1%20--", 'x'.repeat(5000), '%00', '%FF%FE', '%E2%80%AE', '1e9999', '-1', 'null', '%7B%7D'];
const hasWords = (text: string) => /[\p{L}\p{N}]/u.test(text);
const FTS_QUERIES = ['"', '*', 'NEAR(a b)', 'a OR b', 'NOT', 'AND OR NOT', '"unterminated', 'col:term', '^start', '(((', 'title:*', "'; DROP TABLE chunks; --", '\\', '$1', '%', '_'];

/** Deeply nested JSON as raw text: building it as an object would overflow this test's own stack. */
class RawJson {
  constructor(readonly text: string) {}
}
function deepNesting(depth: number): RawJson {
  return new RawJson(`${'{"nested":'.repeat(depth)}"leaf"${'}'.repeat(depth)}`);
}
function serialize(body: unknown): string {
  if (body instanceof RawJson) return body.text;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const entries = Object.entries(body as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(body);
}

/** Wrong values for one JSON Schema property. */
function wrongValues(schema: Record<string, any> | undefined): unknown[] {
  const type = schema?.type;
  const values: unknown[] = [null, {}, [], true, -1, 1e308, 'x'.repeat(2 * 1024 * 1024)];
  if (type === 'string') values.push(12345, ['a'], { $gt: '' });
  if (type === 'integer' || type === 'number') values.push('12', 1.5, Number.MAX_SAFE_INTEGER * 4, '');
  if (type === 'array') values.push('not-an-array', [null], Array.from({ length: 10_000 }, () => 'x'));
  if (type === 'object') values.push('string', deepNesting(2000));
  return values;
}

describe('hostile input against every operation of the OpenAPI document', () => {
  let app: TestApp;
  let key: string;
  let kbId: string;
  let docId: string;
  let tenantId: string;
  let openapi: any;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_RPS: '100000', RATE_LIMIT_TENANT_RPS: '100000' });
    const tenant = await createTenantWithKeys(app.baseUrl, 'fuzzed');
    tenantId = tenant.id;
    key = tenant.keys.admin;
    const client = api(app.baseUrl, key);
    kbId = (await client.post('/v1/knowledge-bases', { name: 'kb' })).body.id;
    docId = (await client.post(`/v1/knowledge-bases/${kbId}/documents`, { content: 'Fuzzing finds crashes. 模糊测试发现崩溃。' })).body.id;
    await waitForDocument(app.baseUrl, key, kbId, docId);
    openapi = (await api(app.baseUrl).get('/docs-json')).body;
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  const operations = () =>
    Object.entries(openapi.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));

  const fill = (path: string, params: Record<string, string> = {}) =>
    path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? ({ id: tenantId, kb_id: kbId, doc_id: docId } as Record<string, string>)[name] ?? kbId);

  const credentialFor = (path: string) => (path.startsWith('/v1/tenants') && !path.includes('api-keys') ? TEST_ADMIN_KEY : path === '/health/deep' ? TEST_ADMIN_KEY : key);

  const assertProblem = (label: string, res: { status: number; contentType: string; text: string }) => {
    expect(res.status, `${label}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
    if (res.status >= 400) expect(res.contentType, label).toContain('application/problem+json');
  };

  it('answers path traversal, SQL and absurd ids with 4xx problems', async () => {
    for (const { path, method } of operations()) {
      if (!path.includes('{') || method === 'DELETE') continue;
      for (const id of HOSTILE_IDS) {
        for (const param of path.match(/\{(\w+)\}/g) ?? []) {
          const name = param.slice(1, -1);
          const url = fill(path, { [name]: id });
          const res = await rawRequest(app.baseUrl, method, url, { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' }, Buffer.from('{}'));
          assertProblem(`${method} ${url.slice(0, 80)}`, res);
        }
      }
    }
  }, 120_000);

  it('answers wrong types, missing fields, 2 MB strings and deep nesting in every body field with 4xx problems', async () => {
    for (const { path, method, op } of operations()) {
      const ref = op.requestBody?.content?.['application/json']?.schema?.$ref as string | undefined;
      if (!ref) continue;
      const schema = openapi.components.schemas[ref.split('/').pop()!];
      const url = fill(path);
      const bodies: unknown[] = [{}, [], 'string', 42, null, deepNesting(5000)];
      for (const [field, propertySchema] of Object.entries<Record<string, any>>(schema.properties ?? {})) {
        const resolved = propertySchema.$ref ? openapi.components.schemas[propertySchema.$ref.split('/').pop()] : propertySchema;
        for (const wrong of wrongValues(resolved)) bodies.push({ [field]: wrong });
      }
      for (const body of bodies) {
        const text = serialize(body);
        const res = await rawRequest(app.baseUrl, method, url, { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' }, Buffer.from(text));
        assertProblem(`${method} ${path} ${text.slice(0, 80)}`, res);
      }
    }
  }, 240_000);

  it('answers invalid UTF-8 and non-JSON bodies with 4xx problems', async () => {
    for (const { path, method, op } of operations()) {
      if (!op.requestBody) continue;
      for (const body of [Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), Buffer.from('{"a":'), Buffer.from('<xml/>')]) {
        const res = await rawRequest(app.baseUrl, method, fill(path), { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' }, body);
        assertProblem(`${method} ${path} raw`, res);
      }
    }
  }, 60_000);

  it('treats FTS5 and SQL syntax in queries as plain text', async () => {
    const client = api(app.baseUrl, key);
    for (const query of FTS_QUERIES) {
      for (const retriever of ['sparse', 'hybrid', 'dense']) {
        const res = await client.post('/v1/retrieve', { query, kb_ids: [kbId], retriever });
        // text with no letter or digit cannot match anything: a clear 422, never an interpreted query
        expect(res.status, `${retriever} ${query}: ${res.text.slice(0, 200)}`).toBe(hasWords(query) ? 200 : 422);
      }
      const rag = await client.post('/v1/rag', { query, kb_ids: [kbId], mode: 'standard' });
      expect(rag.status, `rag ${query}`).toBe(hasWords(query) ? 200 : 422);
    }
  }, 60_000);

  it('ignores header injection attempts and keeps serving', async () => {
    const res = await rawRequest(app.baseUrl, 'GET', '/v1/knowledge-bases', { authorization: `Bearer ${key}`, 'x-request-id': 'abc%0d%0aSet-Cookie:%20evil=1' });
    expect(res.status).toBe(200);
    const injected = await fetch(`${app.baseUrl}/health`, { headers: { 'x-request-id': 'evil\tvalue' } });
    expect(injected.headers.get('set-cookie')).toBeNull();
    expect(injected.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await api(app.baseUrl).get('/health')).status).toBe(200);
    expect((await api(app.baseUrl).get('/ready')).status).toBe(200);
  });
});
