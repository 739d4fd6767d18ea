import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAllDocuments, waitForDocument } from '../support/ingestion-client';
import { freePort, waitFor } from '../support/ports';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api, TEST_ADMIN_KEY } from '../support/test-app';

/**
 * Dependency faults with real servers: the built service (child process) under steady retrieve +
 * ingest traffic while its private Postgres (then Redis, on the BullMQ path) is stopped and
 * started again. Needs `npm run build`.
 */

interface Outcome {
  route: 'retrieve' | 'ingest';
  at: number;
  ms?: number;
  status?: number;
  contentType?: string | null;
  body?: any;
  error?: string;
}

interface Traffic {
  outcomes: Outcome[];
  /** ids of every document the service accepted (202) */
  accepted: string[];
  stop(): Promise<void>;
}

/** Closed-loop clients: `retrievers` sending /v1/retrieve, `ingesters` uploading unique documents. */
function startTraffic(baseUrl: string, key: string, kbId: string, retrievers: number, ingesters: number): Traffic {
  const outcomes: Outcome[] = [];
  const accepted: string[] = [];
  let running = true;
  let n = 0;
  const call = async (route: Outcome['route'], path: string, body: unknown) => {
    const at = Date.now();
    try {
      const res = await fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      outcomes.push({ route, at, ms: Date.now() - at, status: res.status, contentType: res.headers.get('content-type'), body: parsed });
      return { status: res.status, body: parsed };
    } catch (error) {
      outcomes.push({ route, at, error: String((error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message) });
      await new Promise((r) => setTimeout(r, 50));
      return undefined;
    }
  };
  const loops = [
    ...Array.from({ length: retrievers }, async () => {
      while (running) await call('retrieve', '/v1/retrieve', { query: 'database outage recovery', kb_ids: [kbId], top_k: 5 });
    }),
    ...Array.from({ length: ingesters }, async (_, client) => {
      while (running) {
        const i = n++;
        const result = await call('ingest', `/v1/knowledge-bases/${kbId}/documents`, {
          title: `doc ${client}-${i}`,
          content: `Document ${i} from client ${client}: the service keeps every accepted upload through a database outage. ${'filler text '.repeat(20)}`,
        });
        if (result?.status === 202) accepted.push(result.body.id);
        await new Promise((r) => setTimeout(r, 100));
      }
    }),
  ];
  return {
    outcomes,
    accepted,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function setUpTenant(baseUrl: string) {
  const admin = api(baseUrl, TEST_ADMIN_KEY);
  const tenant = await admin.post('/v1/tenants', { name: 'faults' });
  expect(tenant.status).toBe(201);
  const key = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'k', scopes: ['admin'] })).body.key as string;
  const kb = await api(baseUrl, key).post('/v1/knowledge-bases', { name: 'kb' });
  const seed = await api(baseUrl, key).post(`/v1/knowledge-bases/${kb.body.id}/documents`, {
    title: 'seed',
    content: 'Database outage recovery is automatic.',
  });
  expect((await waitForDocument(baseUrl, key, kb.body.id, seed.body.id)).status).toBe('indexed');
  return { key, kbId: kb.body.id as string };
}

async function readiness(baseUrl: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json() };
}

const COMMON_ENV = {
  ADMIN_API_KEY: TEST_ADMIN_KEY,
  OTEL_SDK_DISABLED: 'true',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_RPS: '1000000',
  RATE_LIMIT_TENANT_RPS: '1000000',
  RATE_LIMIT_MANAGEMENT_RPS: '1000000',
  // a job whose worker lost the database mid-run is taken over after this
  INGESTION_LEASE_MS: '3000',
  INGESTION_MAX_ATTEMPTS: '20',
};

/** Every failed answer during an outage is a 503 problem naming the dependency; never a 500. */
function expectOutageProblems(outcomes: Outcome[], dependency: RegExp): void {
  const failed = outcomes.filter((o) => o.status !== undefined && o.status >= 400);
  for (const o of failed) {
    expect(o.status, JSON.stringify(o)).toBe(503);
    expect(o.contentType).toMatch(/^application\/problem\+json/);
    expect(o.body.title).toBe('Service Unavailable');
    expect(`${o.body.dependency ?? ''} ${o.body.detail}`).toMatch(dependency);
  }
  expect(outcomes.filter((o) => o.error !== undefined)).toEqual([]);
}

