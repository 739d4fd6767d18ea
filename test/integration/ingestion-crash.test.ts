import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listAllDocuments } from '../support/ingestion-client';
import { waitFor } from '../support/ports';
import { generatedAdminKey, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api } from '../support/test-app';

const DOCUMENTS = 240;

/** A paragraph per document, distinct words so every document has its own hash and several chunks. */
function documentText(i: number): string {
  const words = Array.from({ length: 400 }, (_, w) => `term${(i * 7919 + w * 104729) % 50000}`);
  return `# Document ${i}\n\n${words.slice(0, 200).join(' ')}.\n\n## Part two\n\n${words.slice(200).join(' ')}.`;
}

function countRows(file: string, sql: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return Number((db.prepare(sql).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

describe('ingestion survives kill -9 of the service', () => {
  let service: ServiceProcess | undefined;

  afterAll(async () => {
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('resumes after a crash: every document ends indexed exactly once, chunk, vector and lexical counts match', async () => {
    const env = { INGESTION_LEASE_MS: '2000', INGESTION_CONCURRENCY: '2', LOG_LEVEL: 'warn', OTEL_SDK_DISABLED: 'true' };
    service = await startServiceProcess(env);
    const dataDir = service.dataDir;
    const admin = api(service.baseUrl, generatedAdminKey(dataDir));
    const tenant = await admin.post('/v1/tenants', { name: 'crash' });
    const key = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'w', scopes: ['admin'] })).body.key as string;
    const client = api(service.baseUrl, key);
    const kb = await client.post('/v1/knowledge-bases', {
      name: 'crash-kb',
      chunker: { type: 'recursive', chunk_size: 64, chunk_overlap: 8 },
    });
    expect(kb.status).toBe(201);
    const kbId = kb.body.id as string;

    const posted: string[] = [];
    for (let start = 0; start < DOCUMENTS; start += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) => client.post(`/v1/knowledge-bases/${kbId}/documents`, { content: documentText(start + j) })),
      );
      for (const res of batch) {
        expect(res.status).toBe(202);
        posted.push(res.body.id);
      }
    }
    // kill while some documents are indexed and others are not
    await waitFor(
      async () => (await listAllDocuments(service!.baseUrl, key, kbId, 'indexed')).length >= 10,
      30_000,
      'the first documents to be indexed',
    );
    await service.kill();
    const sqlite = path.join(dataDir, 'self-rag.sqlite');
    const indexedAtCrash = countRows(sqlite, `SELECT COUNT(*) AS n FROM documents WHERE status = 'indexed'`);
    expect(indexedAtCrash).toBeLessThan(DOCUMENTS);

    service = await startServiceProcess(env, { dataDir });
    await waitFor(
      async () => (await listAllDocuments(service!.baseUrl, key, kbId, 'indexed')).length === DOCUMENTS,
      60_000,
      'every document to be indexed after the restart',
    );
    const documents = await listAllDocuments(service.baseUrl, key, kbId);
    expect(documents).toHaveLength(DOCUMENTS);
    expect(new Set(documents.map((d) => d.id))).toEqual(new Set(posted));
    const expectedChunks = documents.reduce((sum, d) => sum + d.chunk_count, 0);
    expect(expectedChunks).toBeGreaterThan(DOCUMENTS);
    await service.stop();

    expect(countRows(sqlite, `SELECT COUNT(*) AS n FROM chunks`)).toBe(expectedChunks);
    expect(
      countRows(
        sqlite,
        `SELECT COUNT(*) AS n FROM (SELECT document_id, position FROM chunks GROUP BY document_id, position HAVING COUNT(*) > 1)`,
      ),
    ).toBe(0);
    expect(countRows(sqlite, `SELECT COUNT(*) AS n FROM ingestion_jobs WHERE status NOT IN ('succeeded')`)).toBe(0);
    expect(countRows(path.join(dataDir, 'lexical-index.sqlite'), `SELECT COUNT(*) AS n FROM lexical_chunks`)).toBe(expectedChunks);
    expect(countRows(path.join(dataDir, 'vectors.sqlite'), `SELECT COUNT(*) AS n FROM vector_points`)).toBe(expectedChunks);
  }, 150_000);
});
