import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';

describe('TENANT_MAX_KNOWLEDGE_BASES', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ TENANT_MAX_KNOWLEDGE_BASES: '2' });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('answers a KB past the quota with a 429 problem, counts per tenant, and frees a place on delete', async () => {
    const tenantA = await createTenantWithKeys(app.baseUrl, 'quota-a');
    const tenantB = await createTenantWithKeys(app.baseUrl, 'quota-b');
    const a = api(app.baseUrl, tenantA.keys.admin);
    const first = await a.post('/v1/knowledge-bases', { name: 'one' });
    expect(first.status).toBe(201);
    expect((await a.post('/v1/knowledge-bases', { name: 'two' })).status).toBe(201);

    const refused = await a.post('/v1/knowledge-bases', { name: 'three' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ status: 429, type: expect.stringMatching(/quota-exceeded$/), detail: expect.stringContaining('TENANT_MAX_KNOWLEDGE_BASES') });
    expect((await a.get('/v1/knowledge-bases')).body.items).toHaveLength(2);

    // another tenant has a quota of its own
    expect((await api(app.baseUrl, tenantB.keys.admin).post('/v1/knowledge-bases', { name: 'one' })).status).toBe(201);

    expect((await a.delete(`/v1/knowledge-bases/${first.body.id}`)).status).toBe(204);
    expect((await a.post('/v1/knowledge-bases', { name: 'three' })).status).toBe(201);
  });
});
