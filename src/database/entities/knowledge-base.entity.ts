import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export interface ChunkerSettingsColumn {
  type: 'fixed' | 'recursive' | 'markdown' | 'sentence';
  chunk_size: number;
  chunk_overlap: number;
}

@Entity('knowledge_bases')
@Index(['tenantId', 'name'], { unique: true })
export class KnowledgeBaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index()
  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'simple-json' })
  chunker: ChunkerSettingsColumn;

  @Column({ name: 'embedding_model', type: 'varchar', length: 200 })
  embeddingModel: string;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 30 })
  updatedAt: string;
}
