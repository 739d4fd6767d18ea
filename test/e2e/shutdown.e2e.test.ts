import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api, TEST_ADMIN_KEY } from '../support/test-app';

describe('graceful shutdown under load', () => {
  let service: ServiceProcess;
  let key: string;

  beforeAll(async () => {
    service = await startServiceProcess({ ADMIN_API_KEY: TEST_ADMIN_KEY, SHUTDOWN_TIMEOUT_MS: '8000', OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
    const admin = api(service.baseUrl, TEST_ADMIN_KEY);
    const tenant = await admin.post('/v1/tenants', { name: 'load' });
    key = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'k', scopes: ['admin'] })).body.key;
    await api(service.baseUrl, key).post('/v1/knowledge-bases', { name: 'kb' });
  }, 60_000);

  afterAll(async () => {
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('completes every request accepted before SIGTERM, refuses new ones, and exits 0 within the grace period', async () => {
    let signalledAt = Number.POSITIVE_INFINITY;
    const outcomes: Array<{ startedAt: number; status?: number; error?: string }> = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        const startedAt = performance.now();
        try {
          const res = await fetch(`${service.baseUrl}/v1/knowledge-bases?limit=5`, { headers: { authorization: `Bearer ${key}` } });
          await res.text();
          outcomes.push({ startedAt, status: res.status });
        } catch (error) {
          outcomes.push({ startedAt, error: String((error as Error & { cause?: { code?: string } }).cause?.code ?? error) });
          if (performance.now() > signalledAt) return;
        }
      }
    };
    const clients = Array.from({ length: 32 }, client);
    await new Promise((r) => setTimeout(r, 1500));
    signalledAt = performance.now();
    const exitCode = service.stop('SIGTERM');
    const code = await exitCode;
    const exitedAfterMs = performance.now() - signalledAt;
    stop = true;
    await Promise.all(clients);

    expect(code).toBe(0);
    expect(exitedAfterMs).toBeLessThan(8000);
    const beforeSignal = outcomes.filter((o) => o.startedAt < signalledAt - 50);
    expect(beforeSignal.length).toBeGreaterThan(50);
    expect(beforeSignal.filter((o) => o.status !== 200)).toEqual([]);
    expect(outcomes.filter((o) => o.status !== undefined && o.status >= 500)).toEqual([]);
  });
});
