import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../support/ingestion-client';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';

/**
 * UPLOAD_BYTES_PER_SECOND_PER_TENANT: a tenant's multipart bytes are taken from its budget before
 * the body is read (storing an upload holds the event loop: 0.7 s for 15 MB), so one tenant
 * sending large files back to back is told to wait while another's uploads go through.
 */
describe('the per-tenant upload bytes budget', () => {
  let app: TestApp;
  beforeAll(async () => {
    // burst 2 × (64 KB + 64 KB of multipart room) = 256 KB, then 1 KB/s
    app = await startTestApp({ OTEL_SDK_DISABLED: 'true', MAX_UPLOAD_BYTES: '65536', UPLOAD_BYTES_PER_SECOND_PER_TENANT: '1024' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('accepts a burst, then answers 429 with Retry-After before storing anything, and leaves other tenants alone', async () => {
    const attacker = await createTenantWithKeys(app.baseUrl, 'attacker');
    const other = await createTenantWithKeys(app.baseUrl, 'other');
    const kb = (await api(app.baseUrl, attacker.keys.admin).post('/v1/knowledge-bases', { name: 'a' })).body.id as string;
    const otherKb = (await api(app.baseUrl, other.keys.admin).post('/v1/knowledge-bases', { name: 'o' })).body.id as string;
    const file = (i: number) => Buffer.from(`${i} `.padEnd(60_000, 'word '));
    expect((await uploadFile(app.baseUrl, attacker.keys.write, kb, '1.txt', file(1))).status).toBe(202);
    expect((await uploadFile(app.baseUrl, attacker.keys.write, kb, '2.txt', file(2))).status).toBe(202);
    expect((await uploadFile(app.baseUrl, attacker.keys.write, kb, '3.txt', file(3))).status).toBe(202);
    expect((await uploadFile(app.baseUrl, attacker.keys.write, kb, '4.txt', file(4))).status).toBe(202);
    const refused = await uploadFile(app.baseUrl, attacker.keys.write, kb, '5.txt', file(5));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body.type).toMatch(/\/rate-limited$/);
    expect(refused.body.detail).toContain('UPLOAD_BYTES_PER_SECOND_PER_TENANT (1024 bytes/s)');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const documents = await api(app.baseUrl, attacker.keys.read).get(`/v1/knowledge-bases/${kb}/documents`);
    expect(documents.body.items).toHaveLength(4);
    expect((await uploadFile(app.baseUrl, other.keys.write, otherKb, '1.txt', file(1))).status).toBe(202);
    // JSON uploads are bounded by BODY_LIMIT_BYTES, not by this budget
    expect((await api(app.baseUrl, attacker.keys.write).post(`/v1/knowledge-bases/${kb}/documents`, { content: 'small' })).status).toBe(
      202,
    );
  });
});
