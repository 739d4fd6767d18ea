import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A claim reads each tenant's first due jobs instead of ranking every queued job: the tenants
 * with queued jobs are found by seeks from one tenant id to the next, and each tenant's oldest
 * jobs by a range of this index, so a claim costs per tenant, not per job in the backlog.
 *
 * On Postgres the build holds a SHARE lock on ingestion_jobs (job writes wait, reads go on) for
 * as long as it reads the table, every job ever run: seconds at a million rows. It runs in the
 * migration's own transaction (CONCURRENTLY cannot), without the pool's statement timeout.
 */
export class IngestionClaimByTenant1732800000000 implements MigrationInterface {
  name = 'IngestionClaimByTenant1732800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'postgres') await queryRunner.query('SET LOCAL statement_timeout = 0');
    await queryRunner.createIndex(
      'ingestion_jobs',
      new TableIndex({ name: 'idx_jobs_status_tenant_due', columnNames: ['status', 'tenant_id', 'run_after', 'id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('ingestion_jobs', 'idx_jobs_status_tenant_due');
  }
}
