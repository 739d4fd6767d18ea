import { Test } from '@nestjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationFailedError } from '../../../src/common/errors';
import { loadConfig } from '../../../src/config/app-config';
import { APP_CONFIG } from '../../../src/config/config.module';
import { KnowledgeBaseEvents } from '../../../src/knowledge-bases/knowledge-base.events';
import { KnowledgeBasesRepository } from '../../../src/knowledge-bases/knowledge-bases.repository';
import { KnowledgeBasesService } from '../../../src/knowledge-bases/knowledge-bases.service';
import { TenantContext } from '../../../src/tenants/principal';
import { TenantPurgeRegistry } from '../../../src/tenants/tenant-purge.registry';
import { InMemoryDatabase, InMemoryKnowledgeBasesRepository } from '../../support/fakes/in-memory-repositories';

const A = new TenantContext('tenant-a');
const B = new TenantContext('tenant-b');

async function build(env: Record<string, string> = {}) {
  const db = new InMemoryDatabase();
  const moduleRef = await Test.createTestingModule({
    providers: [
      KnowledgeBasesService,
      KnowledgeBaseEvents,
      TenantPurgeRegistry,
      { provide: APP_CONFIG, useValue: loadConfig(env) },
      { provide: KnowledgeBasesRepository, useValue: new InMemoryKnowledgeBasesRepository(db) },
    ],
  }).compile();
  await moduleRef.init();
  return {
    db,
    kbs: moduleRef.get(KnowledgeBasesService),
    events: moduleRef.get(KnowledgeBaseEvents),
    purges: moduleRef.get(TenantPurgeRegistry),
  };
}

