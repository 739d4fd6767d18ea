import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app-config';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server';
import { listAllDocuments } from '../support/ingestion-client';
import { waitFor } from '../support/ports';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { startRedis, type RedisServer } from '../support/redis-server';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

/**
 * BullMQ path, real Postgres, Redis and a worker process: a worker killed (-9) while it holds a
 * tenant's every slot does not keep them: the slots are the jobs' leases in the database, free
 * again when the leases expire, and another worker then runs the tenant's waiting jobs.
 * Needs `npm run build` (the first worker is the built service).
 */
const LEASE_MS = 3000;
const MAX_PER_TENANT = 2;
const DOCUMENTS = 6;

interface Lease {
  id: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  attempts: number;
  status: string;
}

describe('BullMQ: a worker killed while it holds a tenant’s slots', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let fake: FakeLlmServer;
  let apiApp: TestApp;
  let crashing: ServiceProcess | undefined;
  let survivor: NestExpressApplication | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    [postgres, redis, fake] = await Promise.all([startPostgres(), startRedis(), startFakeLlmServer()]);
    env = {
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_BASE_URL: `${fake.url}/v1`,
      EMBEDDING_MODEL: 'fake-embed',
      EMBEDDING_TIMEOUT_MS: '120000',
      INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT: String(MAX_PER_TENANT),
      INGESTION_CONCURRENCY: '4',
      INGESTION_LEASE_MS: String(LEASE_MS),
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
    };
    apiApp = await startTestApp({ ...env, ROLE: 'api' });
  }, 120_000);

  afterAll(async () => {
    await crashing?.kill();
    if (crashing) fs.rmSync(crashing.dataDir, { recursive: true, force: true });
    await survivor?.close();
    await apiApp?.close();
    await fake?.close();
    await redis?.stop();
    await postgres?.stop();
  });

  it('frees the slots when the leases expire, and never runs more than the limit', async () => {
    const tenant = await createTenantWithKeys(apiApp.baseUrl, 'crash-tenant');
    const kb = (await api(apiApp.baseUrl, tenant.keys.admin).post('/v1/knowledge-bases', { name: 'kb' })).body.id as string;
    const dataSource = apiApp.app.get(DataSource);
    const leases = async (): Promise<Lease[]> =>
      dataSource.query('SELECT id, lease_owner, lease_expires_at, attempts, status FROM ingestion_jobs WHERE tenant_id = $1', [tenant.id]);
    const live = (rows: Lease[]) => rows.filter((row) => row.lease_expires_at !== null && row.lease_expires_at > new Date().toISOString());

    // the first worker's embedding calls never answer: it holds its jobs until it dies
    fake.fail('/v1/embeddings', { kind: 'delay', ms: 600_000 }, MAX_PER_TENANT);
    crashing = await startServiceProcess({ ...env, ROLE: 'worker' });
    for (let i = 0; i < DOCUMENTS; i++) {
      const res = await api(apiApp.baseUrl, tenant.keys.write).post(`/v1/knowledge-bases/${kb}/documents`, {
        content: `Document ${i}: leases free the slots of a dead worker.`,
      });
      expect(res.status).toBe(202);
    }

    // watch the live leases of the tenant every 25 ms until the end
    let liveMax = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        liveMax = Math.max(liveMax, live(await leases()).length);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    try {
      const crashingPid = String(crashing.child.pid);
      await waitFor(
        async () => live(await leases()).filter((row) => row.lease_owner?.includes(`:${crashingPid}:`)).length === MAX_PER_TENANT,
        30_000,
        'the first worker to hold the tenant’s slots',
      );
      // the other jobs wait (deferred), and nobody embeds them
      await new Promise((r) => setTimeout(r, 1500));
      expect(live(await leases())).toHaveLength(MAX_PER_TENANT);
      expect(fake.requestsTo('/v1/embeddings')).toHaveLength(MAX_PER_TENANT);

      const held = live(await leases());
      await crashing.kill();
      const killedAt = Date.now();
      const expiresAt = Math.max(...held.map((row) => Date.parse(row.lease_expires_at!)));

      survivor = await createApp(
        loadConfig({ ...env, ROLE: 'worker', DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-survivor-')) }),
      );
      await survivor.init();
      // nothing of the tenant runs while the dead worker's leases live: the survivor's first
      // embedding call (its jobs' first work; polling the leases could miss jobs that short) comes after
      await waitFor(
        async () => (await leases()).every((row) => row.status === 'succeeded'),
        60_000,
        'every job of the tenant to succeed on the surviving worker',
      );
      const allDoneAt = Date.now();
      const firstNewLeaseAt = Math.min(
        ...fake
          .requestsTo('/v1/embeddings')
          .filter((r) => r.receivedAt >= killedAt)
          .map((r) => r.receivedAt),
      );

      expect(firstNewLeaseAt).toBeGreaterThanOrEqual(expiresAt - 50);
      // freed within about a lease: no slot leaked
      expect(allDoneAt - killedAt).toBeLessThan(LEASE_MS + 10_000);
      const rows = await leases();
      for (const job of held) expect(rows.find((row) => row.id === job.id)!.attempts).toBe(2);
      expect((await listAllDocuments(apiApp.baseUrl, tenant.keys.read, kb, 'indexed')).length).toBe(DOCUMENTS);
      process.stdout.write(
        `slots held by the killed worker until ${expiresAt - killedAt} ms after the kill; first new lease ${firstNewLeaseAt - killedAt} ms, all ${DOCUMENTS} indexed ${allDoneAt - killedAt} ms after the kill\n`,
      );
    } finally {
      watching = false;
      await watcher;
    }
    expect(liveMax).toBe(MAX_PER_TENANT);
  }, 120_000);
});
