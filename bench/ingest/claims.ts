/**
 * `npm run bench:claims`: what one ingestion claim costs as the backlog grows, on SQLite (where the
 * statement runs on the event loop that serves HTTP) and on a private PostgreSQL. Queues jobs for
 * a number of tenants, then times claims of 32 jobs with a limit of 32 per tenant; between claims
 * (not timed) the claimed jobs end, as if processed, so every claim finds work. Prints the median
 * and max of each case. A claim should cost per tenant with due jobs, not per queued job.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nowIso } from '../../src/common/clock';
import { createDataSource } from '../../src/database/data-source';
import { IngestionJobEntity } from '../../src/database/entities';
import { IngestionJobsRepository } from '../../src/ingestion/jobs/ingestion-jobs.repository';
import { startPostgres } from '../../test/support/postgres-server';

const CASES: Array<[tenants: number, jobsPerTenant: number]> = [
  [1, 5_000],
  [10, 1_000],
  [10, 5_000],
  [100, 500],
  [2_000, 10],
];
const CLAIMS = 20;

function jobRows(tenant: string, count: number): IngestionJobEntity[] {
  return Array.from({ length: count }, (_, i) => {
    const at = nowIso(-1_000_000 + i);
    return {
      ...{ id: randomUUID(), tenantId: tenant, kbId: randomUUID(), documentId: randomUUID(), status: 'queued' as const, stage: null },
      ...{ generation: 0, attempts: 0, maxAttempts: 5, leaseOwner: null, leaseExpiresAt: null, runAfter: at, lastError: null },
      ...{ traceContext: null, createdAt: at, updatedAt: at },
    };
  });
}

async function run(kind: 'sqlite' | 'postgres'): Promise<void> {
  const postgres = kind === 'postgres' ? await startPostgres() : undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-claims-'));
  const dataSource = createDataSource(
    postgres
      ? { type: 'postgres', url: postgres.url, poolSize: 4, slowQueryMs: 60_000 }
      : { type: 'sqlite', url: path.join(dir, 'claims.sqlite'), poolSize: 1, slowQueryMs: 60_000 },
  );
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    const jobs = new IngestionJobsRepository(dataSource);
    for (const [tenants, perTenant] of CASES) {
      await dataSource.getRepository(IngestionJobEntity).clear();
      for (let t = 0; t < tenants; t++) {
        const rows = jobRows(`tenant-${t}`, perTenant);
        for (let i = 0; i < rows.length; i += 500) await dataSource.getRepository(IngestionJobEntity).insert(rows.slice(i, i + 500));
      }
      if (postgres) await dataSource.query('ANALYZE ingestion_jobs');
      const times: number[] = [];
      let claimed = 0;
      for (let i = 0; i < CLAIMS; i++) {
        const started = performance.now();
        const batch = await jobs.claim(`worker-${i}`, 32, { leaseMs: 600_000, maxPerTenant: 32 });
        times.push(performance.now() - started);
        claimed += batch.length;
        await dataSource.getRepository(IngestionJobEntity).update(
          batch.map((job) => job.id),
          { status: 'succeeded', leaseOwner: null, leaseExpiresAt: null },
        );
      }
      times.sort((a, b) => a - b);
      const report = {
        store: kind,
        tenants,
        queued: tenants * perTenant,
        claims: CLAIMS,
        jobs_claimed: claimed,
        median_ms: Number(times[Math.floor(times.length / 2)].toFixed(2)),
        max_ms: Number(times[times.length - 1].toFixed(2)),
      };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await postgres?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await run('sqlite');
  await run('postgres');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:claims failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
