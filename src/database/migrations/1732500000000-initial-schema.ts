import { Table, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';

const id = (name = 'id'): TableColumnOptions => ({ name, type: 'varchar', length: '36', isPrimary: name === 'id' });
const ref = (name: string): TableColumnOptions => ({ name, type: 'varchar', length: '36' });
const timestamp = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: '30', isNullable: nullable });
const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const int = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'integer', isNullable: nullable });
const varchar = (name: string, length: number, nullable = false): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});

/**
 * The first schema, written with TypeORM's dialect-neutral Table API so the same migration
 * runs on SQLite and PostgreSQL.
 */
export class InitialSchema1732500000000 implements MigrationInterface {
  name = 'InitialSchema1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'tenants',
        columns: [id(), varchar('name', 200), int('max_documents', true), timestamp('created_at')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          id(),
          ref('tenant_id'),
          varchar('name', 200),
          varchar('lookup_prefix', 32),
          varchar('key_hash', 64),
          text('scopes'),
          timestamp('expires_at', true),
          timestamp('revoked_at', true),
          timestamp('last_used_at', true),
          timestamp('created_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_api_keys_lookup_prefix', columnNames: ['lookup_prefix'], isUnique: true }),
          new TableIndex({ name: 'idx_api_keys_tenant', columnNames: ['tenant_id'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'knowledge_bases',
        columns: [
          id(),
          ref('tenant_id'),
          varchar('name', 200),
          text('description', true),
          text('chunker'),
          varchar('embedding_model', 200),
          timestamp('created_at'),
          timestamp('updated_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_kb_tenant_name', columnNames: ['tenant_id', 'name'], isUnique: true }),
          new TableIndex({ name: 'idx_kb_tenant', columnNames: ['tenant_id'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'documents',
        columns: [
          id(),
          ref('tenant_id'),
          ref('kb_id'),
          varchar('title', 500, true),
          varchar('file_name', 500, true),
          varchar('content_type', 20),
          varchar('content_hash', 64),
          int('size_bytes'),
          text('metadata'),
          varchar('status', 20),
          { name: 'progress', type: 'float' },
          int('chunk_count'),
          text('error', true),
          timestamp('created_at'),
          timestamp('updated_at'),
          timestamp('indexed_at', true),
        ],
        indices: [
          new TableIndex({ name: 'idx_documents_kb_hash', columnNames: ['kb_id', 'content_hash'], isUnique: true }),
          new TableIndex({ name: 'idx_documents_tenant_kb_created', columnNames: ['tenant_id', 'kb_id', 'created_at'] }),
          new TableIndex({ name: 'idx_documents_status', columnNames: ['status'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'document_contents',
        columns: [{ ...id('document_id'), isPrimary: true }, ref('tenant_id'), text('content_base64')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'chunks',
        columns: [
          id(),
          ref('tenant_id'),
          ref('kb_id'),
          ref('document_id'),
          int('position'),
          text('text'),
          int('token_count'),
          int('start_offset'),
          int('end_offset'),
          text('heading_path'),
          varchar('status', 20),
          timestamp('created_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_chunks_document_position', columnNames: ['document_id', 'position'], isUnique: true }),
          new TableIndex({ name: 'idx_chunks_tenant_kb_status', columnNames: ['tenant_id', 'kb_id', 'status'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'ingestion_jobs',
        columns: [
          id(),
          ref('tenant_id'),
          ref('kb_id'),
          ref('document_id'),
          varchar('status', 20),
          varchar('stage', 20, true),
          int('attempts'),
          int('max_attempts'),
          varchar('lease_owner', 100, true),
          timestamp('lease_expires_at', true),
          timestamp('run_after'),
          text('last_error', true),
          text('trace_context', true),
          timestamp('created_at'),
          timestamp('updated_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_jobs_status_run_after', columnNames: ['status', 'run_after'] }),
          new TableIndex({ name: 'idx_jobs_document', columnNames: ['document_id'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['ingestion_jobs', 'chunks', 'document_contents', 'documents', 'knowledge_bases', 'api_keys', 'tenants']) {
      await queryRunner.dropTable(table);
    }
  }
}
