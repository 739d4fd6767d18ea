import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkEntity, DocumentContentEntity } from '../../src/database/entities';
import { IndexCleaner } from '../../src/ingestion/index-cleaner';
import { OrphanSweeper } from '../../src/ingestion/orphan-sweeper';
import { LexicalIndex } from '../../src/lexical-index/lexical-index.port';
import { VectorStore } from '../../src/vector-store/vector-store.port';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { waitForDocument } from '../support/ingestion-client';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

/**
 * The orphan sweeper (issue 17): leftovers a crash in the middle of a KB or tenant delete would
 * leave (the KB or tenant row gone, its documents, bytes, chunks, jobs, vectors and lexical
 * entries still there), chunks/bytes/index entries of a deleted document, and a job left
 * `running` without a lease are planted in the stores; the next start removes them (and
 * re-queues the stuck job) and leaves every live row and index entry as it was.
 */
const QUIET = { LOG_LEVEL: 'error', OTEL_SDK_DISABLED: 'true', INGESTION_LEASE_MS: '2000' };

async function count(dataSource: DataSource, sql: string): Promise<number> {
  return Number((await dataSource.query<Array<{ n: string | number }>>(sql))[0]?.n ?? 0);
}

/** What the stores hold for a tenant (and KB, and document). */
async function stored(app: TestApp, filter: { tenantId: string; kbId?: string; documentId?: string }): Promise<Record<string, number>> {
  const dataSource = app.app.get(DataSource);
  let where = `tenant_id = '${filter.tenantId}'`;
  if (filter.kbId) where += ` AND kb_id = '${filter.kbId}'`;
  if (filter.documentId) where += ` AND document_id = '${filter.documentId}'`;
  const vectors = app.app.get(VectorStore);
  let points = 0;
  for (const collection of await vectors.listCollections())
    points += await vectors.count(collection.name, { tenantId: filter.tenantId, kbId: filter.kbId });
  return {
    documents: filter.documentId
      ? await count(dataSource, `SELECT COUNT(*) AS n FROM documents WHERE id = '${filter.documentId}'`)
      : await count(dataSource, `SELECT COUNT(*) AS n FROM documents WHERE ${where}`),
    // bytes of the scope's documents, and of the tenant's documents that no longer exist
    contents: await count(
      dataSource,
      `SELECT COUNT(*) AS n FROM document_contents c WHERE c.tenant_id = '${filter.tenantId}'${filter.documentId ? ` AND c.document_id = '${filter.documentId}'` : ''}
         AND (NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = c.document_id) OR EXISTS (SELECT 1 FROM documents d WHERE d.id = c.document_id${filter.kbId ? ` AND d.kb_id = '${filter.kbId}'` : ''}))`,
    ),
    chunks: await count(dataSource, `SELECT COUNT(*) AS n FROM chunks WHERE ${where}`),
    jobs: await count(dataSource, `SELECT COUNT(*) AS n FROM ingestion_jobs WHERE ${where}`),
    vectors: points,
    lexical: await app.app.get(LexicalIndex).count({ tenantId: filter.tenantId, kbId: filter.kbId }),
  };
}

const NOTHING = { documents: 0, contents: 0, chunks: 0, jobs: 0, vectors: 0, lexical: 0 };

