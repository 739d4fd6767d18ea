import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type ChunkStatus = 'pending' | 'indexed';

@Entity('chunks')
@Index(['documentId', 'position'], { unique: true })
@Index(['tenantId', 'kbId', 'status'])
export class ChunkEntity {
  /** deterministic per (document, position, generation) so a retried job rewrites, never duplicates */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId: string;

  @Column({ name: 'kb_id', type: 'varchar', length: 36 })
  kbId: string;

  @Column({ name: 'document_id', type: 'varchar', length: 36 })
  documentId: string;

  @Column({ type: 'integer' })
  position: number;

  @Column({ type: 'text' })
  text: string;

  @Column({ name: 'token_count', type: 'integer' })
  tokenCount: number;

  @Column({ name: 'start_offset', type: 'integer' })
  startOffset: number;

  @Column({ name: 'end_offset', type: 'integer' })
  endOffset: number;

  @Column({ name: 'heading_path', type: 'simple-json' })
  headingPath: string[];

  @Column({ type: 'varchar', length: 20 })
  status: ChunkStatus;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt: string;
}
