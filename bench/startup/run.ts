/**
 * `npm run bench:startup`: the built service (dist/, started exactly as `start:prod`, no TypeScript
 * build in the time) on the embedded default. Prints, as medians of BENCH_ROUNDS launches:
 * - the time from process launch to the first 200 on /ready, on a fresh DATA_DIR (first start:
 *   migrations, generated admin key) and again on that existing DATA_DIR (a pod's restart);
 * - idle RSS (VmRSS) IDLE_MS after /ready;
 * then ingests SciFact (BENCH_LIMIT documents, all by default) into one KB and prints the idle RSS
 * after the ingest and after a restart on the ingested DATA_DIR.
 * Data: BENCH_DATA_DIR or DATA_SETS_DIR (the data sets beside the checkout otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../test/support/ports';
import { REPO_ROOT, SERVICE_NODE_ARGS } from '../../test/support/service-process';
import { readCorpus, SHARED_DATA } from '../support/corpus';
import { median } from '../support/load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const LIMIT = Number(process.env.BENCH_LIMIT ?? Infinity);
const TARGETS = { readySeconds: 2, idleRssMiB: 200 };

interface Launched {
  child: ChildProcess;
  baseUrl: string;
  readyMs: number;
  stop(): Promise<void>;
}

async function launch(dataDir: string): Promise<Launched> {
  const port = await freePort();
  const metricsPort = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_RPS: '1000000',
      RATE_LIMIT_TENANT_RPS: '1000000',
      RATE_LIMIT_MANAGEMENT_RPS: '1000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    if (performance.now() - started > 60_000) throw new Error('no 200 on /ready within 60 s');
    const ok = await fetch(`${baseUrl}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const readyMs = performance.now() - started;
  return {
    child,
    baseUrl,
    readyMs,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
}

async function idleRss(service: Launched): Promise<number> {
  await new Promise((r) => setTimeout(r, IDLE_MS));
  return rssMiB(service.child.pid!);
}

async function ingestSciFact(service: Launched, dataDir: string): Promise<{ documents: number; seconds: number }> {
  const call = async (key: string, method: string, route: string, body?: unknown) => {
    const response = await fetch(`${service.baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return (await response.json()) as any;
  };
  const adminKey = fs.readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim();
  const tenant = await call(adminKey, 'POST', '/v1/tenants', { name: 'bench' });
  const key = (await call(adminKey, 'POST', `/v1/tenants/${tenant.id}/api-keys`, { name: 'bench', scopes: ['admin'] })).key as string;
  const kb = await call(key, 'POST', '/v1/knowledge-bases', { name: 'scifact' });
  const corpus = readCorpus(path.join(SHARED_DATA, 'scifact')).slice(0, LIMIT);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < corpus.length) {
        const doc = corpus[next++];
        await call(key, 'POST', `/v1/knowledge-bases/${kb.id}/documents`, {
          title: doc.title || undefined,
          content: doc.text || doc.title,
        });
      }
    }),
  );
  const pending = async (status: string) =>
    (await call(key, 'GET', `/v1/knowledge-bases/${kb.id}/documents?status=${status}&limit=1`)).items.length;
  while ((await pending('queued')) + (await pending('processing')) > 0) await new Promise((r) => setTimeout(r, 250));
  return { documents: corpus.length, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
  const rows: Array<{ firstMs: number; firstRss: number; restartMs: number; restartRss: number }> = [];
  let lastDir = '';
  for (let round = 0; round < ROUNDS; round += 1) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-startup-'));
    const first = await launch(dataDir);
    const firstRss = await idleRss(first);
    await first.stop();
    const restart = await launch(dataDir);
    const restartRss = await idleRss(restart);
    await restart.stop();
    rows.push({ firstMs: first.readyMs, firstRss, restartMs: restart.readyMs, restartRss });
    process.stdout.write(
      `round ${round + 1}: /ready after ${first.readyMs.toFixed(0)} ms (fresh DATA_DIR), ${restart.readyMs.toFixed(0)} ms (restart); idle RSS ${firstRss.toFixed(0)} / ${restartRss.toFixed(0)} MiB\n`,
    );
    if (lastDir) fs.rmSync(lastDir, { recursive: true, force: true });
    lastDir = dataDir;
  }

  const ingesting = await launch(lastDir);
  const ingest = await ingestSciFact(ingesting, lastDir);
  const afterIngestRss = await idleRss(ingesting);
  await ingesting.stop();
  const reloaded = await launch(lastDir);
  const reloadedRss = await idleRss(reloaded);
  await reloaded.stop();
  fs.rmSync(lastDir, { recursive: true, force: true });

  const m = (pick: (row: (typeof rows)[number]) => number) => median(rows.map(pick));
  process.stdout.write(`\nembedded default, built dist, medians of ${ROUNDS} launches; idle RSS read ${IDLE_MS} ms after /ready\n`);
  process.stdout.write('| measure | value | target |\n|---|---|---|\n');
  process.stdout.write(
    `| launch to /ready, fresh DATA_DIR | ${(m((r) => r.firstMs) / 1000).toFixed(2)} s | <= ${TARGETS.readySeconds} s |\n`,
  );
  process.stdout.write(`| launch to /ready, restart | ${(m((r) => r.restartMs) / 1000).toFixed(2)} s | <= ${TARGETS.readySeconds} s |\n`);
  process.stdout.write(`| idle RSS after start-up | ${m((r) => r.restartRss).toFixed(0)} MiB | <= ${TARGETS.idleRssMiB} MiB |\n`);
  process.stdout.write(
    `| idle RSS after a SciFact ingest (${ingest.documents} documents in ${ingest.seconds.toFixed(0)} s) | ${afterIngestRss.toFixed(0)} MiB | <= ${TARGETS.idleRssMiB} MiB |\n`,
  );
  process.stdout.write(
    `| idle RSS after a restart on the ingested DATA_DIR | ${reloadedRss.toFixed(0)} MiB | <= ${TARGETS.idleRssMiB} MiB |\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:startup failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
