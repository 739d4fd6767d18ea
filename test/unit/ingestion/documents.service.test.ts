import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, QuotaExceededError, RateLimitedError, ValidationFailedError } from '../../../src/common/errors';
import { loadConfig } from '../../../src/config/app-config';
import type { KnowledgeBaseEntity } from '../../../src/database/entities';
import { DocumentsRepository } from '../../../src/ingestion/documents.repository';
import { DocumentsService } from '../../../src/ingestion/documents.service';
import { IndexCleaner } from '../../../src/ingestion/index-cleaner';
import { IngestionJobsRepository } from '../../../src/ingestion/jobs/ingestion-jobs.repository';
import { IngestionQueue, type DispatchedJob } from '../../../src/ingestion/queue/ingestion-queue.port';
import { PendingJobsQuota } from '../../../src/ingestion/pending-jobs-quota';
import { KnowledgeBaseEvents } from '../../../src/knowledge-bases/knowledge-base.events';
import { KnowledgeBasesRepository } from '../../../src/knowledge-bases/knowledge-bases.repository';
import { KnowledgeBasesService } from '../../../src/knowledge-bases/knowledge-bases.service';
import { vectorCollectionName } from '../../../src/vector-store/collection-name';
import { TenantContext } from '../../../src/tenants/principal';
import { TenantPurgeRegistry } from '../../../src/tenants/tenant-purge.registry';
import { TenantsRepository } from '../../../src/tenants/tenants.repository';
import {
  InMemoryDatabase,
  InMemoryDocumentsRepository,
  InMemoryIngestionJobsRepository,
  InMemoryKnowledgeBasesRepository,
  InMemoryTenantsRepository,
} from '../../support/fakes/in-memory-repositories';
import { SearchStack } from '../../support/fakes/search-stack';

const A = new TenantContext('tenant-a');
const B = new TenantContext('tenant-b');

/** The queue port as workers would see it: every dispatched job, in order. */
class RecordingQueue extends IngestionQueue {
  readonly dispatched: DispatchedJob[] = [];

  async dispatch(jobs: DispatchedJob[]): Promise<void> {
    this.dispatched.push(...jobs);
  }
}

async function build(env: Record<string, string> = {}) {
  const db = new InMemoryDatabase();
  const stack = new SearchStack(loadConfig(env), db);
  await stack.init();
  const queue = new RecordingQueue();
  const moduleRef = await Test.createTestingModule({
    providers: [
      ...stack.providers(),
      DocumentsService,
      KnowledgeBasesService,
      KnowledgeBaseEvents,
      TenantPurgeRegistry,
      PendingJobsQuota,
      IndexCleaner,
      { provide: IngestionQueue, useValue: queue },
      { provide: DocumentsRepository, useValue: new InMemoryDocumentsRepository(db) },
      { provide: IngestionJobsRepository, useValue: new InMemoryIngestionJobsRepository(db) },
      { provide: KnowledgeBasesRepository, useValue: new InMemoryKnowledgeBasesRepository(db) },
      { provide: TenantsRepository, useValue: new InMemoryTenantsRepository(db) },
    ],
  }).compile();
  await moduleRef.init();
  const kb = stack.knowledgeBase(A.tenantId, 'handbook');
  return {
    db,
    stack,
    queue,
    kb,
    documents: moduleRef.get(DocumentsService),
    kbs: moduleRef.get(KnowledgeBasesService),
    purges: moduleRef.get(TenantPurgeRegistry),
  };
}

