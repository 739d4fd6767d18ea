import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ApiKeysRepository } from '../../src/tenants/api-keys.repository';
import { startRedis, type RedisServer } from '../support/redis-server';
import { api, startTestApp, TEST_ADMIN_KEY, type ApiResponse, type TestApp } from '../support/test-app';

/**
 * Refusing is cheap: a key over its limit, or an address sending wrong keys, is refused before
 * the key is looked up (the real repository's lookups are counted through a spy that calls through).
 */
const KEY_RPS = 4;
const AUTH_FAILURES = 10;
const LIMITS = {
  RATE_LIMIT_RPS: String(KEY_RPS),
  RATE_LIMIT_TENANT_RPS: '100',
  RATE_LIMIT_AUTH_FAILURES: String(AUTH_FAILURES),
  OTEL_SDK_DISABLED: 'true',
};

async function freshWindow(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
}

function count(responses: ApiResponse[], status: number): number {
  return responses.filter((r) => r.status === status).length;
}

async function sequentially(n: number, call: () => Promise<ApiResponse>): Promise<ApiResponse[]> {
  const out: ApiResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await call());
  return out;
}

describe.each([
  ['in process', false],
  ['in Redis', true],
])('admission before authentication (rate-limit counters %s)', (_name, withRedis) => {
  let redis: RedisServer | undefined;
  let app: TestApp;
  let readKey: string;
  let otherKey: string;
  let kbId: string;
  let lookups: MockInstance;

  beforeAll(async () => {
    if (withRedis) redis = await startRedis();
    app = await startTestApp({ ...LIMITS, ...(redis && { REDIS_URL: redis.url }) });
    const admin = api(app.baseUrl, TEST_ADMIN_KEY);
    const tenant = await admin.post('/v1/tenants', { name: 'admission' });
    const adminKey = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'admin', scopes: ['admin'] })).body.key as string;
    readKey = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'read', scopes: ['read'] })).body.key;
    otherKey = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'other', scopes: ['read'] })).body.key;
    kbId = (await api(app.baseUrl, adminKey).post('/v1/knowledge-bases', { name: 'kb' })).body.id;
    lookups = vi.spyOn(app.app.get(ApiKeysRepository), 'findByLookupPrefix');
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const retrieve = (key: string) => api(app.baseUrl, key).post('/v1/retrieve', { query: 'admission', kb_ids: [kbId], top_k: 3 });

  it('refuses a key over its limit before looking the key up, with a 429 problem and Retry-After', async () => {
    await freshWindow();
    const before = lookups.mock.calls.length;
    // within the limit, then the refusal that sets the block: these go through authentication (on a
    // busy machine the requests may straddle a window, so send until the first refusal)
    const first: ApiResponse[] = [];
    while (first.length < 4 * KEY_RPS && first.at(-1)?.status !== 429) first.push(await retrieve(readKey));
    expect(first.at(-1)!.status).toBe(429);
    expect(count(first, 200)).toBeGreaterThanOrEqual(KEY_RPS);
    expect(count(first, 200)).toBe(first.length - 1);
    expect(lookups.mock.calls.length - before).toBe(first.length);
    // while the block stands (refused answers are held back for part of it, so these go at once):
    // no lookup; rag shares the key's budget, the other routes have one of their own, other keys are untouched
    const [refused, rag, listing, other] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => retrieve(readKey))),
      api(app.baseUrl, readKey).post('/v1/rag', { query: 'admission', kb_ids: [kbId], mode: 'standard' }),
      api(app.baseUrl, readKey).get('/v1/knowledge-bases?limit=1'),
      retrieve(otherKey),
    ]);
    expect(refused.map((r) => r.status)).toEqual(Array(10).fill(429));
    expect(rag.status).toBe(429);
    expect(listing.status).toBe(200);
    expect(other.status).toBe(200);
    expect(lookups.mock.calls.length - before).toBe(first.length + 2);
    for (const r of [first.at(-1)!, ...refused]) {
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.body).toMatchObject({ status: 429, title: 'Too Many Requests', instance: '/v1/retrieve', request_id: expect.any(String) });
      expect(r.body.type).toMatch(/\/rate-limited$/);
      expect(r.body.detail).toContain('for this API key');
    }
    // once the block is over the key is served again
    await new Promise((r) => setTimeout(r, 1000 * Number(refused.at(-1)!.headers.get('retry-after')) + 100));
    expect((await retrieve(readKey)).status).toBe(200);
  });

  it('a wrong secret on a real key prefix cannot get that key refused; past the failure budget its sender is refused before the lookup', async () => {
    await freshWindow();
    const prefix = /^srk_[0-9a-f]{12}_/.exec(readKey)![0];
    const forged = () =>
      api(app.baseUrl, `${prefix}${'A'.repeat(43)}`).post('/v1/retrieve', { query: 'admission', kb_ids: [kbId], top_k: 3 });
    expect((await retrieve(readKey)).status).toBe(200);
    const before = lookups.mock.calls.length;
    const attack = await sequentially(AUTH_FAILURES + 10, forged);
    // no forged request is charged to the real key: they are 401 until the address's failure budget runs out, then 429
    expect(count(attack, 401) + count(attack, 429)).toBe(attack.length);
    expect(count(attack, 401)).toBeGreaterThanOrEqual(AUTH_FAILURES);
    const refused = attack.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].body.detail).toContain('failed authentications');
    expect(Number(refused[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // only the 401s looked the key up
    expect(lookups.mock.calls.length - before).toBe(count(attack, 401));
    // the real key, which authenticated before, is served meanwhile from the same address
    expect((await retrieve(readKey)).status).toBe(200);
  });
});
