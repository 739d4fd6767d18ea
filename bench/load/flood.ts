/**
 * npm run bench:flood — tenant isolation under a flood of refused requests. Tenant A floods
 * POST /v1/retrieve from BENCH_FLOOD_CONNECTIONS (default 200) closed-loop clients that ignore
 * Retry-After, far past its rate limit; tenant B sends retrieves at a steady BENCH_FLOOD_B_RATE
 * (default 20) req/s, under its limit, in an open loop (latency counted from when each request was
 * due). B is measured quiet and under A's flood, alternated in the same run (BENCH_FLOOD_ROUNDS,
 * default 3, of BENCH_FLOOD_SECONDS, default 8, each), against the built service with its default
 * rate limits on the embedded default, telemetry off. A's clients run in a process of their own
 * at nice 19 (bench/load/flood-worker.cjs): the flood's own CPU is not the service's cost. Prints B's p50/p95 per phase, their medians,
 * the flood/quiet p95 ratio (target < 3) and what A got (statuses per second).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { startServiceProcess } from '../../test/support/service-process';
import { readCorpus, readQueries, SHARED_DATA } from '../support/corpus';
import { median, runPacedLoad, type PacedResult } from '../support/load';

const ROUNDS = Number(process.env.BENCH_FLOOD_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 8);
const FLOOD_CONNECTIONS = Number(process.env.BENCH_FLOOD_CONNECTIONS ?? 200);
const B_RATE = Number(process.env.BENCH_FLOOD_B_RATE ?? 20);
const DOCS = Number(process.env.BENCH_FLOOD_DOCS ?? 200);
const ADMIN_KEY = 'bench-flood-platform-admin-key-0123456789';

/** CPU seconds (user + system) the process has used so far */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

