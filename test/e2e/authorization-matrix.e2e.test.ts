import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDocument } from '../support/ingestion-client';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

type Rule = 'public' | 'platform' | 'platform-or-tenant-admin' | 'read' | 'write' | 'admin';
type Caller = 'none' | 'malformed' | 'unknown' | 'expired' | 'revoked' | 'read' | 'write' | 'admin' | 'other-tenant-admin' | 'platform';

interface Route {
  method: string;
  /** the OpenAPI path template */
  path: string;
  rule: Rule;
  /** true when the path names a resource of tenant A (another tenant gets 404) */
  owned: boolean;
  body?: () => unknown;
  /** path parameters; destructive routes make a fresh victim per call */
  params?: () => Promise<Record<string, string>>;
}

const CALLERS: Caller[] = [
  'none',
  'malformed',
  'unknown',
  'expired',
  'revoked',
  'read',
  'write',
  'admin',
  'other-tenant-admin',
  'platform',
];
const SCOPE_RANK = { read: 1, write: 2, admin: 3 } as const;

/** The expected status class of one call: an exact code, or 'ok' for any 2xx. */
function expected(route: Route, caller: Caller): number | 'ok' {
  if (route.rule === 'public') return 'ok';
  if (['none', 'malformed', 'unknown', 'expired', 'revoked'].includes(caller)) return 401;
  if (route.rule === 'platform') return caller === 'platform' ? 'ok' : 403;
  if (route.rule === 'platform-or-tenant-admin') {
    if (caller === 'platform' || caller === 'admin') return 'ok';
    if (caller === 'other-tenant-admin') return 404;
    return 403;
  }
  if (caller === 'platform') return 403;
  if (caller === 'other-tenant-admin') return route.owned ? 404 : 'ok';
  return SCOPE_RANK[caller as 'read' | 'write' | 'admin'] >= SCOPE_RANK[route.rule] ? 'ok' : 403;
}

