import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_NODE_ARGS } from '../../test/support/service-process';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const ADMIN_KEY = 'bench-platform-admin-key-0123456789';

export interface BenchService {
  baseUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The built service (`dist/`, as production runs it) as a child process on a fresh temp DATA_DIR
 * and a free loopback port; the embedded default unless `env` says otherwise.
 */
export async function startService(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BenchService> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
  const dataDir = mkdtempSync(join(tmpdir(), 'selfrag-bench-'));
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, ...SERVICE_NODE_ARGS], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      // not scraped here; 0 so parallel runs do not collide on 9464
      METRICS_PORT: '0',
      DATA_DIR: dataDir,
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_RPS: '1000000',
      RATE_LIMIT_TENANT_RPS: '1000000',
      RATE_LIMIT_MANAGEMENT_RPS: '1000000',
      INGESTION_CONCURRENCY: '2',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${errors.join('').slice(-2000)}`);
    try {
      if ((await fetch(`${baseUrl}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the service did not answer /health within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** A tiny JSON client for the bench scripts. */
export function client(baseUrl: string, key: string) {
  return async <T = any>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}

export interface CorpusDocument {
  id: string;
  title: string;
  text: string;
  metadata?: Record<string, unknown>;
}

/**
 * A tenant with admin and read keys, a KB, and the documents uploaded through the documents API
 * (`metadata.source_id` = the corpus id); resolves when every document is indexed.
 */
export async function loadCorpus(
  baseUrl: string,
  documents: CorpusDocument[],
  options: {
    kbName?: string;
    chunker?: Record<string, unknown>;
    concurrency?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<{ kbId: string; readKey: string; sourceIds: Map<string, string> }> {
  const admin = client(baseUrl, ADMIN_KEY);
  const tenant = await admin('POST', '/v1/tenants', { name: `bench-${Date.now()}` });
  const keys: Record<string, string> = {};
  for (const scope of ['admin', 'read'] as const) {
    const created = await admin('POST', `/v1/tenants/${tenant.body.id}/api-keys`, { name: scope, scopes: [scope] });
    keys[scope] = created.body.key;
  }
  const tenantAdmin = client(baseUrl, keys.admin);
  const kb = await tenantAdmin('POST', '/v1/knowledge-bases', {
    name: options.kbName ?? 'corpus',
    ...(options.chunker ? { chunker: options.chunker } : {}),
  });
  if (kb.status !== 201) throw new Error(`KB creation failed: ${kb.status} ${JSON.stringify(kb.body)}`);
  const kbId: string = kb.body.id;
  /** the service's document id → the corpus id */
  const sourceIds = new Map<string, string>();
  let next = 0;
  const upload = async () => {
    while (next < documents.length) {
      const document = documents[next++];
      // the indexed text is title and body, as BEIR's baselines index a document
      const content = document.title ? `${document.title}\n${document.text}` : document.text;
      const res = await tenantAdmin('POST', `/v1/knowledge-bases/${kbId}/documents`, {
        title: document.title || undefined,
        content,
        metadata: { source_id: document.id, ...document.metadata },
      });
      if (res.status !== 202 && res.status !== 200)
        throw new Error(`upload of ${document.id} failed: ${res.status} ${JSON.stringify(res.body)}`);
      sourceIds.set(res.body.id, document.id);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, upload));
  for (;;) {
    const pending = await countDocuments(tenantAdmin, kbId, ['queued', 'processing']);
    const failed = await countDocuments(tenantAdmin, kbId, ['failed']);
    if (failed > 0) throw new Error(`${failed} documents failed to index`);
    options.onProgress?.(documents.length - pending, documents.length);
    if (pending === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { kbId, readKey: keys.read, sourceIds };
}

async function countDocuments(call: ReturnType<typeof client>, kbId: string, statuses: string[]): Promise<number> {
  let count = 0;
  for (const status of statuses) {
    let cursor: string | null = null;
    do {
      const page: { body: { items: unknown[]; next_cursor: string | null } } = await call(
        'GET',
        `/v1/knowledge-bases/${kbId}/documents?status=${status}&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      );
      count += page.body.items.length;
      cursor = page.body.next_cursor;
    } while (cursor);
  }
  return count;
}
