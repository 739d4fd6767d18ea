import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Per-tenant ingestion limits read two things on every claim and upload: the live leases
 * (a job is processing while its lease has not expired), counted per tenant, and a tenant's
 * queued and running jobs. Both are index range scans instead of scans of every job ever run.
 */
export class IngestionTenantFairness1732700000000 implements MigrationInterface {
  name = 'IngestionTenantFairness1732700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex(
      'ingestion_jobs',
      new TableIndex({ name: 'idx_jobs_lease_tenant', columnNames: ['lease_expires_at', 'tenant_id'] }),
    );
    await queryRunner.createIndex(
      'ingestion_jobs',
      new TableIndex({ name: 'idx_jobs_tenant_status_updated', columnNames: ['tenant_id', 'status', 'updated_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('ingestion_jobs', 'idx_jobs_tenant_status_updated');
    await queryRunner.dropIndex('ingestion_jobs', 'idx_jobs_lease_tenant');
  }
}
