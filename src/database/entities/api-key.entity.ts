import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type ApiKeyScope = 'admin' | 'write' | 'read';

@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index()
  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** public part of the key used to find its row; the secret part is only ever hashed */
  @Index({ unique: true })
  @Column({ name: 'lookup_prefix', type: 'varchar', length: 32 })
  lookupPrefix: string;

  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash: string;

  @Column({ type: 'simple-json' })
  scopes: ApiKeyScope[];

  @Column({ name: 'expires_at', type: 'varchar', length: 30, nullable: true })
  expiresAt: string | null;

  @Column({ name: 'revoked_at', type: 'varchar', length: 30, nullable: true })
  revokedAt: string | null;

  @Column({ name: 'last_used_at', type: 'varchar', length: 30, nullable: true })
  lastUsedAt: string | null;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt: string;
}