describe('Postgres stopped and restarted during traffic', () => {
  let postgres: PostgresServer;
  let service: ServiceProcess;

  beforeAll(async () => {
    postgres = await startPostgres();
    service = await startServiceProcess({ ...COMMON_ENV, DATABASE_URL: postgres.url });
  }, 120_000);
  afterAll(async () => {
    if (service?.child.exitCode !== null && service)
      process.stdout.write(`service exited ${service.child.exitCode}:\n${service.output.slice(-40).join('\n')}\n`);
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    await postgres?.stop();
  });

  it('answers 503 problems naming the database, /ready says so, recovers by itself, loses no ingestion job', async () => {
    const { key, kbId } = await setUpTenant(service.baseUrl);
    const traffic = startTraffic(service.baseUrl, key, kbId, 4, 2);
    await new Promise((r) => setTimeout(r, 2000));
    const before = traffic.outcomes.length;
    expect(traffic.outcomes.filter((o) => o.status !== 200 && o.status !== 202)).toEqual([]);

    const stoppedAt = Date.now();
    await postgres.pause();
    await new Promise((r) => setTimeout(r, 3000));
    const down = await readiness(service.baseUrl);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.checks.database.status).toBe('error');
    expect(down.body.checks.vector_store).toMatchObject({ status: 'ok', latency_ms: expect.any(Number) });

    const startedAt = Date.now();
    await postgres.resume();
    await waitFor(async () => (await readiness(service.baseUrl)).status === 200, 30_000, '/ready to be 200 again');
    const readyAfterMs = Date.now() - startedAt;
    // traffic succeeds again without any restart of the service
    const recoveredFrom = Date.now() + 1500;
    await new Promise((r) => setTimeout(r, 3000));
    await traffic.stop();

    const during = traffic.outcomes.filter((o) => o.at >= stoppedAt && o.at < startedAt);
    const outageFailures = during.filter((o) => o.status === 503).length;
    expect(outageFailures).toBeGreaterThan(0);
    expect(service.child.exitCode).toBeNull();
    expectOutageProblems(traffic.outcomes, /database/i);
    const after = traffic.outcomes.filter((o) => o.at >= recoveredFrom);
    expect(after.length).toBeGreaterThan(10);
    expect(after.filter((o) => o.status !== 200 && o.status !== 202)).toEqual([]);

    // every accepted upload ends indexed
    expect(traffic.accepted.length).toBeGreaterThan(5);
    await waitFor(
      async () => {
        const docs = await listAllDocuments(service.baseUrl, key, kbId);
        return traffic.accepted.every((id) => docs.find((d) => d.id === id)?.status === 'indexed');
      },
      60_000,
      'every accepted document to be indexed',
    );
    const docs = await listAllDocuments(service.baseUrl, key, kbId);
    expect(docs.filter((d) => d.status === 'failed')).toEqual([]);
    process.stdout.write(
      `postgres outage: ${before} requests before, ${during.length} during (${outageFailures} answered 503), ready ${readyAfterMs} ms after restart, ${traffic.accepted.length} uploads accepted, all indexed\n`,
    );
  }, 120_000);
});

/** A redis-server this test can stop and start again on the same port (no persistence). */
async function restartableRedis() {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const ping = async () => {
    const { createConnection } = await import('node:net');
    return new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.1');
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
    });
  };
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', os.tmpdir()],
      { stdio: 'ignore' },
    );
    await waitFor(ping, 10_000, 'redis-server');
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}

describe('Redis stopped and restarted during traffic (BullMQ ingestion path)', () => {
  let postgres: PostgresServer;
  let redis: Awaited<ReturnType<typeof restartableRedis>>;
  let service: ServiceProcess;

  beforeAll(async () => {
    postgres = await startPostgres();
    redis = await restartableRedis();
    service = await startServiceProcess({ ...COMMON_ENV, DATABASE_URL: postgres.url, REDIS_URL: redis.url });
  }, 120_000);
  afterAll(async () => {
    if (service?.child.exitCode !== null && service)
      process.stdout.write(`service exited ${service.child.exitCode}:\n${service.output.slice(-40).join('\n')}\n`);
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    await redis?.stop();
    await postgres?.stop();
  });

  it('answers 503 problems naming Redis, /ready says so, recovers by itself, loses no ingestion job', async () => {
    const { key, kbId } = await setUpTenant(service.baseUrl);
    const traffic = startTraffic(service.baseUrl, key, kbId, 4, 2);
    await new Promise((r) => setTimeout(r, 2000));
    expect(traffic.outcomes.filter((o) => o.status !== 200 && o.status !== 202)).toEqual([]);

    // a Redis crash loses every queued BullMQ job it held (no persistence): the database rows are the truth
    const stoppedAt = Date.now();
    await redis.stop();
    await new Promise((r) => setTimeout(r, 3000));
    const down = await readiness(service.baseUrl);
    expect(down.status).toBe(503);
    expect(down.body.checks.redis.status).toBe('error');
    expect(down.body.checks.database.status).toBe('ok');

    const startedAt = Date.now();
    await redis.start();
    await waitFor(async () => (await readiness(service.baseUrl)).status === 200, 30_000, '/ready to be 200 again');
    const readyAfterMs = Date.now() - startedAt;
    const recoveredFrom = Date.now() + 1500;
    await new Promise((r) => setTimeout(r, 3000));
    await traffic.stop();

    const during = traffic.outcomes.filter((o) => o.at >= stoppedAt && o.at < startedAt);
    expect(service.child.exitCode).toBeNull();
    expectOutageProblems(traffic.outcomes, /redis/i);
    const after = traffic.outcomes.filter((o) => o.at >= recoveredFrom);
    expect(after.length).toBeGreaterThan(10);
    expect(after.filter((o) => o.status !== 200 && o.status !== 202)).toEqual([]);

    expect(traffic.accepted.length).toBeGreaterThan(5);
    await waitFor(
      async () => {
        const docs = await listAllDocuments(service.baseUrl, key, kbId);
        return traffic.accepted.every((id) => docs.find((d) => d.id === id)?.status === 'indexed');
      },
      60_000,
      'every accepted document to be indexed',
    );
    // the rate-limited routes fail fast with a 503 naming Redis instead of hanging through the outage
    const retrievesDuring = during.filter((o) => o.route === 'retrieve');
    expect(retrievesDuring.filter((o) => o.status === 503).length).toBeGreaterThan(4);
    expect(Math.max(...retrievesDuring.map((o) => o.ms ?? 0))).toBeLessThan(2500);
    const ingestsDuring = during.filter((o) => o.route === 'ingest');
    process.stdout.write(
      `redis outage: ${during.length} requests during (${during.filter((o) => o.status === 503).length} answered 503, ${during.filter((o) => (o.status ?? 0) < 300).length} served; retrieve max ${Math.max(...retrievesDuring.map((o) => o.ms ?? 0))} ms, ingest statuses ${JSON.stringify(ingestsDuring.map((o) => [o.status, o.ms]))}), ready ${readyAfterMs} ms after restart, ${traffic.accepted.length} uploads accepted, all indexed\n`,
    );
  }, 120_000);
});
