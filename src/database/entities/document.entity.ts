import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { jsonObjectColumn } from '../stored-json';

export type DocumentStatus = 'queued' | 'processing' | 'indexed' | 'failed';

@Entity('documents')
@Index(['kbId', 'contentHash'], { unique: true })
@Index(['tenantId', 'kbId', 'createdAt'])
export class DocumentEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId: string;

  @Column({ name: 'kb_id', type: 'varchar', length: 36 })
  kbId: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  title: string | null;

  @Column({ name: 'file_name', type: 'varchar', length: 500, nullable: true })
  fileName: string | null;

  /** txt | md | html | pdf | docx */
  @Column({ name: 'content_type', type: 'varchar', length: 20 })
  contentType: string;

  /** sha256 of the uploaded bytes: the same content in the same KB is stored once */
  @Column({ name: 'content_hash', type: 'varchar', length: 64 })
  contentHash: string;

  @Column({ name: 'size_bytes', type: 'integer' })
  sizeBytes: number;

  /** JSON text, as simple-json stores it, read back with a depth bound */
  @Column({ type: 'text', transformer: jsonObjectColumn })
  metadata: Record<string, unknown>;

  @Index()
  @Column({ type: 'varchar', length: 20 })
  status: DocumentStatus;

  @Column({ type: 'float' })
  progress: number;

  /** bumped by every re-index; chunk ids and jobs carry it (migration 1732600000000) */
  @Column({ type: 'integer', default: 0 })
  generation: number;

  @Column({ name: 'chunk_count', type: 'integer' })
  chunkCount: number;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 30 })
  updatedAt: string;

  @Column({ name: 'indexed_at', type: 'varchar', length: 30, nullable: true })
  indexedAt: string | null;
}
