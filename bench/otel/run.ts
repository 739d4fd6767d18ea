/**
 * npm run bench:otel — the same hybrid retrieval load against the service with
 * OTEL_SDK_DISABLED=true, with telemetry on (every trace recorded and exported, metrics and logs
 * over OTLP to a local sink) and with telemetry on at 10 % parent-based trace sampling, alternated
 * in one run; prints requests/s, p95 and the service's CPU time per request of each, and the
 * ratios to off. CPU per request (from /proc) is steadier than requests/s on a shared machine.
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
  const common = { RATE_LIMIT_RPS: '1000000', RATE_LIMIT_TENANT_RPS: '1000000', RATE_LIMIT_MANAGEMENT_RPS: '1000000', LOG_LEVEL: 'warn' };
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
  const on = { ...common, OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
  const variants = {
    off: { ...common, OTEL_SDK_DISABLED: 'true' },
    // BENCH_ON_ENV (JSON) adds variables to the telemetry-on run, e.g. to try fewer instrumentations
    on: { ...on, ...(JSON.parse(process.env.BENCH_ON_ENV ?? '{}') as Record<string, string>) },
    sampled: { ...on, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  } as const;
  const names = Object.keys(variants) as Array<keyof typeof variants>;
  const results: Record<keyof typeof variants, Array<{ rps: number; p95: number; cpuMs: number; non2xx: number }>> = { off: [], on: [], sampled: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of names) {
      const service = await startServiceProcess(variants[name], { dataDir });
      const next = (i: number) => ({ method: 'POST', path: '/v1/retrieve', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ query: queries[i % queries.length], kb_ids: [kb], retriever: 'hybrid', top_k: 10 }) });
      await runLoad(service.baseUrl, { connections: CONNECTIONS, seconds: 2, next });
      const cpuBefore = processCpuMs(service.child.pid!);
      const result = await runLoad(service.baseUrl, { connections: CONNECTIONS, seconds: SECONDS, next });
      const cpuMs = (processCpuMs(service.child.pid!) - cpuBefore) / Math.max(1, result.requests);
      results[name].push({ rps: result.rps, p95: result.p95, cpuMs, non2xx: result.non2xx + result.errors });
      process.stdout.write(
        `round ${round + 1} telemetry ${name.padEnd(7)}: ${result.rps.toFixed(0)} req/s, p95 ${result.p95.toFixed(1)} ms, CPU ${cpuMs.toFixed(2)} ms/request, non-2xx ${result.non2xx + result.errors}\n`,
      );
      await service.stop();
    }
  }
  sink.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  const summary = (name: keyof typeof variants) => ({
    rps: median(results[name].map((r) => r.rps)),
    p95: median(results[name].map((r) => r.p95)),
    cpuMs: median(results[name].map((r) => r.cpuMs)),
  });
  const off = summary('off');
  const labels = { off: 'off (OTEL_SDK_DISABLED)', on: 'on (every trace, OTLP export + /metrics)', sampled: 'on, 10 % of traces sampled' };
  process.stdout.write(`\nhybrid /v1/retrieve, ${CONNECTIONS} connections, ${DOCS} SciFact documents, medians of ${ROUNDS} alternated rounds of ${SECONDS} s\n`);
  process.stdout.write('| telemetry | req/s | p95 ms | service CPU ms/request | throughput ratio to off |\n|---|---|---|---|---|\n');
  for (const name of names) {
    const row = summary(name);
    process.stdout.write(`| ${labels[name]} | ${row.rps.toFixed(0)} | ${row.p95.toFixed(1)} | ${row.cpuMs.toFixed(2)} | ${(row.rps / off.rps).toFixed(3)} |\n`);
  }
  process.stdout.write(`throughput ratio on/off: ${(summary('on').rps / off.rps).toFixed(3)} (target >= 0.95); CPU per request off/on: ${(off.cpuMs / summary('on').cpuMs).toFixed(3)}\n`);
}

/** user + system CPU time of a process so far, in ms (Linux /proc; clock ticks of 10 ms) */
function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
