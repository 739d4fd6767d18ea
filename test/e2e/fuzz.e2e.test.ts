import * as http from 'node:http';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDocument } from '../support/ingestion-client';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

/** Raw HTTP, so bodies can be invalid UTF-8 and headers can carry what fetch refuses. */
function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; contentType: string; text: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body && { 'content-length': String(body.length) }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const HOSTILE_IDS = [
  '..%2F..%2Fetc%2Fpasswd',
  "'%20OR%201%3D1%20--",
  'x'.repeat(5000),
  '%00',
  '%FF%FE',
  '%E2%80%AE',
  '1e9999',
  '-1',
  'null',
  '%7B%7D',
];
const hasWords = (text: string) => /[\p{L}\p{N}]/u.test(text);
const FTS_QUERIES = [
  '"',
  '*',
  'NEAR(a b)',
  'a OR b',
  'NOT',
  'AND OR NOT',
  '"unterminated',
  'col:term',
  '^start',
  '(((',
  'title:*',
  "'; DROP TABLE chunks; --",
  '\\',
  '$1',
  '%',
  '_',
];

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

/** A multipart upload built by hand, so the file name parameter's bytes are exactly these (`filename="…"` or `filename*=UTF-8''…`). */
function multipartUpload(
  fileParameter: Buffer,
  content: string,
  fields: Record<string, string> = {},
): { body: Buffer; contentType: string } {
  const boundary = 'fuzzboundary7d1f';
  const parts = Object.entries(fields).map(([name, value]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
  );
  const body = Buffer.concat([
    ...parts,
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; `),
    fileParameter,
    Buffer.from(`\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

const BUILT_IN_NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

/** Wrong values for one JSON Schema property. */
function wrongValues(schema: Record<string, any> | undefined): unknown[] {
  const type = schema?.type;
  // keys named like built-ins, nested: class-transformer took a `constructor` key for the class to build
  const prototypeNamed = JSON.parse(
    '{"constructor":{"prototype":{"a":1}},"__proto__":{"x":1},"toString":"s","list":[{"constructor":"c"}]}',
  );
  const values: unknown[] = [null, {}, [], true, -1, 1e308, 'x'.repeat(2 * 1024 * 1024), prototypeNamed, [prototypeNamed]];
  if (type === 'string') values.push(12345, ['a'], { $gt: '' });
  if (type === 'integer' || type === 'number') values.push('12', 1.5, Number.MAX_SAFE_INTEGER * 4, '');
  if (type === 'array')
    values.push(
      'not-an-array',
      [null],
      Array.from({ length: 10_000 }, () => 'x'),
    );
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
    Object.entries(openapi.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );

  const fill = (path: string, params: Record<string, string> = {}) =>
    path.replace(
      /\{(\w+)\}/g,
      (_, name: string) => params[name] ?? ({ id: tenantId, kb_id: kbId, doc_id: docId } as Record<string, string>)[name] ?? kbId,
    );

  const credentialFor = (path: string) =>
    path.startsWith('/v1/tenants') && !path.includes('api-keys') ? TEST_ADMIN_KEY : path === '/health/deep' ? TEST_ADMIN_KEY : key;

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
          const res = await rawRequest(
            app.baseUrl,
            method,
            url,
            { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' },
            Buffer.from('{}'),
          );
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
        const res = await rawRequest(
          app.baseUrl,
          method,
          url,
          { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' },
          Buffer.from(text),
        );
        assertProblem(`${method} ${path} ${text.slice(0, 80)}`, res);
      }
    }
  }, 240_000);

  it('answers invalid UTF-8 and non-JSON bodies with 4xx problems', async () => {
    for (const { path, method, op } of operations()) {
      if (!op.requestBody) continue;
      for (const body of [
        Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
        Buffer.from('{"a":'),
        Buffer.from('<xml/>'),
      ]) {
        const res = await rawRequest(
          app.baseUrl,
          method,
          fill(path),
          { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' },
          body,
        );
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
    const res = await rawRequest(app.baseUrl, 'GET', '/v1/knowledge-bases', {
      authorization: `Bearer ${key}`,
      'x-request-id': 'abc%0d%0aSet-Cookie:%20evil=1',
    });
    expect(res.status).toBe(200);
    const injected = await fetch(`${app.baseUrl}/health`, { headers: { 'x-request-id': 'evil\tvalue' } });
    expect(injected.headers.get('set-cookie')).toBeNull();
    expect(injected.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await api(app.baseUrl).get('/health')).status).toBe(200);
    expect((await api(app.baseUrl).get('/ready')).status).toBe(200);
  });

  const jsonOperations = () => operations().filter(({ op }) => op.requestBody?.content?.['application/json']);

  it('refuses a 1 MB body of 60,000 unknown keys on every JSON route with a small 413, before validating it', async () => {
    const wide = `{${Array.from({ length: 60_000 }, (_, i) => `"key_${String(i).padStart(5, '0')}":1`).join(',')}}`;
    const manySmall = JSON.stringify({
      items: Array.from({ length: 400 }, () => Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]))),
    });
    for (const { path, method } of jsonOperations()) {
      for (const body of [wide, manySmall]) {
        const res = await rawRequest(
          app.baseUrl,
          method,
          fill(path),
          { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' },
          Buffer.from(body),
        );
        expect(res.status, `${method} ${path}: ${res.text.slice(0, 200)}`).toBe(413);
        expect(res.contentType).toContain('application/problem+json');
        expect(res.text.length, `${method} ${path}`).toBeLessThan(2000);
      }
    }
    expect((await api(app.baseUrl).get('/health')).status).toBe(200);
  }, 120_000);

  it('answers many unknown keys (within the budget) with a short, capped list of errors', async () => {
    const body = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`unknown_${i}_${'x'.repeat(400)}`, 1]));
    const res = await api(app.baseUrl, key).post('/v1/retrieve', { ...body, query: 'q', kb_ids: [kbId] });
    expect(res.status).toBe(422);
    expect(res.body.errors).toHaveLength(20);
    expect(res.body.error_count).toBe(250);
    expect(res.text.length).toBeLessThan(10_000);
  });

  it('filters on metadata fields named like object built-ins exactly, with every retriever', async () => {
    const client = api(app.baseUrl, key);
    const kb = (await client.post('/v1/knowledge-bases', { name: 'built-in names' })).body.id;
    const metadata = Object.fromEntries(BUILT_IN_NAMES.map((name) => [name, `v-${name}`]));
    const named = await client.post(`/v1/knowledge-bases/${kb}/documents`, {
      content: 'Penguins huddle against the Antarctic wind.',
      metadata,
    });
    expect(named.status).toBe(202);
    expect(named.body.metadata).toEqual(metadata);
    const plain = await client.post(`/v1/knowledge-bases/${kb}/documents`, {
      content: 'Penguins dive for krill in cold water.',
      metadata: { lang: 'en' },
    });
    await waitForDocument(app.baseUrl, key, kb, named.body.id);
    await waitForDocument(app.baseUrl, key, kb, plain.body.id);
    for (const name of BUILT_IN_NAMES) {
      for (const retriever of ['sparse', 'dense', 'hybrid']) {
        const search = (filters: unknown) => client.post('/v1/retrieve', { query: 'penguins', kb_ids: [kb], retriever, filters });
        const hit = await search({ [name]: `v-${name}` });
        expect(hit.status, `${name} ${retriever}: ${hit.text.slice(0, 200)}`).toBe(200);
        expect(
          hit.body.results.map((r: { document_id: string }) => r.document_id),
          `${name} ${retriever}`,
        ).toEqual([named.body.id]);
        expect((await search({ [name]: 'other' })).body.results, `${name} ${retriever}`).toEqual([]);
        expect((await search({ [name]: { in: ['other'] } })).body.results, `${name} ${retriever}`).toEqual([]);
      }
    }
    const proto = await client.post('/v1/retrieve', JSON.parse(`{"query":"penguins","kb_ids":["${kb}"],"filters":{"__proto__":"x"}}`));
    expect(proto.status).toBe(422);
    const protoMetadata = await rawRequest(
      app.baseUrl,
      'POST',
      `/v1/knowledge-bases/${kb}/documents`,
      { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      Buffer.from('{"content":"proto","metadata":{"__proto__":{"admin":true}}}'),
    );
    expect(protoMetadata.status).toBe(422);
  }, 120_000);

  it('refuses metadata nested too deep or too wide, as JSON or as multipart text, and answers promptly for what was stored before the limit', async () => {
    const client = api(app.baseUrl, key);
    const kb = (await client.post('/v1/knowledge-bases', { name: 'deep metadata' })).body.id;
    const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    const url = `/v1/knowledge-bases/${kb}/documents`;
    const multipart = multipartUpload(Buffer.from('filename="deep.txt"'), 'deep metadata about walruses', { metadata: deep(2700) });
    const refused = await rawRequest(
      app.baseUrl,
      'POST',
      url,
      { authorization: `Bearer ${key}`, 'content-type': multipart.contentType },
      multipart.body,
    );
    expect(refused.status, refused.text).toBe(422);
    expect(JSON.parse(refused.text).errors[0].field).toBe('metadata');
    for (const metadata of [deep(9), JSON.stringify({ wide: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i])) })]) {
      expect(
        (await client.post(url, `{"content":"x ${metadata.length}","metadata":${metadata}}`, { 'content-type': 'application/json' }))
          .status,
      ).toBe(422);
    }
    const accepted = await client.post(url, `{"content":"Walruses haul out on sea ice.","metadata":${deep(8)}}`, {
      'content-type': 'application/json',
    });
    expect(accepted.status).toBe(202);
    await waitForDocument(app.baseUrl, key, kb, accepted.body.id);

    // a row written before the limit existed: 2,700 levels overflowed the stack crossing threads, and retrieval hung
    await app.app.get(DataSource).query('UPDATE documents SET metadata = ? WHERE id = ?', [deep(2700), accepted.body.id]);
    for (const retriever of ['sparse', 'dense', 'hybrid']) {
      const res = await client.call('POST', '/v1/retrieve', { query: 'walruses', kb_ids: [kb], retriever }, {});
      expect(res.status, res.text.slice(0, 200)).toBe(200);
      expect(res.body.results[0].document_id).toBe(accepted.body.id);
      expect(res.body.results[0].metadata).toEqual({});
    }
    // 16 KiB of nested arrays, 8,000 levels: deeper than JSON.stringify can write back
    await app.app
      .get(DataSource)
      .query('UPDATE documents SET metadata = ? WHERE id = ?', [`{"a":${'['.repeat(8000)}${']'.repeat(8000)}}`, accepted.body.id]);
    const document = await client.get(`${url}/${accepted.body.id}`);
    expect(document.status, document.text.slice(0, 200)).toBe(200);
    expect(document.body.metadata).toEqual({});
    const listed = await client.get(url);
    expect(listed.status, listed.text.slice(0, 200)).toBe(200);
    expect(listed.body.items.find((item: { id: string }) => item.id === accepted.body.id).metadata).toEqual({});
  }, 120_000);

  it('refuses control characters in every name, and stores UTF-8 file names exactly, without control characters', async () => {
    const client = api(app.baseUrl, key);
    const admin = api(app.baseUrl, TEST_ADMIN_KEY);
    for (const name of ['nul\u0000', 'esc\u001b[31mred', 'cr\r\nlf', 'c1\u0085']) {
      expect((await admin.post('/v1/tenants', { name })).status, JSON.stringify(name)).toBe(422);
      expect((await admin.patch(`/v1/tenants/${tenantId}`, { name })).status, JSON.stringify(name)).toBe(422);
      expect((await client.post(`/v1/tenants/${tenantId}/api-keys`, { name, scopes: ['read'] })).status, JSON.stringify(name)).toBe(422);
      expect((await client.post('/v1/knowledge-bases', { name })).status, JSON.stringify(name)).toBe(422);
      expect((await client.patch(`/v1/knowledge-bases/${kbId}`, { name })).status, JSON.stringify(name)).toBe(422);
      expect(
        (await client.post(`/v1/knowledge-bases/${kbId}/documents`, { title: name, content: `titled ${JSON.stringify(name)}` })).status,
        JSON.stringify(name),
      ).toBe(422);
    }
    const url = `/v1/knowledge-bases/${kbId}/documents`;
    const upload = async (fileParameter: Buffer, content: string) => {
      const { body, contentType } = multipartUpload(fileParameter, content);
      const res = await rawRequest(app.baseUrl, 'POST', url, { authorization: `Bearer ${key}`, 'content-type': contentType }, body);
      expect(res.status, res.text).toBeLessThan(300);
      return JSON.parse(res.text).file_name as string;
    };
    // browsers and curl send UTF-8 bytes in the quoted name; busboy's default read them as latin1
    expect(await upload(Buffer.from('filename="résumé 履歴書 🚀.md"', 'utf8'), 'utf-8 name')).toBe('résumé 履歴書 🚀.md');
    // raw control bytes in a header are a malformed part; RFC 5987 percent-encoding carries them
    expect(await upload(Buffer.from("filename*=UTF-8''tab%09cr%0D%0Alf%1B%5B31m%7F%00.txt"), 'control name')).toBe('tabcrlf[31m.txt');
    const form = new FormData();
    form.append('file', new Blob(['crlf name']), 'line\r\nbreak.txt');
    const crlf = await fetch(`${app.baseUrl}${url}`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
    expect(crlf.status).toBeLessThan(300);
    expect(((await crlf.json()) as { file_name: string }).file_name).not.toMatch(/\p{Cc}/u);
  }, 60_000);

  it('reads RFC 3339 expiry dates exactly and refuses other ISO 8601 forms with a 422, never a 500', async () => {
    const client = api(app.baseUrl, key);
    const create = (expires_at: string) => client.post(`/v1/tenants/${tenantId}/api-keys`, { name: 'dated', scopes: ['read'], expires_at });
    for (const odd of [
      '2027-W01-1',
      '2027-W01',
      '2027-001',
      '2027-02-30',
      '2027-01-31T08:00:00',
      '+275760-09-13T00:00:00Z',
      '2027-01-31T25:00:00Z',
      '2027-01-31T08:00:00+99:00',
    ]) {
      const res = await create(odd);
      expect(res.status, `${odd}: ${res.text.slice(0, 200)}`).toBe(422);
      expect(res.body.errors[0].field).toBe('expires_at');
    }
    const exact = await create('2099-01-31T08:00:00.5+02:00');
    expect(exact.status).toBe(201);
    expect(exact.body.expires_at).toBe('2099-01-31T06:00:00.500Z');
    expect((await create('2099-01-31')).body.expires_at).toBe('2099-01-31T00:00:00.000Z');
  });

  it('never echoes an API key pasted into a path, in detail or instance', async () => {
    const secrets = [key, TEST_ADMIN_KEY];
    for (const { path, method } of operations()) {
      if (!path.includes('{') || method === 'DELETE') continue;
      for (const param of path.match(/\{(\w+)\}/g) ?? []) {
        for (const secret of secrets) {
          const url = fill(path, { [param.slice(1, -1)]: secret });
          const res = await rawRequest(
            app.baseUrl,
            method,
            url,
            { authorization: `Bearer ${credentialFor(path)}`, 'content-type': 'application/json' },
            Buffer.from('{}'),
          );
          assertProblem(`${method} ${path}`, res);
          for (const s of secrets) expect(res.text, `${method} ${path}`).not.toContain(s);
        }
      }
    }
    const unknownRoute = await rawRequest(app.baseUrl, 'GET', `/v1/${key}`, { authorization: `Bearer ${key}` });
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.text).not.toContain(key);
  }, 60_000);

  it('answers a sparse query none of whose words is indexed with no results', async () => {
    const res = await api(app.baseUrl, key).post('/v1/retrieve', { query: 'zebra xylophone quokka', kb_ids: [kbId], retriever: 'sparse' });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
  });
});