describe('DocumentsService', () => {
  let setup: Awaited<ReturnType<typeof build>>;

  const upload = (content: string, kb: KnowledgeBaseEntity = setup.kb, tenant = A, extra: Record<string, unknown> = {}) =>
    setup.documents.upload(tenant, kb.id, { content, ...extra });
  const jobsOf = (documentId: string) => [...setup.db.jobs.values()].filter((job) => job.documentId === documentId);

  afterEach(async () => {
    await setup.stack.close();
  });

  it('stores an upload with its bytes and one queued job, and dispatches that job', async () => {
    setup = await build();
    const result = await upload('# Leave\n\nEmployees receive 25 days of paid leave.', setup.kb, A, {
      title: 'leave',
      metadata: '{"team":"hr"}',
    });
    expect(result.created).toBe(true);
    expect(result.document).toMatchObject({
      kb_id: setup.kb.id,
      title: 'leave',
      status: 'queued',
      metadata: { team: 'hr' },
      content_type: 'md',
    });
    expect(setup.db.contents.get(result.document.id)?.toString()).toContain('25 days');
    const jobs = jobsOf(result.document.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: 'queued', tenantId: A.tenantId, maxAttempts: 5 });
    expect(setup.queue.dispatched).toEqual([{ id: jobs[0].id, tenantId: A.tenantId, attempts: 0, position: 1 }]);
    expect(result.headers).toEqual({ 'RateLimit-Limit-ingestion': '10000', 'RateLimit-Remaining-ingestion': '9999' });
  });

  it('returns the document already holding the same bytes in the KB, queuing nothing; another KB stores its own', async () => {
    setup = await build();
    const first = await upload('same text');
    const again = await upload('same text');
    expect(again).toMatchObject({ created: false, document: { id: first.document.id }, headers: {} });
    expect(setup.queue.dispatched).toHaveLength(1);
    const other = setup.stack.knowledgeBase(A.tenantId, 'other');
    expect((await upload('same text', other)).created).toBe(true);
  });

  it('refuses bad input with a 422 and stores nothing', async () => {
    setup = await build();
    const refused = [
      setup.documents.upload(A, setup.kb.id, {}),
      setup.documents.upload(A, setup.kb.id, { content: 'x' }, { buffer: Buffer.from('y'), originalname: 'y.txt', mimetype: 'text/plain' }),
      upload('x', setup.kb, A, { metadata: 'not json' }),
      upload('x', setup.kb, A, { metadata: '[1,2]' }),
      upload('x', setup.kb, A, { metadata: { big: 'x'.repeat(17_000) } }),
    ];
    for (const attempt of refused) await expect(attempt).rejects.toBeInstanceOf(ValidationFailedError);
    expect(setup.db.documents.size).toBe(0);
    expect(setup.queue.dispatched).toEqual([]);
  });

  it("answers 404 for another tenant's KB and documents, and lists only the caller's", async () => {
    setup = await build();
    const mine = await upload('mine');
    await expect(upload('sneaky', setup.kb, B)).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.documents.get(B, setup.kb.id, mine.document.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.documents.delete(B, setup.kb.id, mine.document.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.documents.reindex(B, setup.kb.id, mine.document.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(setup.documents.list(B, setup.kb.id, {})).rejects.toBeInstanceOf(NotFoundError);
    const theirs = setup.stack.knowledgeBase(B.tenantId, 'theirs');
    await expect(setup.documents.get(A, theirs.id, mine.document.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(setup.db.documents.size).toBe(1);
  });

  it('holds a tenant to its max_documents, else to TENANT_MAX_DOCUMENTS; a duplicate at the quota is still answered', async () => {
    setup = await build({ TENANT_MAX_DOCUMENTS: '1' });
    await upload('one');
    await expect(upload('two')).rejects.toBeInstanceOf(QuotaExceededError);
    expect((await upload('one')).created).toBe(false);

    setup.db.tenants.set(A.tenantId, { id: A.tenantId, name: 'a', maxDocuments: 3, createdAt: new Date().toISOString() });
    await upload('two');
    await upload('three');
    await expect(upload('four')).rejects.toThrow(/its quota is 3/);
    expect(setup.db.documents.size).toBe(3);
    expect(setup.queue.dispatched).toHaveLength(3);
    // another tenant has a quota of its own
    const theirs = setup.stack.knowledgeBase(B.tenantId, 'theirs');
    expect((await upload('one', theirs, B)).created).toBe(true);
  });

  it('refuses uploads past INGESTION_MAX_PENDING_JOBS_PER_TENANT with a 429 and Retry-After, until jobs end', async () => {
    setup = await build({ INGESTION_MAX_PENDING_JOBS_PER_TENANT: '2' });
    await upload('one');
    const second = await upload('two');
    expect(second.headers['RateLimit-Remaining-ingestion']).toBe('0');
    const refused = await upload('three').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).headers).toMatchObject({
      'Retry-After': '5',
      'RateLimit-Limit-ingestion': '2',
      'RateLimit-Remaining-ingestion': '0',
    });
    expect(setup.db.documents.size).toBe(2);

    for (const job of setup.db.jobs.values()) Object.assign(job, { status: 'succeeded', updatedAt: new Date().toISOString() });
    expect((await upload('three')).created).toBe(true);
  });

  it('re-indexes in a new generation, cancelling the old job; a queued document replaces its job even at the pending limit', async () => {
    setup = await build({ INGESTION_MAX_PENDING_JOBS_PER_TENANT: '1' });
    const { document } = await upload('text');
    const [firstJob] = jobsOf(document.id);

    const replaced = await setup.documents.reindex(A, setup.kb.id, document.id);
    expect(replaced.document).toMatchObject({ id: document.id, status: 'queued' });
    expect(setup.db.documents.get(document.id)!.generation).toBe(1);
    expect(setup.db.jobs.get(firstJob.id)!.status).toBe('cancelled');
    const live = jobsOf(document.id).filter((job) => job.status === 'queued');
    expect(live).toHaveLength(1);
    expect(setup.queue.dispatched.at(-1)).toMatchObject({ id: live[0].id, attempts: 0 });

    // an indexed document needs a place under the limit, which another document's job holds
    Object.assign(setup.db.documents.get(document.id)!, { status: 'indexed' });
    Object.assign(live[0], { status: 'succeeded' });
    await upload('other');
    await expect(setup.documents.reindex(A, setup.kb.id, document.id)).rejects.toBeInstanceOf(RateLimitedError);
    expect(setup.db.documents.get(document.id)!.status).toBe('indexed');
  });

  it('deletes a document with its bytes, jobs, vectors and lexical entries', async () => {
    setup = await build();
    const indexed = await setup.stack.index({ tenantId: A.tenantId, kb: setup.kb, chunks: ['alpha beta', 'gamma delta'] });
    const kept = await setup.stack.index({ tenantId: A.tenantId, kb: setup.kb, chunks: ['kept words'] });
    const collection = vectorCollectionName('offline-hash-v2', 512);
    expect(await setup.stack.vectors.count(collection, { tenantId: A.tenantId })).toBe(3);

    await setup.documents.delete(A, setup.kb.id, indexed.documentId);

    await expect(setup.documents.get(A, setup.kb.id, indexed.documentId)).rejects.toBeInstanceOf(NotFoundError);
    expect(await setup.stack.vectors.count(collection, { tenantId: A.tenantId })).toBe(1);
    expect(await setup.stack.lexical.count({ tenantId: A.tenantId })).toBe(1);
    expect([...setup.db.chunks.values()].map((c) => c.documentId)).toEqual([kept.documentId]);
  });

  it('lists by status, a page at a time', async () => {
    setup = await build();
    for (const text of ['a', 'b', 'c']) await upload(text);
    Object.assign([...setup.db.documents.values()][0], { status: 'failed' });
    expect((await setup.documents.list(A, setup.kb.id, { status: 'failed' })).items).toHaveLength(1);
    const first = await setup.documents.list(A, setup.kb.id, { limit: 2 });
    const second = await setup.documents.list(A, setup.kb.id, { limit: 2, cursor: first.next_cursor! });
    expect(new Set([...first.items, ...second.items].map((d) => d.id)).size).toBe(3);
    expect(second.next_cursor).toBeNull();
  });

  it('purges a deleted KB: its documents, jobs and index entries, not those of other KBs', async () => {
    setup = await build();
    const other = setup.stack.knowledgeBase(A.tenantId, 'other');
    await setup.stack.index({ tenantId: A.tenantId, kb: setup.kb, chunks: ['to be removed'] });
    await upload('queued, never indexed');
    const survivor = await setup.stack.index({ tenantId: A.tenantId, kb: other, chunks: ['survives'] });

    await setup.kbs.delete(A, setup.kb.id);

    expect([...setup.db.documents.values()].map((d) => d.id)).toEqual([survivor.documentId]);
    expect([...setup.db.jobs.values()].filter((j) => j.kbId === setup.kb.id)).toEqual([]);
    expect(await setup.stack.lexical.count({ tenantId: A.tenantId, kbId: setup.kb.id })).toBe(0);
    expect(await setup.stack.lexical.count({ tenantId: A.tenantId, kbId: other.id })).toBe(1);
  });

  it('re-queues every document of a KB whose chunker changes', async () => {
    setup = await build();
    const one = await upload('one');
    const two = await upload('two');
    for (const job of setup.db.jobs.values()) job.status = 'succeeded';
    for (const document of setup.db.documents.values()) document.status = 'indexed';
    setup.queue.dispatched.length = 0;

    await setup.kbs.update(A, setup.kb.id, { chunker: { type: 'fixed', chunk_size: 256, chunk_overlap: 0 } });

    for (const id of [one.document.id, two.document.id])
      expect(setup.db.documents.get(id)).toMatchObject({ status: 'queued', generation: 1 });
    expect(setup.queue.dispatched.map((job) => job.position)).toEqual([1, 2]);
    expect(setup.queue.dispatched.map((job) => setup.db.jobs.get(job.id)?.status)).toEqual(['queued', 'queued']);
  });

  it('purges every document of a deleted tenant and no other', async () => {
    setup = await build();
    await upload('mine');
    const theirs = setup.stack.knowledgeBase(B.tenantId, 'theirs');
    await upload('theirs', theirs, B);
    await setup.purges.purge(A);
    expect([...setup.db.documents.values()].map((d) => d.tenantId)).toEqual([B.tenantId]);
    expect(setup.db.knowledgeBases.has(setup.kb.id)).toBe(false);
  });

  it('refuses a KB whose embedding model no configured provider serves', async () => {
    setup = await build();
    await expect(setup.kbs.create(A, { name: 'remote', embedding_model: 'text-embedding-3-small' })).rejects.toThrow(
      /no configured embedding provider serves/,
    );
    await expect(setup.kbs.create(A, { name: 'offline', embedding_model: 'offline-hash-v1' })).resolves.toMatchObject({
      embedding_model: 'offline-hash-v1',
    });
  });
});
