import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';

describe('retrieval on a knowledge base with nothing indexed yet', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers every retriever with no results, not an error', async () => {
    const tenant = await createTenantWithKeys(app.baseUrl, 'empty');
    const client = api(app.baseUrl, tenant.keys.admin);
    const kb = await client.post('/v1/knowledge-bases', { name: 'empty' });
    for (const retriever of ['dense', 'sparse', 'hybrid']) {
      const res = await client.post('/v1/retrieve', { query: 'anything at all', kb_ids: [kb.body.id], retriever });
      expect(res.status, `${retriever}: ${res.text}`).toBe(200);
      expect(res.body.results).toEqual([]);
    }
    const rag = await client.post('/v1/rag', { query: 'anything at all', kb_ids: [kb.body.id], mode: 'standard' });
    expect(rag.status).toBe(200);
    expect(rag.body.citations).toEqual([]);
  });
});
