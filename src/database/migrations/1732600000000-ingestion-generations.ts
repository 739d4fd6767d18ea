import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Re-indexing bumps a document's generation; a job carries the generation it was queued for, so
 * a superseded job never writes, and chunk ids (derived from document, generation and position)
 * differ between generations. The index finds a document's active jobs when it is re-queued.
 */
export class IngestionGenerations1732600000000 implements MigrationInterface {
  name = 'IngestionGenerations1732600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('documents', new TableColumn({ name: 'generation', type: 'integer', default: 0 }));
    await queryRunner.addColumn('ingestion_jobs', new TableColumn({ name: 'generation', type: 'integer', default: 0 }));
    await queryRunner.createIndex(
      'ingestion_jobs',
      new TableIndex({ name: 'idx_jobs_document_status', columnNames: ['document_id', 'status'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('ingestion_jobs', 'idx_jobs_document_status');
    await queryRunner.dropColumn('ingestion_jobs', 'generation');
    await queryRunner.dropColumn('documents', 'generation');
  }
}
