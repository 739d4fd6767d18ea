import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('tenants')
export class TenantEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** null = the deployment default (TENANT_MAX_DOCUMENTS) */
  @Column({ name: 'max_documents', type: 'integer', nullable: true })
  maxDocuments: number | null;

  /** ISO-8601 UTC; strings of one format sort chronologically on every database */
  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt: string;
}
