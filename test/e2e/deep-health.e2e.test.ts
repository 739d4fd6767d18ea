import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { api, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

const TIMEOUT_MS = 1500;

describe('GET /health/deep on Postgres with a table locked', () => {
  let postgres: PostgresServer;
  let app: TestApp;

  beforeAll(async () => {
    postgres = await startPostgres();
    app = await startTestApp({ DATABASE_URL: postgres.url, HEALTH_DEEP_TIMEOUT_MS: String(TIMEOUT_MS) });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await postgres?.stop();
  });

  it('reports the counts query as an error within the timeout, the other checks as they are, and the server stops waiting too', async () => {
    const admin = api(app.baseUrl, TEST_ADMIN_KEY);
    const healthy = await admin.get('/health/deep');
    expect(healthy.status).toBe(200);
    expect(healthy.body.checks.database_query).toMatchObject({
      status: 'ok',
      data: { total_tenants: expect.any(Number), indexed_chunks: expect.any(Number) },
    });

    // another session holds the chunks table: COUNT(*) over it waits for the lock
    const locker = new Client({ connectionString: postgres.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const stuck = await admin.get('/health/deep');
      const tookMs = Date.now() - started;
      expect(stuck.status).toBe(200);
      expect(stuck.body.checks.database_query.status).toBe('error');
      expect(stuck.body.checks.database_query.message).toMatch(/timeout|no answer within/i);
      expect(stuck.body.checks.vector_store_query.status).toBe('ok');
      expect(tookMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
      expect(tookMs).toBeLessThan(TIMEOUT_MS + 3000);

      // statement_timeout cancels the count on the server (it would wait for the lock forever)
      const waiters = async () =>
        (await locker.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"))
          .rows[0].n as number;
      const deadline = Date.now() + 3000;
      while ((await waiters()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await waiters()).toBe(0);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    expect((await admin.get('/health/deep')).body.checks.database_query.status).toBe('ok');
  }, 60_000);
});