describe('KnowledgeBasesService', () => {
  let setup: Awaited<ReturnType<typeof build>>;

  beforeEach(async () => {
    setup = await build({ TENANT_MAX_KNOWLEDGE_BASES: '3', EMBEDDING_MODEL: 'offline-hash-v2' });
  });

  it("creates a KB with the default chunker and the deployment's embedding model", async () => {
    const kb = await setup.kbs.create(A, { name: 'handbook' });
    expect(kb).toMatchObject({
      tenant_id: A.tenantId,
      name: 'handbook',
      description: null,
      embedding_model: 'offline-hash-v2',
      chunker: { type: 'recursive', chunk_size: 512, chunk_overlap: 64 },
    });
    expect(await setup.kbs.get(A, kb.id)).toEqual(kb);
  });

  it('refuses an overlap of half the chunk size or more, storing nothing', async () => {
    await expect(setup.kbs.create(A, { name: 'x', chunker: { type: 'fixed', chunk_size: 100, chunk_overlap: 50 } })).rejects.toBeInstanceOf(
      ValidationFailedError,
    );
    expect(setup.db.knowledgeBases.size).toBe(0);
    expect(await setup.kbs.create(A, { name: 'x', chunker: { type: 'fixed', chunk_size: 100, chunk_overlap: 49 } })).toMatchObject({
      chunker: { chunk_overlap: 49 },
    });
  });

  it('answers 409 for a name the tenant already uses, while another tenant may use it', async () => {
    await setup.kbs.create(A, { name: 'docs' });
    await expect(setup.kbs.create(A, { name: 'docs' })).rejects.toBeInstanceOf(ConflictError);
    await expect(setup.kbs.create(B, { name: 'docs' })).resolves.toMatchObject({ tenant_id: B.tenantId });
    const other = await setup.kbs.create(A, { name: 'other' });
    await expect(setup.kbs.update(A, other.id, { name: 'docs' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('holds a tenant to TENANT_MAX_KNOWLEDGE_BASES, counting only its own KBs; a delete frees a place', async () => {
    for (const name of ['1', '2', '3']) await setup.kbs.create(A, { name });
    await setup.kbs.create(B, { name: 'b' });
    const refused = setup.kbs.create(A, { name: '4' });
    await expect(refused).rejects.toBeInstanceOf(QuotaExceededError);
    await expect(refused).rejects.toThrow(/TENANT_MAX_KNOWLEDGE_BASES is 3/);
    expect((await setup.kbs.list(A, 100)).items).toHaveLength(3);

    const [first] = (await setup.kbs.list(A, 1)).items;
    await setup.kbs.delete(A, first.id);
    await expect(setup.kbs.create(A, { name: '4' })).resolves.toMatchObject({ name: '4' });
  });

  it('never leaves a tenant over its quota when creations race for the last place', async () => {
    for (const name of ['1', '2']) await setup.kbs.create(A, { name });
    const outcomes = await Promise.allSettled(['r1', 'r2', 'r3', 'r4'].map((name) => setup.kbs.create(A, { name })));
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(QuotaExceededError);
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    expect(setup.db.knowledgeBases.size).toBeLessThanOrEqual(3);
  });

  it("does not show, change or delete another tenant's KB (404)", async () => {
    const kb = await setup.kbs.create(A, { name: 'private' });
    await expect(setup.kbs.get(B, kb.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.kbs.update(B, kb.id, { name: 'stolen' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.kbs.delete(B, kb.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await setup.kbs.list(B)).items).toEqual([]);
    expect(await setup.kbs.get(A, kb.id)).toMatchObject({ name: 'private' });
  });

  it("pages the tenant's KBs in creation order", async () => {
    for (const name of ['1', '2', '3']) await setup.kbs.create(A, { name });
    const first = await setup.kbs.list(A, 2);
    expect(first.items).toHaveLength(2);
    const second = await setup.kbs.list(A, 2, first.next_cursor!);
    expect(second.next_cursor).toBeNull();
    expect([...first.items, ...second.items].map((kb) => kb.name).sort()).toEqual(['1', '2', '3']);
  });

  it('runs the validators on create and update, and stores nothing they refuse', async () => {
    setup.events.addValidator(async (kb) => {
      if (kb.embeddingModel !== 'offline-hash-v2') throw new ValidationFailedError([{ field: 'embedding_model', message: 'not served' }]);
    });
    await expect(setup.kbs.create(A, { name: 'remote', embedding_model: 'text-embedding-3-small' })).rejects.toBeInstanceOf(
      ValidationFailedError,
    );
    expect(setup.db.knowledgeBases.size).toBe(0);
    const kb = await setup.kbs.create(A, { name: 'local' });
    await expect(setup.kbs.update(A, kb.id, { embedding_model: 'text-embedding-3-small' })).rejects.toBeInstanceOf(ValidationFailedError);
    expect((await setup.kbs.get(A, kb.id)).embedding_model).toBe('offline-hash-v2');
  });

  it('emits "reconfigured" only when the chunker or the embedding model changes', async () => {
    const reconfigured: string[] = [];
    setup.events.onReconfigured(async (_tenant, kb) => void reconfigured.push(`${kb.chunker.chunk_size}/${kb.embeddingModel}`));
    const kb = await setup.kbs.create(A, { name: 'kb' });
    await setup.kbs.update(A, kb.id, { name: 'renamed', description: 'words' });
    expect(reconfigured).toEqual([]);
    await setup.kbs.update(A, kb.id, { chunker: { type: 'recursive', chunk_size: 256, chunk_overlap: 32 } });
    await setup.kbs.update(A, kb.id, { embedding_model: 'offline-hash-v1' });
    expect(reconfigured).toEqual(['256/offline-hash-v2', '256/offline-hash-v1']);
    expect(await setup.kbs.get(A, kb.id)).toMatchObject({ name: 'renamed', description: 'words', embedding_model: 'offline-hash-v1' });
  });

  it("emits 'deleted' for a deleted KB, and a tenant purge deletes every KB of that tenant only", async () => {
    const deleted: string[] = [];
    setup.events.onDeleted(async (tenant, kb) => void deleted.push(`${tenant.tenantId}:${kb.name}`));
    const one = await setup.kbs.create(A, { name: 'one' });
    await setup.kbs.create(A, { name: 'two' });
    await setup.kbs.create(B, { name: 'b' });
    await setup.kbs.delete(A, one.id);
    expect(deleted).toEqual(['tenant-a:one']);

    await setup.purges.purge(A);
    expect(deleted).toEqual(['tenant-a:one', 'tenant-a:two']);
    expect((await setup.kbs.list(A)).items).toEqual([]);
    expect((await setup.kbs.list(B)).items.map((kb) => kb.name)).toEqual(['b']);
  });
});
