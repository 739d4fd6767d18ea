import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

describe.each(DATABASES)('foundation API on %s', (database) => {
  let db: DatabaseHandle;
  let app: TestApp;
  let tenantA: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let tenantB: Awaited<ReturnType<typeof createTenantWithKeys>>;

  beforeAll(async () => {
    db = await startDatabase(database);
    app = await startTestApp({ ...db.env, BODY_LIMIT_BYTES: '65536' });
    tenantA = await createTenantWithKeys(app.baseUrl, 'tenant-a');
    tenantB = await createTenantWithKeys(app.baseUrl, 'tenant-b');
  });

  afterAll(async () => {
    await app?.close();
    await db?.stop();
  });

  describe('HTTP conventions', () => {
    it('GET /health answers ok with a timestamp and touches nothing', async () => {
      const res = await api(app.baseUrl).get('/health');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('ok');
      expect(typeof res.body.timestamp).toBe('number');
    });

    it('echoes a given X-Request-ID and generates one otherwise', async () => {
      const given = await api(app.baseUrl).get('/health', { 'x-request-id': 'req-123' });
      expect(given.headers.get('x-request-id')).toBe('req-123');
      const generated = await api(app.baseUrl).get('/health');
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const hostile = await api(app.baseUrl).get('/health', { 'x-request-id': 'a b<script>' });
      expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('sets helmet security headers', async () => {
      const res = await api(app.baseUrl).get('/health');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-powered-by')).toBeNull();
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('does not hash response bodies into ETags', async () => {
      const res = await api(app.baseUrl).get('/health');
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBeNull();
    });

    it('answers an unknown route with a 404 problem document', async () => {
      const res = await api(app.baseUrl).get('/v1/does-not-exist');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 404, title: 'Not Found', instance: '/v1/does-not-exist' });
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
    });

    it('answers malformed JSON with 400 and an oversized body with 413, as problems', async () => {
      const admin = api(app.baseUrl, TEST_ADMIN_KEY);
      const malformed = await admin.post('/v1/tenants', '{"name":', { 'content-type': 'application/json' });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toContain('application/problem+json');
      const huge = await admin.post('/v1/tenants', { name: 'x'.repeat(70_000) });
      expect(huge.status).toBe(413);
      expect(huge.body.type).toMatch(/payload-too-large$/);
    });

    it('names every wrong field in one 422 and rejects unknown fields', async () => {
      const res = await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', {
        name: '',
        unknown_field: 1,
        chunker: { type: 'zigzag', chunk_size: 'big', chunk_overlap: -1 },
      });
      expect(res.status).toBe(422);
      const fields = res.body.errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining(['name', 'unknown_field', 'chunker.type', 'chunker.chunk_size', 'chunker.chunk_overlap']),
      );
    });

    it('publishes an OpenAPI 3 document with every route and the problem schema', async () => {
      const res = await api(app.baseUrl).get('/docs-json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toMatch(/^3\./);
      for (const route of [
        '/v1/tenants',
        '/v1/tenants/{id}',
        '/v1/tenants/{id}/api-keys',
        '/v1/api-keys/{id}',
        '/v1/knowledge-bases',
        '/v1/knowledge-bases/{kb_id}',
      ]) {
        expect(Object.keys(res.body.paths)).toContain(route);
      }
      expect(res.body.components.schemas.ProblemDto).toBeDefined();
      const ui = await fetch(`${app.baseUrl}/docs`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain('swagger');
    });

    it('treats absurd ids as not found, never as a server error', async () => {
      const client = api(app.baseUrl, tenantA.keys.admin);
      for (const id of ['..%2F..', "1'%20OR%20'1'='1", 'x'.repeat(10_000), '%00']) {
        const res = await client.get(`/v1/knowledge-bases/${id}`);
        expect([404, 414, 431]).toContain(res.status);
      }
    });
  });

  describe('tenants and API keys', () => {
    it('lets only the platform admin manage tenants', async () => {
      expect((await api(app.baseUrl).post('/v1/tenants', { name: 'x' })).status).toBe(401);
      expect((await api(app.baseUrl, 'srk_000000000000_' + 'a'.repeat(43)).get('/v1/tenants')).status).toBe(401);
      expect((await api(app.baseUrl, tenantA.keys.admin).get('/v1/tenants')).status).toBe(403);
      const list = await api(app.baseUrl, TEST_ADMIN_KEY).get('/v1/tenants?limit=1');
      expect(list.status).toBe(200);
      expect(list.body.items).toHaveLength(1);
      expect(list.body.next_cursor).toEqual(expect.any(String));
      const next = await api(app.baseUrl, TEST_ADMIN_KEY).get(`/v1/tenants?limit=1&cursor=${list.body.next_cursor}`);
      expect(next.body.items[0].id).not.toBe(list.body.items[0].id);
    });

    it('accepts the key as Bearer and as X-API-Key', async () => {
      expect((await api(app.baseUrl, tenantA.keys.read).get('/v1/knowledge-bases')).status).toBe(200);
      expect((await api(app.baseUrl).get('/v1/knowledge-bases', { 'x-api-key': tenantA.keys.read })).status).toBe(200);
    });

    it('shows a key once, lists it without the secret, and refuses it once revoked', async () => {
      const admin = api(app.baseUrl, tenantA.keys.admin);
      const created = await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, { name: 'temp', scopes: ['read'] });
      expect(created.status).toBe(201);
      expect(created.body.key).toMatch(/^srk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const listed = await admin.get(`/v1/tenants/${tenantA.id}/api-keys?limit=100`);
      expect(listed.text).not.toContain(created.body.key);
      expect(listed.body.items.map((k: { id: string }) => k.id)).toContain(created.body.id);
      expect((await api(app.baseUrl, created.body.key).get('/v1/knowledge-bases')).status).toBe(200);
      const after = await admin.get(`/v1/tenants/${tenantA.id}/api-keys?limit=100`);
      expect(after.body.items.find((k: { id: string }) => k.id === created.body.id).last_used_at).toEqual(expect.any(String));
      expect((await admin.delete(`/v1/api-keys/${created.body.id}`)).status).toBe(204);
      expect((await api(app.baseUrl, created.body.key).get('/v1/knowledge-bases')).status).toBe(401);
    });

    it('refuses an expired key', async () => {
      const admin = api(app.baseUrl, TEST_ADMIN_KEY);
      const created = await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, {
        name: 'short-lived',
        scopes: ['read'],
        expires_at: new Date(Date.now() + 1500).toISOString(),
      });
      expect((await api(app.baseUrl, created.body.key).get('/v1/knowledge-bases')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1700));
      expect((await api(app.baseUrl, created.body.key).get('/v1/knowledge-bases')).status).toBe(401);
    });

    it('rejects unknown scopes and past expiry with 422', async () => {
      const admin = api(app.baseUrl, TEST_ADMIN_KEY);
      expect((await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, { name: 'k', scopes: ['root'] })).status).toBe(422);
      expect(
        (await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, { name: 'k', scopes: ['read'], expires_at: '2001-01-01T00:00:00Z' }))
          .status,
      ).toBe(422);
    });

    it("hides another tenant's keys: a tenant admin key gets 404 for them", async () => {
      const bAdmin = api(app.baseUrl, tenantB.keys.admin);
      expect((await bAdmin.get(`/v1/tenants/${tenantA.id}/api-keys`)).status).toBe(404);
      expect((await bAdmin.post(`/v1/tenants/${tenantA.id}/api-keys`, { name: 'evil', scopes: ['admin'] })).status).toBe(404);
      const aKeys = await api(app.baseUrl, tenantA.keys.admin).get(`/v1/tenants/${tenantA.id}/api-keys`);
      expect((await bAdmin.delete(`/v1/api-keys/${aKeys.body.items[0].id}`)).status).toBe(404);
      expect((await api(app.baseUrl, tenantA.keys.write).get(`/v1/tenants/${tenantA.id}/api-keys`)).status).toBe(403);
    });

    it('deletes a tenant with its keys and knowledge bases', async () => {
      const doomed = await createTenantWithKeys(app.baseUrl, 'doomed');
      expect((await api(app.baseUrl, doomed.keys.admin).post('/v1/knowledge-bases', { name: 'kb' })).status).toBe(201);
      expect((await api(app.baseUrl, TEST_ADMIN_KEY).delete(`/v1/tenants/${doomed.id}`)).status).toBe(204);
      expect((await api(app.baseUrl, doomed.keys.admin).get('/v1/knowledge-bases')).status).toBe(401);
      expect((await api(app.baseUrl, TEST_ADMIN_KEY).get(`/v1/tenants/${doomed.id}`)).status).toBe(404);
    });
  });

  describe('knowledge bases', () => {
    it('creates with defaults, lists with cursors, updates and deletes', async () => {
      const admin = api(app.baseUrl, tenantA.keys.admin);
      const created = await admin.post('/v1/knowledge-bases', { name: 'handbook', description: 'the handbook' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name: 'handbook',
        chunker: { type: 'recursive', chunk_size: 512, chunk_overlap: 64 },
        embedding_model: 'offline-hash-v2',
      });
      for (const name of ['kb-2', 'kb-3']) expect((await admin.post('/v1/knowledge-bases', { name })).status).toBe(201);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await api(app.baseUrl, tenantA.keys.read).get(`/v1/knowledge-bases?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((kb: { name: string }) => kb.name));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(expect.arrayContaining(['handbook', 'kb-2', 'kb-3']));
      expect(new Set(seen).size).toBe(seen.length);

      const updated = await admin.patch(`/v1/knowledge-bases/${created.body.id}`, {
        description: 'new',
        chunker: { type: 'sentence', chunk_size: 256, chunk_overlap: 0 },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.chunker.type).toBe('sentence');
      expect((await admin.delete(`/v1/knowledge-bases/${created.body.id}`)).status).toBe(204);
      expect((await admin.get(`/v1/knowledge-bases/${created.body.id}`)).status).toBe(404);
    });

    it('keeps names unique per tenant (409) but not across tenants', async () => {
      expect((await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', { name: 'shared-name' })).status).toBe(201);
      expect((await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', { name: 'shared-name' })).status).toBe(409);
      expect((await api(app.baseUrl, tenantB.keys.admin).post('/v1/knowledge-bases', { name: 'shared-name' })).status).toBe(201);
    });

    it('rejects an overlap not smaller than the size', async () => {
      const res = await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', {
        name: 'bad',
        chunker: { type: 'fixed', chunk_size: 64, chunk_overlap: 64 },
      });
      expect(res.status).toBe(422);
      expect(res.body.errors[0].field).toBe('chunker.chunk_overlap');
    });

    it("answers 404 to a key of tenant B for tenant A's knowledge base", async () => {
      const kb = await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', { name: 'private' });
      const b = api(app.baseUrl, tenantB.keys.admin);
      expect((await b.get(`/v1/knowledge-bases/${kb.body.id}`)).status).toBe(404);
      expect((await b.patch(`/v1/knowledge-bases/${kb.body.id}`, { description: 'x' })).status).toBe(404);
      expect((await b.delete(`/v1/knowledge-bases/${kb.body.id}`)).status).toBe(404);
      const list = await b.get('/v1/knowledge-bases?limit=100');
      expect(list.text).not.toContain(kb.body.id);
      expect((await api(app.baseUrl, tenantA.keys.read).get(`/v1/knowledge-bases/${kb.body.id}`)).status).toBe(200);
    });

    it('enforces scopes: read and write keys cannot manage knowledge bases, the admin key cannot read tenant data', async () => {
      expect((await api(app.baseUrl, tenantA.keys.read).post('/v1/knowledge-bases', { name: 'nope' })).status).toBe(403);
      expect((await api(app.baseUrl, tenantA.keys.write).post('/v1/knowledge-bases', { name: 'nope' })).status).toBe(403);
      expect((await api(app.baseUrl, TEST_ADMIN_KEY).get('/v1/knowledge-bases')).status).toBe(403);
    });
  });
});

describe('ROLE=worker', () => {
  it('keeps health and readiness but serves no API (metrics are on METRICS_PORT, never this port)', async () => {
    const app = await startTestApp({ ROLE: 'worker' });
    try {
      expect((await api(app.baseUrl).get('/health')).status).toBe(200);
      expect((await api(app.baseUrl).get('/ready')).status).toBe(200);
      expect((await api(app.baseUrl).get('/metrics')).status).toBe(404);
      const res = await api(app.baseUrl, TEST_ADMIN_KEY).get('/v1/tenants');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await app.close();
    }
  });
});
