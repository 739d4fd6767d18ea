/**
 * npm run bench:load — mixed traffic (70 % retrieve, 20 % rag, 10 % ingest) from 32 closed-loop
 * clients against the built service (child process), first on the embedded default (SQLite,
 * embedded vector index, database queue), then on a private Postgres + Redis (BullMQ queue,
 * Redis rate-limit counters). Both are seeded with part of SciFact through the API.
 *
 * Prints, per stack: requests/s, p50/p95/p99 and errors per route; RSS of the service process
 * (/proc/<pid>/status VmRSS) at the start and end of the measured load, and its peak; the
 * event-loop delay p99 measured inside the service by Node's monitorEventLoopDelay histogram
 * (bench/load/event-loop-probe.cjs, preloaded with NODE_OPTIONS — the service exposes no such
 * metric and its OTel runtime instrumentation is off).
 *
 * Then a steady phase (BENCH_STEADY_SECONDS, default 20) of retrieve + rag only, whose RSS at start
 * and end tells a leak from index growth: during the mixed run the in-memory indexes grow with
 * every ingested document; with no new documents RSS should stay flat.
 *
 * BENCH_SECONDS (default 60), BENCH_DOCS (default 500 seed documents), BENCH_CONNECTIONS (32),
 * BENCH_STACKS (default "embedded,postgres-redis").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { startRedis, type RedisServer } from '../../test/support/redis-server';
import { REPO_ROOT, startServiceProcess, type ServiceProcess } from '../../test/support/service-process';
import { readCorpus, readQueries, SHARED_DATA, type CorpusDoc } from '../support/corpus';
import { runLoad, type LoadRequest, type LoadResult } from '../support/load';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const DOCS = Number(process.env.BENCH_DOCS ?? 500);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const STACKS = (process.env.BENCH_STACKS ?? 'embedded,postgres-redis').split(',').map((s) => s.trim());
const ADMIN_KEY = 'bench-load-platform-admin-key-0123456789';
const PROBE = path.join(REPO_ROOT, 'bench', 'load', 'event-loop-probe.cjs');

interface StackResult {
  stack: string;
  load: LoadResult;
  rssStartMb: number;
  rssEndMb: number;
  rssPeakMb: number;
  eventLoop: { p50_ms: number; p99_ms: number; max_ms: number };
  steady?: { seconds: number; requests: number; rps: number; errors: number; rssStartMb: number; rssEndMb: number };
  ingested: { accepted: number; indexedAtEnd: number; indexedAfterDrainS: number };
}

async function json(baseUrl: string, key: string, method: string, route: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function documentCount(baseUrl: string, key: string, kbId: string, status: string): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '100', status, ...(cursor ? { cursor } : {}) });
    const page = await json(baseUrl, key, 'GET', `/v1/knowledge-bases/${kbId}/documents?${query.toString()}`);
    count += page.body.items.length;
    cursor = page.body.next_cursor;
  } while (cursor);
  return count;
}

async function waitIndexed(baseUrl: string, key: string, kbId: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const pending = (await documentCount(baseUrl, key, kbId, 'queued')) + (await documentCount(baseUrl, key, kbId, 'processing'));
    if (pending === 0) return (Date.now() - started) / 1000;
    if (Date.now() - started > timeoutMs) throw new Error(`${pending} documents still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function runStack(stack: string, corpus: CorpusDoc[], queries: string[]): Promise<StackResult> {
  let postgres: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  let service: ServiceProcess | undefined;
  const probeFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-load-')), 'event-loop.json');
  try {
    const env: Record<string, string> = {
      ADMIN_API_KEY: ADMIN_KEY,
      RATE_LIMIT_RPS: '1000000',
      RATE_LIMIT_TENANT_RPS: '1000000',
      RATE_LIMIT_MANAGEMENT_RPS: '1000000',
      LOG_LEVEL: 'warn',
      OTEL_SDK_DISABLED: 'true',
      NODE_OPTIONS: `--require ${PROBE}`,
      EVENT_LOOP_PROBE_FILE: probeFile,
    };
    if (stack === 'postgres-redis') {
      postgres = await startPostgres();
      redis = await startRedis();
      Object.assign(env, { DATABASE_URL: postgres.url, REDIS_URL: redis.url });
    } else if (stack !== 'embedded') {
      throw new Error(`unknown stack ${stack}`);
    }
    service = await startServiceProcess(env, { waitMs: 60_000 });
    const { baseUrl } = service;
    const tenant = await json(baseUrl, ADMIN_KEY, 'POST', '/v1/tenants', { name: 'bench-load' });
    const key = (await json(baseUrl, ADMIN_KEY, 'POST', `/v1/tenants/${tenant.body.id}/api-keys`, { name: 'bench', scopes: ['admin'] }))
      .body.key as string;
    const kbId = (await json(baseUrl, key, 'POST', '/v1/knowledge-bases', { name: 'scifact' })).body.id as string;

    const seedStarted = Date.now();
    const seed = corpus.slice(0, DOCS);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < seed.length) {
          const doc = seed[next++];
          const res = await json(baseUrl, key, 'POST', `/v1/knowledge-bases/${kbId}/documents`, {
            title: doc.title,
            content: doc.text,
            metadata: { scifact_id: doc._id },
          });
          if (res.status !== 202 && res.status !== 200) throw new Error(`seed upload answered ${res.status}: ${JSON.stringify(res.body)}`);
        }
      }),
    );
    await waitIndexed(baseUrl, key, kbId, 600_000);
    process.stdout.write(`[${stack}] seeded ${seed.length} SciFact documents in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s\n`);

    // ingest traffic uploads the rest of the corpus (new content), cycling with a suffix once exhausted
    const fresh = corpus.slice(DOCS);
    const auth = { authorization: `Bearer ${key}` };
    let accepted = 0;
    const request = (i: number): LoadRequest => {
      const slot = i % 10;
      const query = queries[i % queries.length];
      if (slot < 7)
        return {
          method: 'POST',
          path: '/v1/retrieve',
          label: 'POST /v1/retrieve',
          headers: auth,
          body: JSON.stringify({ query, kb_ids: [kbId], top_k: 10, retriever: 'hybrid' }),
        };
      if (slot < 9)
        return {
          method: 'POST',
          path: '/v1/rag',
          label: 'POST /v1/rag',
          headers: auth,
          body: JSON.stringify({ query, kb_ids: [kbId], top_k: 5 }),
        };
      const n = Math.floor(i / 10);
      const doc = fresh[n % fresh.length];
      accepted += 1;
      return {
        method: 'POST',
        path: `/v1/knowledge-bases/${kbId}/documents`,
        label: 'POST /v1/knowledge-bases/:kb_id/documents',
        headers: auth,
        body: JSON.stringify({
          title: doc.title,
          content: n < fresh.length ? doc.text : `${doc.text}\n\n(revision ${Math.floor(n / fresh.length)})`,
        }),
      };
    };

    // warm-up, then the measured run
    await runLoad(baseUrl, { connections: CONNECTIONS, seconds: Math.min(5, SECONDS / 4), next: (i) => request(i + 1_000_000) });
    accepted = 0;
    const pid = service.child.pid!;
    service.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 200));
    const rssStartMb = rssMb(pid);
    let rssPeakMb = rssStartMb;
    const sampler = setInterval(() => {
      rssPeakMb = Math.max(rssPeakMb, rssMb(pid));
    }, 1000);
    const load = await runLoad(baseUrl, { connections: CONNECTIONS, seconds: SECONDS, next: request });
    clearInterval(sampler);
    const rssEndMb = rssMb(pid);
    rssPeakMb = Math.max(rssPeakMb, rssEndMb);
    await new Promise((r) => setTimeout(r, 1100));
    const eventLoop = JSON.parse(fs.readFileSync(probeFile, 'utf8')) as StackResult['eventLoop'];
    const pendingAtEnd = (await documentCount(baseUrl, key, kbId, 'queued')) + (await documentCount(baseUrl, key, kbId, 'processing'));
    const indexedAfterDrainS = await waitIndexed(baseUrl, key, kbId, 600_000);
    const failed = await documentCount(baseUrl, key, kbId, 'failed');
    if (failed > 0) throw new Error(`${failed} documents failed to ingest`);
    let steady: StackResult['steady'];
    if (STEADY_SECONDS > 0) {
      const readOnly = (i: number) => request(i % 10 === 9 ? i - 1 : i);
      await runLoad(baseUrl, { connections: CONNECTIONS, seconds: 3, next: (i) => readOnly(i + 2_000_000) });
      const steadyStart = rssMb(pid);
      const r = await runLoad(baseUrl, { connections: CONNECTIONS, seconds: STEADY_SECONDS, next: (i) => readOnly(i + 3_000_000) });
      steady = {
        seconds: r.seconds,
        requests: r.requests,
        rps: r.rps,
        errors: r.errors + r.non2xx,
        rssStartMb: steadyStart,
        rssEndMb: rssMb(pid),
      };
      load.errors += r.errors;
      load.non2xx += r.non2xx;
    }
    return {
      stack,
      load,
      steady,
      rssStartMb,
      rssEndMb,
      rssPeakMb,
      eventLoop,
      ingested: { accepted, indexedAtEnd: accepted - pendingAtEnd, indexedAfterDrainS },
    };
  } finally {
    await service?.stop();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    await redis?.stop();
    await postgres?.stop();
    fs.rmSync(path.dirname(probeFile), { recursive: true, force: true });
  }
}

function print(result: StackResult): void {
  const { load } = result;
  const out: string[] = [];
  out.push(`\n### ${result.stack}: ${CONNECTIONS} clients, ${load.seconds.toFixed(1)} s, ${DOCS} SciFact documents seeded`);
  out.push('| route | requests | req/s | p50 ms | p95 ms | p99 ms | errors (non-2xx + transport) |');
  out.push('|---|---|---|---|---|---|---|');
  for (const [label, r] of Object.entries(load.byLabel).sort((a, b) => b[1].requests - a[1].requests)) {
    out.push(
      `| ${label} | ${r.requests} | ${r.rps.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.non2xx + r.errors} |`,
    );
  }
  out.push(
    `| all | ${load.requests} | ${load.rps.toFixed(1)} | ${load.p50.toFixed(1)} | ${load.p95.toFixed(1)} | ${load.p99.toFixed(1)} | ${load.non2xx + load.errors} |`,
  );
  out.push(
    `RSS: ${result.rssStartMb.toFixed(0)} MB at start, ${result.rssEndMb.toFixed(0)} MB at end (peak ${result.rssPeakMb.toFixed(0)} MB)`,
  );
  out.push(
    `event-loop delay (monitorEventLoopDelay, in the service): p50 ${result.eventLoop.p50_ms.toFixed(1)} ms, p99 ${result.eventLoop.p99_ms.toFixed(1)} ms, max ${result.eventLoop.max_ms.toFixed(1)} ms`,
  );
  if (result.steady) {
    const st = result.steady;
    out.push(
      `steady phase (retrieve + rag only, no new documents): ${st.seconds.toFixed(0)} s, ${st.rps.toFixed(1)} req/s, ${st.errors} errors, RSS ${st.rssStartMb.toFixed(0)} MB → ${st.rssEndMb.toFixed(0)} MB`,
    );
  }
  out.push(
    `ingestion: ${result.ingested.accepted} uploads sent during the run, ${result.ingested.indexedAtEnd} of them indexed by its end, the rest ${result.ingested.indexedAfterDrainS.toFixed(1)} s later, 0 failed`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  const dir = path.join(SHARED_DATA, 'scifact');
  const corpus = readCorpus(dir);
  const queries = readQueries(dir).map((q) => q.text);
  const results: StackResult[] = [];
  for (const stack of STACKS) {
    const result = await runStack(stack, corpus, queries);
    print(result);
    results.push(result);
  }
  const errors = results.reduce((sum, r) => sum + r.load.errors + r.load.non2xx, 0);
  process.stdout.write(`\nerrors across all stacks: ${errors} (target 0)\n`);
  if (errors > 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