async function json(baseUrl: string, key: string, method: string, route: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

interface Tenant {
  readKey: string;
  kbId: string;
}

async function seedTenant(baseUrl: string, name: string, docs: Array<{ title: string; text: string }>): Promise<Tenant> {
  const tenant = await json(baseUrl, ADMIN_KEY, 'POST', '/v1/tenants', { name });
  const adminKey = (await json(baseUrl, ADMIN_KEY, 'POST', `/v1/tenants/${tenant.id}/api-keys`, { name: 'admin', scopes: ['admin'] }))
    .key as string;
  const readKey = (await json(baseUrl, ADMIN_KEY, 'POST', `/v1/tenants/${tenant.id}/api-keys`, { name: 'read', scopes: ['read'] }))
    .key as string;
  const kbId = (await json(baseUrl, adminKey, 'POST', '/v1/knowledge-bases', { name: 'scifact' })).id as string;
  // uploads stay under the per-key limit of the management routes
  for (const doc of docs)
    await json(baseUrl, adminKey, 'POST', `/v1/knowledge-bases/${kbId}/documents`, { title: doc.title, content: doc.text });
  for (;;) {
    const pending = await json(baseUrl, adminKey, 'GET', `/v1/knowledge-bases/${kbId}/documents?limit=1&status=queued`);
    const processing = await json(baseUrl, adminKey, 'GET', `/v1/knowledge-bases/${kbId}/documents?limit=1&status=processing`);
    if (pending.items.length === 0 && processing.items.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return { readKey, kbId };
}

function flood(
  baseUrl: string,
  a: Tenant,
  query: string,
  seconds: number,
): Promise<{ statuses: Record<string, number>; errors: number; seconds: number }> {
  const args = JSON.stringify({
    baseUrl,
    key: a.readKey,
    body: JSON.stringify({ query, kb_ids: [a.kbId], top_k: 10 }),
    connections: FLOOD_CONNECTIONS,
    seconds,
  });
  const child = spawn('nice', ['-n', '19', process.execPath, path.join(__dirname, 'flood-worker.cjs'), args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the flood client exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const dir = path.join(SHARED_DATA, 'scifact');
  const corpus = readCorpus(dir);
  const queries = readQueries(dir).map((q) => q.text);
  const service = await startServiceProcess({ ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'warn', OTEL_SDK_DISABLED: 'true' }, { waitMs: 60_000 });
  try {
    const { baseUrl } = service;
    const seedStarted = Date.now();
    const [a, b] = await Promise.all([
      seedTenant(baseUrl, 'flooder', corpus.slice(0, DOCS)),
      seedTenant(baseUrl, 'bystander', corpus.slice(DOCS, 2 * DOCS)),
    ]);
    process.stdout.write(`seeded 2 tenants × ${DOCS} SciFact documents in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s\n`);
    const bLoad = (seconds: number) =>
      runPacedLoad(baseUrl, {
        connections: 8,
        rate: B_RATE,
        seconds,
        next: (i) => ({
          method: 'POST',
          path: '/v1/retrieve',
          headers: { authorization: `Bearer ${b.readKey}` },
          body: JSON.stringify({ query: queries[i % queries.length], kb_ids: [b.kbId], top_k: 10 }),
        }),
      });
    await bLoad(2); // warm-up

    const pid = service.child.pid!;
    const measured = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
      const cpu0 = cpuSeconds(pid);
      const t0 = performance.now();
      const result = await run();
      return [result, (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)];
    };
    const quiet: PacedResult[] = [];
    const flooded: PacedResult[] = [];
    const rows: string[] = [
      '| round | B quiet p50 / p95 ms | B under flood p50 / p95 ms | B non-2xx / errors (flood) | A answers/s (by status) | service CPU quiet / flood (cores) |',
      '|---|---|---|---|---|---|',
    ];
    for (let round = 1; round <= ROUNDS; round++) {
      const [q, quietCpu] = await measured(() => bLoad(SECONDS));
      quiet.push(q);
      const flooding = flood(baseUrl, a, queries[0], SECONDS + 2);
      await new Promise((r) => setTimeout(r, 1500)); // A's clients connect and reach their limit
      const [f, floodCpu] = await measured(() => bLoad(SECONDS));
      flooded.push(f);
      const aResult = await flooding;
      const aRates = Object.entries(aResult.statuses)
        .map(([status, n]) => `${status}: ${(n / aResult.seconds).toFixed(0)}`)
        .join(', ');
      rows.push(
        `| ${round} | ${q.p50.toFixed(1)} / ${q.p95.toFixed(1)} | ${f.p50.toFixed(1)} / ${f.p95.toFixed(1)} | ${f.non2xx} / ${f.errors} | ${aRates}${aResult.errors ? `, transport errors ${aResult.errors}` : ''} | ${quietCpu.toFixed(2)} / ${floodCpu.toFixed(2)} |`,
      );
      await new Promise((r) => setTimeout(r, 1500)); // A's blocks expire before the next quiet phase
    }
    const quietP95 = median(quiet.map((r) => r.p95));
    const floodP95 = median(flooded.map((r) => r.p95));
    rows.push(
      `| median | ${median(quiet.map((r) => r.p50)).toFixed(1)} / ${quietP95.toFixed(1)} | ${median(flooded.map((r) => r.p50)).toFixed(1)} / ${floodP95.toFixed(1)} | | | |`,
    );
    process.stdout.write(
      `\nB at ${B_RATE} req/s; A flooding with ${FLOOD_CONNECTIONS} clients; ${ROUNDS} rounds of ${SECONDS} s\n${rows.join('\n')}\n`,
    );
    const ratio = floodP95 / quietP95;
    process.stdout.write(`\nB's p95 under flood / quiet: ${ratio.toFixed(2)} (target < 3: ${ratio < 3 ? 'met' : 'NOT met'})\n`);
    const bFailures = flooded.reduce((s, r) => s + r.non2xx + r.errors, 0) + quiet.reduce((s, r) => s + r.non2xx + r.errors, 0);
    if (bFailures > 0) process.stdout.write(`B got ${bFailures} non-2xx answers or errors\n`);
  } finally {
    await service.stop();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
