import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chineseWithoutPunctuation,
  inflatingDocx,
  lyingDocx,
  makeFlateBombPdf,
  makeManyPagePdf,
  nestedHtml,
  oneWordText,
} from '../fixtures/hostile-documents';
import { uploadFile, waitForDocument } from '../support/ingestion-client';
import { waitFor } from '../support/ports';
import { generatedAdminKey, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api } from '../support/test-app';

const services: ServiceProcess[] = [];
afterEach(async () => {
  for (const service of services.splice(0)) {
    await service.kill();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
  }
});

async function start(env: Record<string, string> = {}, dataDir?: string): Promise<ServiceProcess> {
  const service = await startServiceProcess({ LOG_LEVEL: 'info', OTEL_SDK_DISABLED: 'true', ...env }, dataDir ? { dataDir } : {});
  services.push(service);
  return service;
}

/** A new tenant's admin-scoped key and a client with it. */
async function tenant(service: ServiceProcess, name: string) {
  const admin = api(service.baseUrl, generatedAdminKey(service.dataDir));
  const created = await admin.post('/v1/tenants', { name });
  const key = (await admin.post(`/v1/tenants/${created.body.id}/api-keys`, { name: 'k', scopes: ['admin'] })).body.key as string;
  return { key, client: api(service.baseUrl, key) };
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];

function jobRow(
  service: ServiceProcess,
  documentId: string,
): { stage: string | null; last_error: string | null; status: string } | undefined {
  const db = new Database(path.join(service.dataDir, 'self-rag.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT stage, last_error, status FROM ingestion_jobs WHERE document_id = ? ORDER BY created_at DESC LIMIT 1')
      .get(documentId) as never;
  } finally {
    db.close();
  }
}

