/**
 * `npm run bench:ingest`: ingests SciFact (5,183 documents) through the real pipeline: the built
 * service started like production as a child process on a fresh DATA_DIR (embedded default),
 * every document posted as JSON over HTTP, then polled until none is queued or processing.
 * Prints documents/s, chunks/s and the service's peak RSS (VmHWM).
 *
 * BENCH_CPU_PROF_DIR: write V8 CPU profiles of the service (main and worker threads) there.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCorpus } from '../quality/beir';
import { datasetDir } from '../quality/datasets';
import { SERVICE_NODE_ARGS } from '../../test/support/service-process';

const ROOT = path.resolve(__dirname, '..', '..');
const UPLOAD_CONCURRENCY = Number(process.env.BENCH_UPLOAD_CONCURRENCY ?? 16);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  const corpus = loadCorpus(path.join(datasetDir('scifact'), 'corpus.jsonl.gz')).slice(0, Number(process.env.BENCH_LIMIT ?? Infinity));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-bench-ingest-'));
  const port = await freePort();
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_RPS: '1000000',
      RATE_LIMIT_MANAGEMENT_RPS: '1000000',
      ...(profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(profileDir)}` } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/health`).catch(() => undefined))?.ok) break;
      if (i > 300 || child.exitCode !== null) throw new Error('the service did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const adminKey = fs.readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim();
    const call = async (key: string, method: string, route: string, body?: unknown) => {
      const response = await fetch(`${base}${route}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
      return (await response.json()) as any;
    };
    const tenant = await call(adminKey, 'POST', '/v1/tenants', { name: 'bench' });
    const key = (await call(adminKey, 'POST', `/v1/tenants/${tenant.id}/api-keys`, { name: 'bench', scopes: ['admin'] })).key as string;
    const kb = await call(key, 'POST', '/v1/knowledge-bases', { name: 'scifact' });

    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: UPLOAD_CONCURRENCY }, async () => {
        while (next < corpus.length) {
          const doc = corpus[next++];
          await call(key, 'POST', `/v1/knowledge-bases/${kb.id}/documents`, {
            title: doc.title || undefined,
            content: doc.text || doc.title,
            metadata: { beir_id: doc.id },
          });
        }
      }),
    );
    const uploaded = performance.now();
    process.stdout.write(`uploaded ${corpus.length} documents in ${((uploaded - started) / 1000).toFixed(1)} s\n`);
    const pending = async (status: string) =>
      (await call(key, 'GET', `/v1/knowledge-bases/${kb.id}/documents?status=${status}&limit=1`)).items.length;
    while ((await pending('queued')) + (await pending('processing')) > 0) await new Promise((r) => setTimeout(r, 200));
    const seconds = (performance.now() - started) / 1000;

    let indexed = 0;
    let failed = 0;
    let chunks = 0;
    let cursor: string | null = null;
    do {
      const page: any = await call(key, 'GET', `/v1/knowledge-bases/${kb.id}/documents?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      for (const d of page.items) {
        if (d.status === 'indexed') indexed++;
        else failed++;
        chunks += d.chunk_count;
      }
      cursor = page.next_cursor;
    } while (cursor);
    const report = {
      documents: corpus.length,
      indexed,
      failed,
      chunks,
      seconds: Number(seconds.toFixed(1)),
      documents_per_second: Number((indexed / seconds).toFixed(1)),
      chunks_per_second: Number((chunks / seconds).toFixed(1)),
      peak_rss_mb: Number(peakRssMb(child.pid!).toFixed(0)),
      target: 'all indexed in <= 60 s',
      met: indexed === corpus.length && seconds <= 60,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (!report.met) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:ingest failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