for (const database of DATABASES) {
  describe(`orphan sweeper (${database})`, () => {
    let db: DatabaseHandle;
    let first: TestApp;
    let second: TestApp | undefined;

    beforeAll(async () => {
      db = await startDatabase(database);
      first = await startTestApp({ ...db.env, ...QUIET });
    }, 120_000);

    afterAll(async () => {
      await second?.close();
      await db?.stop();
    });

    it('removes at start-up what a crash left, re-queues a job running without a lease, and touches no live data', async () => {
      const live = await createTenantWithKeys(first.baseUrl, 'live');
      const liveClient = api(first.baseUrl, live.keys.admin);
      const liveKb = (await liveClient.post('/v1/knowledge-bases', { name: 'live' })).body.id as string;
      const liveDocs: string[] = [];
      for (const text of ['alpha beta gamma delta '.repeat(300), 'epsilon zeta eta theta '.repeat(300)]) {
        liveDocs.push((await liveClient.post(`/v1/knowledge-bases/${liveKb}/documents`, { content: text })).body.id);
      }
      const halfDeleted = await createTenantWithKeys(first.baseUrl, 'kb-purge-cut-short');
      const halfClient = api(first.baseUrl, halfDeleted.keys.admin);
      const doomedKb = (await halfClient.post('/v1/knowledge-bases', { name: 'doomed' })).body.id as string;
      const doomedDoc = (await halfClient.post(`/v1/knowledge-bases/${doomedKb}/documents`, { content: 'iota kappa lambda '.repeat(400) }))
        .body.id as string;
      const goneTenant = await createTenantWithKeys(first.baseUrl, 'tenant-purge-cut-short');
      const goneClient = api(first.baseUrl, goneTenant.keys.admin);
      const goneKb = (await goneClient.post('/v1/knowledge-bases', { name: 'gone' })).body.id as string;
      const goneDoc = (await goneClient.post(`/v1/knowledge-bases/${goneKb}/documents`, { content: 'mu nu xi omicron '.repeat(400) })).body
        .id as string;
      for (const id of liveDocs) expect((await waitForDocument(first.baseUrl, live.keys.read, liveKb, id)).status).toBe('indexed');
      expect((await waitForDocument(first.baseUrl, halfDeleted.keys.read, doomedKb, doomedDoc)).status).toBe('indexed');
      expect((await waitForDocument(first.baseUrl, goneTenant.keys.read, goneKb, goneDoc)).status).toBe('indexed');
      const liveBefore = await stored(first, { tenantId: live.id, kbId: liveKb });
      expect(liveBefore.chunks).toBeGreaterThan(0);
      expect(liveBefore.vectors).toBe(liveBefore.chunks);

      // a crash right after the KB row, and right after the tenant row, were deleted
      const dataSource = first.app.get(DataSource);
      await dataSource.query(`DELETE FROM knowledge_bases WHERE id = '${doomedKb}'`);
      await dataSource.query(`DELETE FROM api_keys WHERE tenant_id = '${goneTenant.id}'`);
      await dataSource.query(`DELETE FROM tenants WHERE id = '${goneTenant.id}'`);
      // a document deleted in the live KB whose chunk, bytes and index entries stayed
      const deletedDoc = randomUUID();
      const chunkId = randomUUID();
      await dataSource.getRepository(ChunkEntity).insert({
        id: chunkId,
        tenantId: live.id,
        kbId: liveKb,
        documentId: deletedDoc,
        position: 0,
        text: 'stale chunk',
        tokenCount: 2,
        startOffset: 0,
        endOffset: 11,
        headingPath: [],
        status: 'indexed',
        createdAt: new Date().toISOString(),
      });
      await dataSource
        .getRepository(DocumentContentEntity)
        .insert({ documentId: deletedDoc, tenantId: live.id, contentBase64: 'c3RhbGU=' });
      const collection = await first.app.get(IndexCleaner).collectionFor('offline-hash-v2');
      const vector = new Float32Array(
        (await first.app.get(VectorStore).listCollections()).find((c) => c.name === collection)!.dimension,
      ).fill(0.1);
      await first.app
        .get(VectorStore)
        .upsert(collection, [{ id: chunkId, tenantId: live.id, kbId: liveKb, documentId: deletedDoc, vector }]);
      await first.app
        .get(LexicalIndex)
        .upsert([{ id: chunkId, tenantId: live.id, kbId: liveKb, documentId: deletedDoc, text: 'stale chunk' }]);
      // a live document whose job was left running without a lease (as the delete race left them)
      const stuckDoc = liveDocs[0];
      await dataSource.query(`UPDATE documents SET status = 'queued' WHERE id = '${stuckDoc}'`);
      await dataSource.query(
        `UPDATE ingestion_jobs SET status = 'running', lease_owner = NULL, lease_expires_at = NULL WHERE document_id = '${stuckDoc}'`,
      );

      expect((await stored(first, { tenantId: halfDeleted.id, kbId: doomedKb })).documents).toBe(1);
      expect((await stored(first, { tenantId: live.id, kbId: liveKb, documentId: deletedDoc })).vectors).toBeGreaterThan(0);
      // the document quota counts live documents only: the doomed KB's document does not count
      const otherKb = (await halfClient.post('/v1/knowledge-bases', { name: 'other' })).body.id as string;
      expect((await api(first.baseUrl, TEST_ADMIN_KEY).patch(`/v1/tenants/${halfDeleted.id}`, { max_documents: 1 })).status).toBe(200);
      expect((await halfClient.post(`/v1/knowledge-bases/${otherKb}/documents`, { content: 'the one live document' })).status).toBe(202);
      expect((await halfClient.post(`/v1/knowledge-bases/${otherKb}/documents`, { content: 'over the quota' })).status).toBe(429);

      await first.app.close();
      second = await startTestApp({ ...db.env, ...QUIET, DATA_DIR: first.dataDir });
      const sweptDataSource = second.app.get(DataSource);
      // joins the start-up sweep under way
      await second.app.get(OrphanSweeper).sweep();
      await waitForDocument(second.baseUrl, live.keys.read, liveKb, stuckDoc);

      expect(await stored(second, { tenantId: halfDeleted.id, kbId: doomedKb })).toEqual(NOTHING);
      expect(await stored(second, { tenantId: goneTenant.id })).toEqual(NOTHING);
      expect(await count(sweptDataSource, `SELECT COUNT(*) AS n FROM knowledge_bases WHERE tenant_id = '${goneTenant.id}'`)).toBe(0);
      expect(await count(sweptDataSource, `SELECT COUNT(*) AS n FROM document_contents WHERE document_id = '${deletedDoc}'`)).toBe(0);
      const vectors = second.app.get(VectorStore);
      let stalePoints = 0;
      for (const c of await vectors.listCollections())
        stalePoints += (await vectors.search({ collection: c.name, tenantId: live.id, kbIds: [liveKb], vector, topK: 100 })).filter(
          (hit) => hit.documentId === deletedDoc,
        ).length;
      expect(stalePoints).toBe(0);
      // live data as it was; the stuck job ran again and its document is indexed
      expect(await stored(second, { tenantId: live.id, kbId: liveKb })).toEqual(liveBefore);
      const docs = await api(second.baseUrl, live.keys.read).get(`/v1/knowledge-bases/${liveKb}/documents`);
      expect(docs.body.items.map((d: { status: string }) => d.status)).toEqual(['indexed', 'indexed']);
      expect(await count(sweptDataSource, `SELECT COUNT(*) AS n FROM ingestion_jobs WHERE status IN ('queued', 'running')`)).toBe(0);
      expect((await stored(second, { tenantId: halfDeleted.id })).documents).toBe(1);
    }, 120_000);
  });
}