describe('hostile documents on the embedded default: one tenant cannot stall or crash the service', () => {
  it('fails each hostile upload with its reason while another tenant is served, then memory comes back and the next document is indexed', async () => {
    const service = await start();
    const { key, client: attacker } = await tenant(service, 'attacker');
    const { client: victim } = await tenant(service, 'victim');
    const victimKb = (await victim.post('/v1/knowledge-bases', { name: 'victim' })).body.id as string;
    for (let i = 0; i < 10; i++)
      await victim.post(`/v1/knowledge-bases/${victimKb}/documents`, {
        content: `Vacation policy ${i}: employees accrue leave monthly and may work from home on Fridays.`,
      });
    await waitFor(
      async () => (await victim.get(`/v1/knowledge-bases/${victimKb}/documents?status=indexed`)).body.items.length === 10,
      30_000,
      'the victim’s documents',
    );

    const attackerKb = (await attacker.post('/v1/knowledge-bases', { name: 'bombs' })).body.id as string;
    const rssBefore = rssMiB(service.child.pid!);
    const hostile: Array<[string, Buffer]> = [
      ['bomb.docx', inflatingDocx()],
      ['lies.docx', lyingDocx()],
      ['pages.pdf', makeManyPagePdf(60_000)],
      // 1 MB whose content stream inflates to 1 GB: pdf.js alone grew the process by over 1 GB
      ['stream.pdf', makeFlateBombPdf(1024)],
      ['nested.html', nestedHtml(200_000)],
    ];
    const uploaded: Array<{ name: string; id?: string; status: number }> = [];
    for (const [name, bytes] of hostile) {
      const response = await uploadFile(service.baseUrl, key, attackerKb, name, bytes);
      uploaded.push({ name, id: response.body?.id, status: response.status });
    }

    // the victim's retrieve and /health, timed while the hostile documents are processed
    const retrieveMs: number[] = [];
    const healthMs: number[] = [];
    let done = false;
    const probing = (async () => {
      while (!done) {
        let started = performance.now();
        const answer = await victim.post('/v1/retrieve', { query: 'work from home', kb_ids: [victimKb], top_k: 3 });
        retrieveMs.push(performance.now() - started);
        expect(answer.status).toBe(200);
        started = performance.now();
        expect((await fetch(`${service.baseUrl}/health`)).status).toBe(200);
        healthMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const outcomes = new Map<string, any>();
    for (const item of uploaded) {
      if (item.status !== 202) {
        expect([413, 415, 422]).toContain(item.status);
        continue;
      }
      outcomes.set(item.name, await waitForDocument(service.baseUrl, key, attackerKb, item.id!, 240_000));
    }
    done = true;
    await probing;

    expect(service.child.exitCode).toBeNull();
    for (const [name, document] of outcomes) {
      if (document.status === 'failed') expect(document.error, name).toMatch(/too_large|parser_stopped|no_text|corrupt/);
      else expect(document.status, name).toBe('indexed');
    }
    expect(outcomes.get('bomb.docx')?.error).toBe('too_large: the docx inflates beyond 50 MB (ZIP_MAX_UNCOMPRESSED_BYTES)');
    expect(outcomes.get('pages.pdf')?.error).toBe('too_large: the pdf has 60000 pages, more than PDF_MAX_PAGES (5000)');
    expect(outcomes.get('stream.pdf')?.error).toBe("too_large: the pdf's streams inflate beyond 200 MB (PDF_MAX_INFLATED_BYTES)");
    expect(outcomes.get('nested.html')?.error).toBe('too_large: the html nests elements deeper than HTML_MAX_DEPTH (512)');
    const figures = {
      retrieve_p50_ms: Math.round(quantile(retrieveMs, 0.5)),
      retrieve_p95_ms: Math.round(quantile(retrieveMs, 0.95)),
      retrieve_max_ms: Math.round(Math.max(...retrieveMs)),
      health_max_ms: Math.round(Math.max(...healthMs)),
      probes: retrieveMs.length,
    };
    console.log('hostile documents, the victim’s latency while they were processed:', JSON.stringify(figures));
    // loose bounds (this machine is shared): a parse on the event loop stalled these for minutes
    expect(figures.retrieve_max_ms).toBeLessThan(3_000);
    expect(figures.health_max_ms).toBeLessThan(2_000);

    const next = await attacker.post(`/v1/knowledge-bases/${attackerKb}/documents`, { content: 'An ordinary document after the bombs.' });
    expect((await waitForDocument(service.baseUrl, key, attackerKb, next.body.id, 60_000)).status).toBe('indexed');

    // idle parser threads stop, and take their heaps with them
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    const rssAfter = rssMiB(service.child.pid!);
    console.log('hostile documents, RSS:', JSON.stringify({ before_mib: Math.round(rssBefore), after_30s_mib: Math.round(rssAfter) }));
    expect(rssAfter - rssBefore).toBeLessThan(600);

    // text without split points is chunked in linear time now: indexed (thousands of chunks, which
    // stay in the indexes, so they come after the memory check) or failed with a reason, never a stall
    for (const [name, bytes] of [
      ['word.txt', oneWordText(5 * 1024 * 1024)],
      ['chinese.txt', chineseWithoutPunctuation(1_000_000)],
    ] as const) {
      const started = performance.now();
      const upload = await uploadFile(service.baseUrl, key, attackerKb, name, bytes);
      expect(upload.status).toBe(202);
      const document = await waitForDocument(service.baseUrl, key, attackerKb, upload.body.id, 240_000);
      expect(['indexed', 'failed'], `${name}: ${document.error}`).toContain(document.status);
      console.log(
        `hostile documents, ${name}:`,
        document.status,
        `${Math.round(performance.now() - started)} ms`,
        document.chunk_count ?? '',
        document.error ?? '',
      );
      expect((await fetch(`${service.baseUrl}/health`)).status).toBe(200);
    }

    // SIGTERM still stops it within its shutdown timeout
    const stopping = performance.now();
    expect(await service.stop()).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(12_000);
  }, 420_000);

  it('quarantines a document that stops its parser twice, and keeps serving throughout', async () => {
    const service = await start({ PARSE_TIMEOUT_MS: '400' });
    const { key, client } = await tenant(service, 'q');
    const kb = (await client.post('/v1/knowledge-bases', { name: 'q' })).body.id as string;
    const upload = await uploadFile(service.baseUrl, key, kb, 'slow.pdf', makeManyPagePdf(4_000));
    expect(upload.status).toBe(202);
    let healthChecks = 0;
    const document = await (async () => {
      for (;;) {
        expect((await fetch(`${service.baseUrl}/health`)).status).toBe(200);
        healthChecks++;
        const current = (await client.get(`/v1/knowledge-bases/${kb}/documents/${upload.body.id}`)).body;
        if (current.status === 'failed' || current.status === 'indexed') return current;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    expect(healthChecks).toBeGreaterThan(3);
    expect(document.status).toBe('failed');
    expect(document.error).toMatch(
      /^parser_stopped: stopped a parser twice, quarantined: parsing took longer than PARSE_TIMEOUT_MS \(400 ms\)/,
    );
    expect(jobRow(service, upload.body.id)).toMatchObject({ status: 'failed' });
    expect(service.child.exitCode).toBeNull();
  }, 120_000);

  it('counts a process death while parsing against the document: the second death quarantines it, and a restart listens before it claims', async () => {
    const env = { INGESTION_LEASE_MS: '2000', PARSE_TIMEOUT_MS: '120000' };
    let service = await start(env);
    const { key, client } = await tenant(service, 'crash');
    const kb = (await client.post('/v1/knowledge-bases', { name: 'crash' })).body.id as string;
    const upload = await uploadFile(service.baseUrl, key, kb, 'slow.pdf', makeManyPagePdf(4_000));
    expect(upload.status).toBe(202);
    const dataDir = service.dataDir;
    for (let death = 1; death <= 2; death++) {
      // the job says it is parsing once a parse has run for 250 ms; after a restart the row still
      // says so from before the death until the new attempt marks it (its last error then names
      // the death), so the second kill waits for this attempt's own mark
      await waitFor(
        async () => {
          const row = jobRow(service, upload.body.id);
          return row?.stage === 'parse' && (death === 1 || (row.last_error ?? '').startsWith('parser_stopped:'));
        },
        30_000,
        `the document to be parsing (death ${death})`,
      );
      await service.kill();
      services.splice(services.indexOf(service), 1);
      service = await start(env, dataDir);
      const listening = service.output.findIndex((line) => line.includes('"listening"'));
      await waitFor(async () => service.output.some((line) => line.includes('ingestion workers started')), 10_000, 'the workers to start');
      expect(listening).toBeGreaterThanOrEqual(0);
      expect(service.output.findIndex((line) => line.includes('ingestion workers started'))).toBeGreaterThan(listening);
    }
    const document = await waitForDocument(service.baseUrl, key, kb, upload.body.id, 30_000);
    expect(document.status).toBe('failed');
    expect(document.error).toBe(
      'parser_stopped: stopped a parser twice, quarantined: the service stopped while parsing it (the service stopped while parsing it)',
    );
  }, 180_000);
});
