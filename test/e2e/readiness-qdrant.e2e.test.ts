import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeQdrantServer, type FakeQdrantServer } from '../support/fake-qdrant-server';
import { api, startTestApp, type TestApp } from '../support/test-app';

describe('/ready with Qdrant as the vector store', () => {
  let qdrant: FakeQdrantServer;
  let app: TestApp;

  beforeAll(async () => {
    qdrant = await startFakeQdrantServer();
    app = await startTestApp({ VECTOR_STORE: 'qdrant', QDRANT_URL: qdrant.url });
  });

  afterAll(async () => {
    await app?.close();
    await qdrant?.close().catch(() => undefined); // the second test closes it
  });

  it("names the check `qdrant`, the guide's key, with its latency", async () => {
    const ready = await api(app.baseUrl).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.qdrant).toMatchObject({ status: 'ok', latency_ms: expect.any(Number) });
    expect(ready.body.checks.vector_store).toBeUndefined();
  });

  it('is 503 with the qdrant check in error once Qdrant is gone', async () => {
    await qdrant.close();
    const down = await api(app.baseUrl).get('/ready');
    expect(down.status).toBe(503);
    expect(down.body.checks.qdrant.status).toBe('error');
  });
});
