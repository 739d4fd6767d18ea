import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The uploaded bytes, kept until the document is deleted so that a job retried on any worker,
 * or a re-index, parses the original. Base64 text keeps one column type on SQLite and Postgres.
 */
@Entity('document_contents')
export class DocumentContentEntity {
  @PrimaryColumn({ name: 'document_id', type: 'varchar', length: 36 })
  documentId: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId: string;

  @Column({ name: 'content_base64', type: 'text' })
  contentBase64: string;
}