describe('authorization matrix: every route × every kind of caller', () => {
  let app: TestApp;
  const keys = {} as Record<Caller, string | undefined>;
  let tenantA: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let kbId: string;
  let docId: string;
  let routes: Route[];

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_RPS: '10000', RATE_LIMIT_TENANT_RPS: '10000' });
    const admin = api(app.baseUrl, TEST_ADMIN_KEY);
    tenantA = await createTenantWithKeys(app.baseUrl, 'tenant-a');
    const tenantB = await createTenantWithKeys(app.baseUrl, 'tenant-b');
    const expiring = await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, {
      name: 'expiring',
      scopes: ['admin'],
      expires_at: new Date(Date.now() + 1000).toISOString(),
    });
    const revoked = await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, { name: 'revoked', scopes: ['admin'] });
    await admin.delete(`/v1/api-keys/${revoked.body.id}`);
    Object.assign(keys, {
      none: undefined,
      malformed: 'not-a-key',
      unknown: `srk_${'0'.repeat(12)}_${'A'.repeat(43)}`,
      expired: expiring.body.key,
      revoked: revoked.body.key,
      read: tenantA.keys.read,
      write: tenantA.keys.write,
      admin: tenantA.keys.admin,
      'other-tenant-admin': tenantB.keys.admin,
      platform: TEST_ADMIN_KEY,
    });
    const a = api(app.baseUrl, tenantA.keys.admin);
    kbId = (await a.post('/v1/knowledge-bases', { name: 'kb' })).body.id;
    docId = (await a.post(`/v1/knowledge-bases/${kbId}/documents`, { title: 't', content: 'The matrix document about authorization.' }))
      .body.id;
    await waitForDocument(app.baseUrl, tenantA.keys.admin, kbId, docId);

    const freshKb = async () => ({ kb_id: (await a.post('/v1/knowledge-bases', { name: `victim-${randomUUID()}` })).body.id });
    const freshDoc = async () => {
      const doc = await a.post(`/v1/knowledge-bases/${kbId}/documents`, { content: `victim ${randomUUID()}` });
      return { kb_id: kbId, doc_id: doc.body.id };
    };
    const freshKey = async () => ({
      id: (await admin.post(`/v1/tenants/${tenantA.id}/api-keys`, { name: 'victim', scopes: ['read'] })).body.id,
    });
    const freshTenant = async () => ({ id: (await admin.post('/v1/tenants', { name: `victim-${randomUUID()}` })).body.id });
    const fixed = async () => ({ id: tenantA.id, kb_id: kbId, doc_id: docId });
    const search = () => ({ query: 'authorization matrix', kb_ids: [kbId], top_k: 3 });
    routes = [
      { method: 'GET', path: '/health', rule: 'public', owned: false },
      { method: 'GET', path: '/ready', rule: 'public', owned: false },
      { method: 'GET', path: '/health/deep', rule: 'platform', owned: false },
      { method: 'POST', path: '/v1/tenants', rule: 'platform', owned: false, body: () => ({ name: `t-${randomUUID()}` }) },
      { method: 'GET', path: '/v1/tenants', rule: 'platform', owned: false },
      { method: 'GET', path: '/v1/tenants/{id}', rule: 'platform', owned: true, params: fixed },
      { method: 'PATCH', path: '/v1/tenants/{id}', rule: 'platform', owned: true, params: fixed, body: () => ({ max_documents: 1000 }) },
      { method: 'DELETE', path: '/v1/tenants/{id}', rule: 'platform', owned: true, params: freshTenant },
      {
        method: 'POST',
        path: '/v1/tenants/{id}/api-keys',
        rule: 'platform-or-tenant-admin',
        owned: true,
        params: fixed,
        body: () => ({ name: 'k', scopes: ['read'] }),
      },
      { method: 'GET', path: '/v1/tenants/{id}/api-keys', rule: 'platform-or-tenant-admin', owned: true, params: fixed },
      { method: 'DELETE', path: '/v1/api-keys/{id}', rule: 'platform-or-tenant-admin', owned: true, params: freshKey },
      { method: 'POST', path: '/v1/knowledge-bases', rule: 'admin', owned: false, body: () => ({ name: `kb-${randomUUID()}` }) },
      { method: 'GET', path: '/v1/knowledge-bases', rule: 'read', owned: false },
      { method: 'GET', path: '/v1/knowledge-bases/{kb_id}', rule: 'read', owned: true, params: fixed },
      {
        method: 'PATCH',
        path: '/v1/knowledge-bases/{kb_id}',
        rule: 'admin',
        owned: true,
        params: fixed,
        body: () => ({ description: 'changed' }),
      },
      { method: 'DELETE', path: '/v1/knowledge-bases/{kb_id}', rule: 'admin', owned: true, params: freshKb },
      {
        method: 'POST',
        path: '/v1/knowledge-bases/{kb_id}/documents',
        rule: 'write',
        owned: true,
        params: fixed,
        body: () => ({ content: `new ${randomUUID()}` }),
      },
      { method: 'GET', path: '/v1/knowledge-bases/{kb_id}/documents', rule: 'read', owned: true, params: fixed },
      { method: 'GET', path: '/v1/knowledge-bases/{kb_id}/documents/{doc_id}', rule: 'read', owned: true, params: fixed },
      { method: 'DELETE', path: '/v1/knowledge-bases/{kb_id}/documents/{doc_id}', rule: 'write', owned: true, params: freshDoc },
      { method: 'POST', path: '/v1/knowledge-bases/{kb_id}/documents/{doc_id}/reindex', rule: 'write', owned: true, params: fixed },
      { method: 'POST', path: '/v1/retrieve', rule: 'read', owned: true, body: search },
      { method: 'POST', path: '/v1/rag', rule: 'read', owned: true, body: () => ({ ...search(), mode: 'standard' }) },
    ];
    await new Promise((r) => setTimeout(r, 1100)); // let the expiring key expire
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('covers every operation of the OpenAPI document', async () => {
    const doc = (await api(app.baseUrl).get('/docs-json')).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(documented.sort());
  });

  it('answers each caller as the access rules say (401 no/bad/expired/revoked key, 403 wrong scope, 404 other tenant)', async () => {
    const mismatches: string[] = [];
    for (const route of routes) {
      for (const caller of CALLERS) {
        const params = route.params ? await route.params() : {};
        const url = route.path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? 'missing');
        const res = await api(app.baseUrl, keys[caller]).call(route.method, url, route.body?.());
        const want = expected(route, caller);
        const ok = want === 'ok' ? res.status >= 200 && res.status < 300 : res.status === want;
        if (!ok) mismatches.push(`${route.method} ${route.path} as ${caller}: got ${res.status}, want ${want} (${res.text.slice(0, 120)})`);
        if (res.status >= 400) expect(res.headers.get('content-type')).toContain('application/problem+json');
      }
    }
    expect(mismatches).toEqual([]);
  }, 120_000);

  it('never sends back a key pasted into a path parameter, whoever calls and whatever the answer', async () => {
    const echoed: string[] = [];
    for (const route of routes.filter((r) => r.path.includes('{'))) {
      for (const caller of CALLERS) {
        const presented = keys[caller];
        // the keys themselves (the malformed caller's 'not-a-key' is not one, and reads like a route word)
        const pasted = [presented, tenantA.keys.read, TEST_ADMIN_KEY].filter((k): k is string => k !== undefined && k !== keys.malformed);
        for (const secret of pasted) {
          const url = route.path.replace(/\{(\w+)\}/g, () => secret);
          const res = await api(app.baseUrl, presented).call(route.method, url, route.body?.());
          expect(res.status, `${route.method} ${route.path} as ${caller}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${route.method} ${route.path} as ${caller}`).toBeLessThan(500);
          if (pasted.some((k) => res.text.includes(k)))
            echoed.push(`${route.method} ${route.path} as ${caller}: ${res.text.slice(0, 160)}`);
        }
      }
    }
    expect(echoed).toEqual([]);
  }, 120_000);
});
