import { Test } from '@nestjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationFailedError } from '../../../src/common/errors';
import { ApiKeysRepository } from '../../../src/tenants/api-keys.repository';
import type { Principal } from '../../../src/tenants/principal';
import { TenantPurgeRegistry } from '../../../src/tenants/tenant-purge.registry';
import { TenantsRepository } from '../../../src/tenants/tenants.repository';
import { TenantsService } from '../../../src/tenants/tenants.service';
import { InMemoryApiKeysRepository, InMemoryDatabase, InMemoryTenantsRepository } from '../../support/fakes/in-memory-repositories';

const ADMIN: Principal = { kind: 'platform-admin' };
const tenantAdmin = (tenantId: string): Principal => ({ kind: 'tenant', tenantId, keyId: 'k', scopes: ['admin'] });

describe('TenantsService', () => {
  let db: InMemoryDatabase;
  let tenants: TenantsService;
  let purges: TenantPurgeRegistry;

  beforeEach(async () => {
    db = new InMemoryDatabase();
    const moduleRef = await Test.createTestingModule({
      providers: [
        TenantsService,
        TenantPurgeRegistry,
        { provide: TenantsRepository, useValue: new InMemoryTenantsRepository(db) },
        { provide: ApiKeysRepository, useValue: new InMemoryApiKeysRepository(db) },
      ],
    }).compile();
    tenants = moduleRef.get(TenantsService);
    purges = moduleRef.get(TenantPurgeRegistry);
  });

  it('creates a tenant and reads it back; an unknown id is a 404', async () => {
    const created = await tenants.create({ name: 'acme', max_documents: 5 });
    expect(await tenants.get(created.id)).toEqual(created);
    expect(created).toMatchObject({ name: 'acme', max_documents: 5 });
    await expect(tenants.get('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('pages through every tenant once, in creation order, and ends with a null cursor', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) await tenants.create({ name });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await tenants.list(2, cursor);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((t) => t.name));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(names);
    await expect(tenants.list(2, 'not a cursor')).rejects.toBeInstanceOf(ValidationFailedError);
  });

  it('updates only the fields given; null clears the document quota back to the default', async () => {
    const { id } = await tenants.create({ name: 'acme', max_documents: 5 });
    expect(await tenants.update(id, { name: 'acme-2' })).toMatchObject({ name: 'acme-2', max_documents: 5 });
    // the API documents the field as nullable and the validation pipe lets null through
    expect(await tenants.update(id, { max_documents: null as unknown as number })).toMatchObject({ name: 'acme-2', max_documents: null });
    await expect(tenants.update('00000000-0000-4000-8000-000000000000', { name: 'x' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes a tenant with its keys and runs every registered purge for that tenant only', async () => {
    const doomed = await tenants.create({ name: 'doomed' });
    const kept = await tenants.create({ name: 'kept' });
    await tenants.createApiKey(ADMIN, doomed.id, { name: 'k1', scopes: ['read'] });
    const keptKey = await tenants.createApiKey(ADMIN, kept.id, { name: 'k2', scopes: ['read'] });
    const purged: string[] = [];
    purges.register(async (tenant) => void purged.push(tenant.tenantId));

    await tenants.delete(doomed.id);

    expect(purged).toEqual([doomed.id]);
    await expect(tenants.get(doomed.id)).rejects.toBeInstanceOf(NotFoundError);
    expect([...db.apiKeys.values()].map((k) => k.id)).toEqual([keptKey.id]);
    await expect(tenants.delete(doomed.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(purged).toEqual([doomed.id]);
  });

  it('issues an API key whose secret is returned once and stored only as a hash', async () => {
    const { id } = await tenants.create({ name: 'acme' });
    const created = await tenants.createApiKey(ADMIN, id, { name: 'ci', scopes: ['write'] });
    expect(created.key.startsWith(created.prefix)).toBe(true);
    const stored = db.apiKeys.get(created.id)!;
    expect(stored.tenantId).toBe(id);
    expect(JSON.stringify(stored)).not.toContain(created.key);
    const listed = await tenants.listApiKeys(ADMIN, id);
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0]).not.toHaveProperty('key');
  });

  it('refuses an expiry in the past', async () => {
    const { id } = await tenants.create({ name: 'acme' });
    await expect(
      tenants.createApiKey(ADMIN, id, { name: 'old', scopes: ['read'], expires_at: '2001-01-01T00:00:00Z' }),
    ).rejects.toBeInstanceOf(ValidationFailedError);
    expect(db.apiKeys.size).toBe(0);
  });

  it("lets a tenant admin manage only its own tenant's keys: another tenant is a 404", async () => {
    const a = await tenants.create({ name: 'a' });
    const b = await tenants.create({ name: 'b' });
    const bKey = await tenants.createApiKey(ADMIN, b.id, { name: 'b-key', scopes: ['read'] });

    await expect(tenants.createApiKey(tenantAdmin(a.id), b.id, { name: 'sneaky', scopes: ['admin'] })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(tenants.listApiKeys(tenantAdmin(a.id), b.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(tenants.revokeApiKey(tenantAdmin(a.id), bKey.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(db.apiKeys.get(bKey.id)!.revokedAt).toBeNull();
    expect((await tenants.listApiKeys(tenantAdmin(a.id), a.id)).items).toEqual([]);

    await tenants.revokeApiKey(tenantAdmin(b.id), bKey.id);
    expect(db.apiKeys.get(bKey.id)!.revokedAt).not.toBeNull();
  });

  it('lets the platform admin revoke any key; revoking again keeps the first revocation time', async () => {
    const { id } = await tenants.create({ name: 'acme' });
    const key = await tenants.createApiKey(ADMIN, id, { name: 'k', scopes: ['read'] });
    await tenants.revokeApiKey(ADMIN, key.id);
    const first = db.apiKeys.get(key.id)!.revokedAt;
    expect(first).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await tenants.revokeApiKey(tenantAdmin(id), key.id);
    expect(db.apiKeys.get(key.id)!.revokedAt).toBe(first);
    await expect(tenants.revokeApiKey(ADMIN, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('scopes key listings by tenant and pages them', async () => {
    const a = await tenants.create({ name: 'a' });
    const b = await tenants.create({ name: 'b' });
    for (let i = 0; i < 3; i++) await tenants.createApiKey(ADMIN, a.id, { name: `a${i}`, scopes: ['read'] });
    await tenants.createApiKey(ADMIN, b.id, { name: 'b0', scopes: ['read'] });
    const first = await tenants.listApiKeys(tenantAdmin(a.id), a.id, 2);
    const second = await tenants.listApiKeys(tenantAdmin(a.id), a.id, 2, first.next_cursor!);
    expect([...first.items, ...second.items].map((k) => k.name).sort()).toEqual(['a0', 'a1', 'a2']);
    expect(second.next_cursor).toBeNull();
  });
});
