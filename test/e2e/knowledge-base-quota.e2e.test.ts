import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';

describe.each(DATABASES)('TENANT_MAX_KNOWLEDGE_BASES on %s', (database) => {
  let db: DatabaseHandle;
  let app: TestApp;

  beforeAll(async () => {
    db = await startDatabase(database);
    app = await startTestApp({ ...db.env, TENANT_MAX_KNOWLEDGE_BASES: '2' });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await db?.stop();
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
    expect(refused.body).toMatchObject({
      status: 429,
      type: expect.stringMatching(/quota-exceeded$/),
      detail: expect.stringContaining('TENANT_MAX_KNOWLEDGE_BASES'),
    });
    expect((await a.get('/v1/knowledge-bases')).body.items).toHaveLength(2);

    // another tenant has a quota of its own
    expect((await api(app.baseUrl, tenantB.keys.admin).post('/v1/knowledge-bases', { name: 'one' })).status).toBe(201);

    expect((await a.delete(`/v1/knowledge-bases/${first.body.id}`)).status).toBe(204);
    expect((await a.post('/v1/knowledge-bases', { name: 'three' })).status).toBe(201);
  });

  // PostgreSQL interleaves the racing checks and inserts (without the re-check after the insert
  // this fails there); the embedded SQLite runs them one after another
  it.runIf(database === 'postgres')('holds under concurrent creations: never more KBs than the quota', async () => {
    for (let round = 0; round < 3; round += 1) {
      const tenant = await createTenantWithKeys(app.baseUrl, `quota-race-${round}`);
      const admin = api(app.baseUrl, tenant.keys.admin);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => admin.post('/v1/knowledge-bases', { name: `racer-${i}` })));
      expect(answers.map((answer) => answer.status).filter((status) => status !== 201 && status !== 429)).toEqual([]);
      const kept = (await admin.get('/v1/knowledge-bases?limit=100')).body.items;
      expect(kept.length).toBeLessThanOrEqual(2);
      expect(kept.length).toBe(answers.filter((answer) => answer.status === 201).length);
    }
  });
});
