import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type IngestionJobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

@Entity('ingestion_jobs')
@Index(['status', 'runAfter'])
@Index(['leaseExpiresAt', 'tenantId'])
@Index(['tenantId', 'status', 'updatedAt'])
@Index(['status', 'tenantId', 'runAfter', 'id'])
export class IngestionJobEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId: string;

  @Column({ name: 'kb_id', type: 'varchar', length: 36 })
  kbId: string;

  @Index()
  @Column({ name: 'document_id', type: 'varchar', length: 36 })
  documentId: string;

  @Column({ type: 'varchar', length: 20 })
  status: IngestionJobStatus;

  /** parse | chunk | embed | index */
  @Column({ type: 'varchar', length: 20, nullable: true })
  stage: string | null;

  /** the document generation this job indexes; a superseded job writes nothing */
  @Column({ type: 'integer', default: 0 })
  generation: number;

  @Column({ type: 'integer' })
  attempts: number;

  @Column({ name: 'max_attempts', type: 'integer' })
  maxAttempts: number;

  @Column({ name: 'lease_owner', type: 'varchar', length: 100, nullable: true })
  leaseOwner: string | null;

  @Column({ name: 'lease_expires_at', type: 'varchar', length: 30, nullable: true })
  leaseExpiresAt: string | null;

  @Column({ name: 'run_after', type: 'varchar', length: 30 })
  runAfter: string;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  /** W3C trace context of the request that queued the job, so its spans link back */
  @Column({ name: 'trace_context', type: 'simple-json', nullable: true })
  traceContext: Record<string, string> | null;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 30 })
  updatedAt: string;
}
