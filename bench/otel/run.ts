/**
 * npm run bench:otel — the same hybrid retrieval load against the service with
 * OTEL_SDK_DISABLED=true and with telemetry on (exporting traces, metrics and logs over OTLP to a
 * local sink), alternated in one run; prints requests/s and p95 of each and the ratio on/off.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generatedAdminKey, startServiceProcess } from '../../test/support/service-process';
import { readCorpus, readQueries, SHARED_DATA } from '../support/corpus';
import { median, runLoad } from '../support/load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const DOCS = Number(process.env.BENCH_DOCS ?? 1000);
const CONNECTIONS = 16;

async function json(baseUrl: string, key: string, method: string, route: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${route}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-otel-'));
  const common = { RATE_LIMIT_RPS: '1000000', RATE_LIMIT_TENANT_RPS: '1000000', LOG_LEVEL: 'warn' };
  const seed = await startServiceProcess({ ...common, OTEL_SDK_DISABLED: 'true' }, { dataDir });
  const admin = generatedAdminKey(dataDir);
  const tenant = await json(seed.baseUrl, admin, 'POST', '/v1/tenants', { name: 'bench' });
  const key = (await json(seed.baseUrl, admin, 'POST', `/v1/tenants/${tenant.body.id}/api-keys`, { name: 'bench', scopes: ['admin'] })).body.key as string;
  const kb = (await json(seed.baseUrl, key, 'POST', '/v1/knowledge-bases', { name: 'scifact' })).body.id as string;
  const corpus = readCorpus(path.join(SHARED_DATA, 'scifact')).slice(0, DOCS);
  for (const doc of corpus) await json(seed.baseUrl, key, 'POST', `/v1/knowledge-bases/${kb}/documents`, { title: doc.title, content: doc.text });
  for (;;) {
    const queued = await json(seed.baseUrl, key, 'GET', `/v1/knowledge-bases/${kb}/documents?status=queued&limit=1`);
    const processing = await json(seed.baseUrl, key, 'GET', `/v1/knowledge-bases/${kb}/documents?status=processing&limit=1`);
    if (queued.body.items.length === 0 && processing.body.items.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await seed.stop();

  // an empty body is a valid (empty) OTLP protobuf Export*ServiceResponse: the exporters parse it without a warning
  const sink = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()));
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const queries = readQueries(path.join(SHARED_DATA, 'scifact')).map((q) => q.text);
  const variants = {
    off: { ...common, OTEL_SDK_DISABLED: 'true' },
    // BENCH_ON_ENV (JSON) adds variables to the telemetry-on run, e.g. to try a sampler or fewer instrumentations
    on: { ...common, OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', ...(JSON.parse(process.env.BENCH_ON_ENV ?? '{}') as Record<string, string>) },
  } as const;
  const results: Record<keyof typeof variants, Array<{ rps: number; p95: number; non2xx: number }>> = { off: [], on: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of ['off', 'on'] as const) {
      const service = await startServiceProcess(variants[name], { dataDir });
      const next = (i: number) => ({ method: 'POST', path: '/v1/retrieve', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ query: queries[i % queries.length], kb_ids: [kb], retriever: 'hybrid', top_k: 10 }) });
      await runLoad(service.baseUrl, { connections: CONNECTIONS, seconds: 2, next });
      const result = await runLoad(service.baseUrl, { connections: CONNECTIONS, seconds: SECONDS, next });
      results[name].push({ rps: result.rps, p95: result.p95, non2xx: result.non2xx + result.errors });
      process.stdout.write(`round ${round + 1} telemetry ${name.padEnd(3)}: ${result.rps.toFixed(0)} req/s, p95 ${result.p95.toFixed(1)} ms, non-2xx ${result.non2xx + result.errors}\n`);
      await service.stop();
    }
  }
  sink.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  const off = { rps: median(results.off.map((r) => r.rps)), p95: median(results.off.map((r) => r.p95)) };
  const on = { rps: median(results.on.map((r) => r.rps)), p95: median(results.on.map((r) => r.p95)) };
  process.stdout.write(`\nhybrid /v1/retrieve, ${CONNECTIONS} connections, ${DOCS} SciFact documents, medians of ${ROUNDS} alternated rounds of ${SECONDS} s\n`);
  process.stdout.write(`| telemetry | req/s | p95 ms |\n|---|---|---|\n| off (OTEL_SDK_DISABLED) | ${off.rps.toFixed(0)} | ${off.p95.toFixed(1)} |\n| on (OTLP export + /metrics) | ${on.rps.toFixed(0)} | ${on.p95.toFixed(1)} |\n`);
  process.stdout.write(`throughput ratio on/off: ${(on.rps / off.rps).toFixed(3)} (target >= 0.95)\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
