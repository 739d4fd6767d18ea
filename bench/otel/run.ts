/**
 * npm run bench:otel — the same hybrid /v1/retrieve load against the service with
 * OTEL_SDK_DISABLED=true and with telemetry on at 0 %, 10 % and 100 % parent-based trace sampling
 * (metrics, logs and the sampled traces exported over OTLP to a local sink, and /metrics), alternated
 * round by round; prints requests/s, p95 and the service's CPU time per request of each, telemetry's
 * own CPU per request (on minus off, in µs) and the ratios to off. CPU per request (from /proc) is
 * steadier than requests/s on a shared machine.
 *
 * BENCH_OTEL_DIR: a data directory to seed once and reuse across runs (else a temporary one).
 * BENCH_CPU_PROF_DIR: write a V8 CPU profile of each service run there (for `--cpu-prof` analysis).
 * BENCH_OTEL_BEFORE: the root of another checkout, built: its service runs the same telemetry-on
 * variants ("before …") in the same rounds, so a change is measured side by side against one off.
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
const COMMON = { RATE_LIMIT_RPS: '1000000', RATE_LIMIT_TENANT_RPS: '1000000', RATE_LIMIT_MANAGEMENT_RPS: '1000000', LOG_LEVEL: 'warn' };

async function json(baseUrl: string, key: string, method: string, route: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A tenant with one KB of DOCS SciFact documents, all indexed; reused when dataDir already holds it. */
async function seed(dataDir: string): Promise<{ key: string; kb: string }> {
  const marker = path.join(dataDir, `bench-otel-${DOCS}.json`);
  if (fs.existsSync(marker)) return JSON.parse(fs.readFileSync(marker, 'utf8')) as { key: string; kb: string };
  const service = await startServiceProcess({ ...COMMON, OTEL_SDK_DISABLED: 'true' }, { dataDir });
  const admin = generatedAdminKey(dataDir);
  const tenant = await json(service.baseUrl, admin, 'POST', '/v1/tenants', { name: `bench-${DOCS}` });
  const key = (await json(service.baseUrl, admin, 'POST', `/v1/tenants/${tenant.body.id}/api-keys`, { name: 'bench', scopes: ['admin'] }))
    .body.key as string;
  const kb = (await json(service.baseUrl, key, 'POST', '/v1/knowledge-bases', { name: 'scifact' })).body.id as string;
  const corpus = readCorpus(path.join(SHARED_DATA, 'scifact')).slice(0, DOCS);
  for (const doc of corpus)
    await json(service.baseUrl, key, 'POST', `/v1/knowledge-bases/${kb}/documents`, { title: doc.title, content: doc.text });
  for (;;) {
    const queued = await json(service.baseUrl, key, 'GET', `/v1/knowledge-bases/${kb}/documents?status=queued&limit=1`);
    const processing = await json(service.baseUrl, key, 'GET', `/v1/knowledge-bases/${kb}/documents?status=processing&limit=1`);
    if (queued.body.items.length === 0 && processing.body.items.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await service.stop();
  fs.writeFileSync(marker, JSON.stringify({ key, kb }));
  return { key, kb };
}

async function main(): Promise<void> {
  const keptDir = process.env.BENCH_OTEL_DIR;
  const dataDir = keptDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-otel-'));
  fs.mkdirSync(dataDir, { recursive: true });
  const { key, kb } = await seed(dataDir);

  // an empty body is a valid (empty) OTLP protobuf Export*ServiceResponse: the exporters parse it without a warning
  let exportedBytes = 0;
  const sink = http.createServer((req, res) =>
    req
      .on('data', (chunk: Buffer) => (exportedBytes += chunk.length))
      .on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()),
  );
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const queries = readQueries(path.join(SHARED_DATA, 'scifact')).map((q) => q.text);
  // BENCH_ON_ENV (JSON) adds variables to every telemetry-on run, e.g. to try fewer instrumentations
  const on = {
    ...COMMON,
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    ...(JSON.parse(process.env.BENCH_ON_ENV ?? '{}') as Record<string, string>),
  };
  const sampled = (ratio: string) => ({ ...on, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio });
  const variants = {
    off: { ...COMMON, OTEL_SDK_DISABLED: 'true' },
    'on 100 %': on,
    'on 10 %': sampled('0.1'),
    'on 0 %': sampled('0'),
  } as Record<string, Record<string, string>>;
  const before = process.env.BENCH_OTEL_BEFORE ? path.resolve(process.env.BENCH_OTEL_BEFORE) : undefined;
  // each "before" right after its "on", so the two meet the same moment of a shared machine
  const paired = before
    ? Object.fromEntries(
        Object.entries(variants).flatMap(([name, env]) =>
          name === 'off'
            ? [[name, env]]
            : [
                [name, env],
                [name.replace('on', 'before'), env],
              ],
        ),
      )
    : variants;
  const only = process.env.BENCH_VARIANTS?.split(',').map((s) => s.trim());
  const names = Object.keys(paired).filter((name) => name === 'off' || !only || only.some((o) => name.includes(o)));
  const results: Record<string, Array<{ rps: number; p95: number; cpuMs: number; non2xx: number }>> = Object.fromEntries(
    names.map((n) => [n, []]),
  );
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of names) {
      const profile: Record<string, string> = profileDir
        ? {
            NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(profileDir)} --cpu-prof-name=${name.replace(/\W+/g, '')}-r${round + 1}.cpuprofile`,
          }
        : {};
      const service = await startServiceProcess(
        { ...paired[name], ...profile },
        { dataDir, root: name.startsWith('before') ? before : undefined },
      );
      const next = (i: number) => ({
        method: 'POST',
        path: '/v1/retrieve',
        headers: { authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: queries[i % queries.length], kb_ids: [kb], retriever: 'hybrid', top_k: 10 }),
      });
      await runLoad(service.baseUrl, { connections: CONNECTIONS, seconds: 2, next });
      const cpuBefore = processCpuMs(service.child.pid!);
      const result = await runLoad(service.baseUrl, { connections: CONNECTIONS, seconds: SECONDS, next });
      const cpuMs = (processCpuMs(service.child.pid!) - cpuBefore) / Math.max(1, result.requests);
      results[name].push({ rps: result.rps, p95: result.p95, cpuMs, non2xx: result.non2xx + result.errors });
      process.stdout.write(
        `round ${round + 1} telemetry ${name.padEnd(8)}: ${result.rps.toFixed(0)} req/s, p95 ${result.p95.toFixed(1)} ms, CPU ${(cpuMs * 1000).toFixed(0)} µs/request, non-2xx ${result.non2xx + result.errors}\n`,
      );
      await service.stop();
    }
  }
  sink.close();
  if (!keptDir) fs.rmSync(dataDir, { recursive: true, force: true });
  const summary = (name: string) => ({
    rps: median(results[name].map((r) => r.rps)),
    p95: median(results[name].map((r) => r.p95)),
    cpuUs: median(results[name].map((r) => r.cpuMs)) * 1000,
  });
  const off = summary('off');
  const spread = (name: string) => {
    const rps = results[name].map((r) => r.rps);
    return ((Math.max(...rps) - Math.min(...rps)) / median(rps)) * 100;
  };
  process.stdout.write(
    `\nhybrid /v1/retrieve, ${CONNECTIONS} connections, ${DOCS} SciFact documents, medians of ${ROUNDS} alternated rounds of ${SECONDS} s; OTLP bytes received ${exportedBytes}\n`,
  );
  process.stdout.write(
    '| telemetry | req/s | p95 ms | service CPU µs/request | telemetry CPU µs/request | throughput ratio to off | CPU ratio off/on | req/s spread across rounds |\n|---|---|---|---|---|---|---|---|\n',
  );
  for (const name of names) {
    const row = summary(name);
    process.stdout.write(
      `| ${name} | ${row.rps.toFixed(0)} | ${row.p95.toFixed(1)} | ${row.cpuUs.toFixed(0)} | ${(row.cpuUs - off.cpuUs).toFixed(0)} | ${(row.rps / off.rps).toFixed(3)} | ${(off.cpuUs / row.cpuUs).toFixed(3)} | ${spread(name).toFixed(0)} % |\n`,
    );
  }
  process.stdout.write('targets: throughput ratio at 10 % >= 0.90, at 100 % (OTLP export) >= 0.85\n');
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
