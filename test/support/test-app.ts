import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../src/app.factory';
import { loadConfig, type AppConfig } from '../../src/config/app-config';

export const TEST_ADMIN_KEY = 'test-platform-admin-key-0123456789';

export interface TestApp {
  baseUrl: string;
  config: AppConfig;
  app: NestExpressApplication;
  dataDir: string;
  close(): Promise<void>;
}

/** The real application on a random loopback port, over SQLite in a temp dir or the given Postgres. */
export async function startTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-app-'));
  // the limits of the routes other than retrieve and rag, and of failed authentications, are off
  // unless a test sets them (rate-limit and admission tests do): other tests call those routes quickly
  const config = loadConfig({
    DATA_DIR: dataDir,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    PORT: '0',
    HOST: '127.0.0.1',
    RATE_LIMIT_MANAGEMENT_RPS: '1000000',
    RATE_LIMIT_AUTH_FAILURES: '0',
    ...env,
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    config,
    app,
    dataDir,
    async close() {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A small JSON client: `api(baseUrl, key).post('/v1/x', body)`. */
export function api(baseUrl: string, key?: string) {
  const call = async <T = any>(
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> => {
    const response = await fetch(`${baseUrl}${route}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  };
  return {
    get: <T = any>(route: string, headers?: Record<string, string>) => call<T>('GET', route, undefined, headers),
    post: <T = any>(route: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', route, body, headers),
    patch: <T = any>(route: string, body?: unknown, headers?: Record<string, string>) => call<T>('PATCH', route, body, headers),
    delete: <T = any>(route: string, headers?: Record<string, string>) => call<T>('DELETE', route, undefined, headers),
    call,
  };
}

/** Creates a tenant with one key per scope; returns their secrets. */
export async function createTenantWithKeys(baseUrl: string, name: string) {
  const admin = api(baseUrl, TEST_ADMIN_KEY);
  const tenant = await admin.post('/v1/tenants', { name });
  if (tenant.status !== 201) throw new Error(`tenant creation failed: ${tenant.status} ${tenant.text}`);
  const keys: Record<'admin' | 'write' | 'read', string> = { admin: '', write: '', read: '' };
  for (const scope of ['admin', 'write', 'read'] as const) {
    const created = await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: `${scope}-key`, scopes: [scope] });
    if (created.status !== 201) throw new Error(`key creation failed: ${created.status} ${created.text}`);
    keys[scope] = created.body.key;
  }
  return { id: tenant.body.id as string, keys };
}
