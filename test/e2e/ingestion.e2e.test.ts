import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { LexicalIndex } from '../../src/lexical-index/lexical-index.port';
import { VectorStore } from '../../src/vector-store/vector-store.port';
import { CHINESE_TEXT, HTML_PAGE, MARKDOWN_DOC, binaryBytes, makeDocx, makePdf } from '../fixtures/documents';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { listAllDocuments, uploadFile, waitForDocument } from '../support/ingestion-client';
import { startRedis, type RedisServer } from '../support/redis-server';
import { api, createTenantWithKeys, startTestApp, TEST_ADMIN_KEY, type TestApp } from '../support/test-app';

const QUEUES = ['database', 'bullmq'] as const;
const MATRIX = DATABASES.flatMap((database) => QUEUES.map((queue) => [database, queue] as const));

describe.each(MATRIX)('ingestion API on %s with the %s queue', (database, queue) => {
  let db: DatabaseHandle;
  let redis: RedisServer | undefined;
  let app: TestApp;
  let tenantA: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let tenantB: Awaited<ReturnType<typeof createTenantWithKeys>>;
  let kbId: string;

  const writer = () => api(app.baseUrl, tenantA.keys.write);
  const docsPath = (kb = kbId) => `/v1/knowledge-bases/${kb}/documents`;

  /** chunk rows, vectors and lexical entries of a KB, straight from the stores */
  async function indexCounts(kb: string, tenantId = tenantA.id) {
    const dataSource = app.app.get(DataSource);
    const [{ count }] = await dataSource.query(`SELECT COUNT(*) AS count FROM chunks WHERE kb_id = '${kb}'`);
    const vectors = app.app.get(VectorStore);
    let vectorCount = 0;
    for (const collection of await vectors.listCollections()) vectorCount += await vectors.count(collection.name, { tenantId, kbId: kb });
    return { chunks: Number(count), vectors: vectorCount, lexical: await app.app.get(LexicalIndex).count({ tenantId, kbId: kb }) };
  }

  beforeAll(async () => {
    db = await startDatabase(database);
    if (queue === 'bullmq') redis = await startRedis();
    app = await startTestApp({
      ...db.env,
      ...(redis ? { REDIS_URL: redis.url } : {}),
      MAX_UPLOAD_BYTES: '262144',
      INGESTION_LEASE_MS: '5000',
    });
    tenantA = await createTenantWithKeys(app.baseUrl, 'ingest-a');
    tenantB = await createTenantWithKeys(app.baseUrl, 'ingest-b');
    const kb = await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', {
      name: 'docs',
      chunker: { type: 'markdown', chunk_size: 128, chunk_overlap: 16 },
    });
    expect(kb.status).toBe(201);
    kbId = kb.body.id;
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    await db?.stop();
  });

  it('queues a JSON upload with 202 and indexes it with chunks, vectors and lexical entries', async () => {
    const res = await writer().post(docsPath(), { title: 'Deployment guide', content: MARKDOWN_DOC, metadata: { lang: 'en' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      status: 'queued',
      progress: 0,
      chunk_count: 0,
      content_type: 'md',
      title: 'Deployment guide',
      metadata: { lang: 'en' },
    });
    const done = await waitForDocument(app.baseUrl, tenantA.keys.read, kbId, res.body.id);
    expect(done).toMatchObject({ status: 'indexed', progress: 1, error: null });
    expect(done.chunk_count).toBeGreaterThan(1);
    const counts = await indexCounts(kbId);
    expect(counts.chunks).toBe(done.chunk_count);
    expect(counts.vectors).toBe(done.chunk_count);
    expect(counts.lexical).toBe(done.chunk_count);
  });

  it('answers the same content in the same KB with 200 and the existing document, storing nothing twice', async () => {
    const first = await writer().post(docsPath(), { content: CHINESE_TEXT });
    expect(first.status).toBe(202);
    const again = await Promise.all([
      writer().post(docsPath(), { content: CHINESE_TEXT, title: 'other title' }),
      writer().post(docsPath(), { content: CHINESE_TEXT }),
    ]);
    for (const res of again) {
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(first.body.id);
    }
    const all = await listAllDocuments(app.baseUrl, tenantA.keys.read, kbId);
    expect(all.filter((d) => d.content_hash === first.body.content_hash)).toHaveLength(1);
    expect((await waitForDocument(app.baseUrl, tenantA.keys.read, kbId, first.body.id)).status).toBe('indexed');
  });

  it('ingests every supported file type through multipart, detected by content', async () => {
    const files: Array<[string, Buffer | string, string]> = [
      ['notes.txt', 'Plain notes about the quarterly planning meeting and its decisions.', 'txt'],
      ['guide.md', `${MARKDOWN_DOC}\n\n## Extra ${queue} ${database}\nMore words.`, 'md'],
      ['page.html', HTML_PAGE, 'html'],
      ['report.pdf', await makePdf([['Quarterly report', `Revenue grew on ${database}.`]], 'Report'), 'pdf'],
      ['letter.docx', await makeDocx(), 'docx'],
    ];
    for (const [name, bytes, type] of files) {
      const res = await uploadFile(app.baseUrl, tenantA.keys.write, kbId, name, bytes, { metadata: JSON.stringify({ source: name }) });
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(202);
      expect(res.body).toMatchObject({ content_type: type, file_name: name, metadata: { source: name } });
      const done = await waitForDocument(app.baseUrl, tenantA.keys.read, kbId, res.body.id);
      expect(done.status, `${name}: ${done.error}`).toBe('indexed');
      expect(done.chunk_count).toBeGreaterThan(0);
    }
  });

  it('refuses bad input with clear problems and writes nothing', async () => {
    const before = (await listAllDocuments(app.baseUrl, tenantA.keys.read, kbId)).length;
    const empty = await uploadFile(app.baseUrl, tenantA.keys.write, kbId, 'empty.txt', Buffer.alloc(0));
    expect(empty.status).toBe(422);
    expect(empty.headers.get('content-type')).toContain('application/problem+json');
    expect((await writer().post(docsPath(), { content: '' })).status).toBe(422);
    expect((await writer().post(docsPath(), { title: 'no content' })).body.errors[0].field).toBe('content');
    expect((await writer().post(docsPath(), { content: 'x', metadata: [1] })).status).toBe(422);
    const badMetadata = await uploadFile(app.baseUrl, tenantA.keys.write, kbId, 'a.txt', 'hello there', { metadata: '{not json' });
    expect(badMetadata.status).toBe(422);
    const binary = await uploadFile(app.baseUrl, tenantA.keys.write, kbId, 'binary.txt', binaryBytes());
    expect(binary.status).toBe(415);
    expect(binary.body.type).toMatch(/unsupported-media-type$/);
    const image = await uploadFile(
      app.baseUrl,
      tenantA.keys.write,
      kbId,
      'photo.png',
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
    );
    expect(image.status).toBe(415);
    const huge = await uploadFile(app.baseUrl, tenantA.keys.write, kbId, 'huge.txt', 'a'.repeat(300_000));
    expect(huge.status).toBe(413);
    const unknownKb = await writer().post(docsPath('00000000-0000-4000-8000-000000000000'), { content: 'hello' });
    expect(unknownKb.status).toBe(404);
    expect((await writer().post(docsPath('not-a-uuid'), { content: 'hello' })).status).toBe(404);
    expect((await api(app.baseUrl, tenantB.keys.write).post(docsPath(), { content: 'sneaky' })).status).toBe(404);
    expect((await api(app.baseUrl, tenantB.keys.read).get(docsPath())).status).toBe(404);
    expect((await api(app.baseUrl, tenantA.keys.read).post(docsPath(), { content: 'read key' })).status).toBe(403);
    expect((await listAllDocuments(app.baseUrl, tenantA.keys.read, kbId)).length).toBe(before);
  });

  it('marks a corrupt pdf failed with the reason and keeps the worker running', async () => {
    const corrupt = Buffer.concat([Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog'), binaryBytes(256)]);
    const res = await uploadFile(app.baseUrl, tenantA.keys.write, kbId, 'broken.pdf', corrupt);
    expect(res.status).toBe(202);
    const done = await waitForDocument(app.baseUrl, tenantA.keys.read, kbId, res.body.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/corrupt|no_text/);
    expect(done.chunk_count).toBe(0);
    const after = await writer().post(docsPath(), { content: `still working on ${database} ${queue}` });
    expect((await waitForDocument(app.baseUrl, tenantA.keys.read, kbId, after.body.id)).status).toBe('indexed');
    const failed = await listAllDocuments(app.baseUrl, tenantA.keys.read, kbId, 'failed');
    expect(failed.map((d) => d.id)).toEqual([res.body.id]);
  });

  it('pages the document list with a cursor and filters by status', async () => {
    const first = await api(app.baseUrl, tenantA.keys.read).get(`${docsPath()}?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    const second = await api(app.baseUrl, tenantA.keys.read).get(`${docsPath()}?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
    expect((await api(app.baseUrl, tenantA.keys.read).get(`${docsPath()}?status=bogus`)).status).toBe(422);
    const indexed = await listAllDocuments(app.baseUrl, tenantA.keys.read, kbId, 'indexed');
    expect(indexed.every((d) => d.status === 'indexed')).toBe(true);
  });

  it('deletes a document with its chunks, vectors and lexical entries; another tenant gets 404', async () => {
    const kb = await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', { name: 'to-delete-docs' });
    const res = await writer().post(docsPath(kb.body.id), { content: MARKDOWN_DOC });
    const done = await waitForDocument(app.baseUrl, tenantA.keys.read, kb.body.id, res.body.id);
    expect((await indexCounts(kb.body.id)).vectors).toBe(done.chunk_count);
    expect((await api(app.baseUrl, tenantB.keys.write).delete(`${docsPath(kb.body.id)}/${res.body.id}`)).status).toBe(404);
    expect((await writer().delete(`${docsPath(kb.body.id)}/${res.body.id}`)).status).toBe(204);
    expect((await writer().get(`${docsPath(kb.body.id)}/${res.body.id}`)).status).toBe(404);
    expect(await indexCounts(kb.body.id)).toEqual({ chunks: 0, vectors: 0, lexical: 0 });
    // the same content may be uploaded again after the delete
    expect((await writer().post(docsPath(kb.body.id), { content: MARKDOWN_DOC })).status).toBe(202);
  });

  it('re-indexes one document, and all of a KB when its chunker changes, without duplicates', async () => {
    const kb = await api(app.baseUrl, tenantA.keys.admin).post('/v1/knowledge-bases', {
      name: 'reindex',
      chunker: { type: 'recursive', chunk_size: 256, chunk_overlap: 0 },
    });
    const ids: string[] = [];
    for (const content of [MARKDOWN_DOC, HTML_PAGE, `${CHINESE_TEXT}\n${MARKDOWN_DOC}`])
      ids.push((await writer().post(docsPath(kb.body.id), { content })).body.id);
    for (const id of ids) await waitForDocument(app.baseUrl, tenantA.keys.read, kb.body.id, id);
    const reindexed = await writer().post(`${docsPath(kb.body.id)}/${ids[0]}/reindex`);
    expect(reindexed.status).toBe(202);
    expect(reindexed.body.status).toBe('queued');
    expect((await waitForDocument(app.baseUrl, tenantA.keys.read, kb.body.id, ids[0])).status).toBe('indexed');

    const patched = await api(app.baseUrl, tenantA.keys.admin).patch(`/v1/knowledge-bases/${kb.body.id}`, {
      chunker: { type: 'fixed', chunk_size: 48, chunk_overlap: 8 },
    });
    expect(patched.status).toBe(200);
    let total = 0;
    for (const id of ids) {
      const done = await waitForDocument(app.baseUrl, tenantA.keys.read, kb.body.id, id);
      expect(done.status).toBe('indexed');
      total += done.chunk_count;
    }
    expect(await indexCounts(kb.body.id)).toEqual({ chunks: total, vectors: total, lexical: total });
    expect((await api(app.baseUrl, tenantB.keys.write).post(`${docsPath(kb.body.id)}/${ids[0]}/reindex`)).status).toBe(404);

    expect((await api(app.baseUrl, tenantA.keys.admin).delete(`/v1/knowledge-bases/${kb.body.id}`)).status).toBe(204);
    expect(await indexCounts(kb.body.id)).toEqual({ chunks: 0, vectors: 0, lexical: 0 });
  });

  it("refuses uploads past the tenant's max_documents with a 429 quota problem", async () => {
    const tenant = await createTenantWithKeys(app.baseUrl, 'small-tenant');
    expect((await api(app.baseUrl, TEST_ADMIN_KEY).patch(`/v1/tenants/${tenant.id}`, { max_documents: 2 })).status).toBe(200);
    const kb = await api(app.baseUrl, tenant.keys.admin).post('/v1/knowledge-bases', { name: 'quota' });
    const client = api(app.baseUrl, tenant.keys.write);
    expect((await client.post(docsPath(kb.body.id), { content: 'one' })).status).toBe(202);
    expect((await client.post(docsPath(kb.body.id), { content: 'two' })).status).toBe(202);
    const third = await client.post(docsPath(kb.body.id), { content: 'three' });
    expect(third.status).toBe(429);
    expect(third.body.type).toMatch(/quota-exceeded$/);
    expect((await client.post(docsPath(kb.body.id), { content: 'two' })).status).toBe(200);
  });

  it('documents the routes, multipart and the quota problem in OpenAPI', async () => {
    const doc = (await api(app.baseUrl).get('/docs-json')).body;
    const upload = doc.paths['/v1/knowledge-bases/{kb_id}/documents'].post;
    expect(Object.keys(upload.requestBody.content)).toEqual(expect.arrayContaining(['application/json', 'multipart/form-data']));
    expect(Object.keys(upload.responses)).toEqual(expect.arrayContaining(['200', '202', '413', '415', '422', '429']));
    expect(doc.paths['/v1/knowledge-bases/{kb_id}/documents/{doc_id}/reindex'].post).toBeDefined();
    expect(doc.paths['/v1/knowledge-bases/{kb_id}/documents/{doc_id}'].delete).toBeDefined();
  });
});
