/**
 * npm run bench:inputs — what hostile request bodies cost the service (built, one process, the
 * embedded default): each body sent ROUNDS times, one at a time, then six at once while /health
 * is timed. Prints the median and worst answer time, status and answer size of each, and the
 * /health latency under the burst. The budget: a 1 MB hostile body is refused in < 50 ms.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatedAdminKey, startServiceProcess } from '../../test/support/service-process';
import { JSON_BODY_LIMITS } from '../../src/common/body-parsers';
import { jsonBytesShapeViolation } from '../../src/common/json-shape';
import { median } from '../support/load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

async function send(
  baseUrl: string,
  key: string,
  route: string,
  body: string | FormData,
): Promise<{ ms: number; status: number; bytes: number }> {
  const started = performance.now();
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (typeof body === 'string') headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${route}`, { method: 'POST', headers, body });
  const bytes = (await res.arrayBuffer()).byteLength;
  return { ms: performance.now() - started, status: res.status, bytes };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-inputs-'));
  const service = await startServiceProcess(
    { RATE_LIMIT_RPS: '1000000', RATE_LIMIT_TENANT_RPS: '1000000', LOG_LEVEL: 'warn' },
    { dataDir },
  );
  try {
    const admin = generatedAdminKey(dataDir);
    const post = async (key: string, route: string, body: unknown) =>
      (
        await fetch(`${service.baseUrl}${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json() as Promise<any>;
    const tenant = await post(admin, '/v1/tenants', { name: 'bench' });
    const key = (await post(admin, `/v1/tenants/${tenant.id}/api-keys`, { name: 'bench', scopes: ['admin'] })).key as string;
    const kb = (await post(key, '/v1/knowledge-bases', { name: 'inputs' })).id as string;

    const wide = `{${Array.from({ length: 60_000 }, (_, i) => `"key_${String(i).padStart(5, '0')}":1`).join(',')}}`;
    const manySmall = JSON.stringify({
      query: 'q',
      kb_ids: [kb],
      items: Array.from({ length: 1000 }, () => Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]))),
    });
    const unknownWithinBudget = JSON.stringify({
      query: 'q',
      kb_ids: [kb],
      ...Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`unknown_${i}_${'x'.repeat(3000)}`, 1])),
    });
    const deepMetadata = () => {
      const form = new FormData();
      form.append('file', new Blob(['deep metadata']), 'deep.txt');
      form.append('metadata', `${'{"a":'.repeat(2700)}1${'}'.repeat(2700)}`);
      return form;
    };
    const oneString = JSON.stringify({ query: 'q', kb_ids: ['not-a-uuid'], padding: 'x'.repeat(900_000) });
    const cases: Array<{ name: string; route: string; body: () => string | FormData }> = [
      { name: 'baseline: 0.9 MB in one unknown string field', route: '/v1/retrieve', body: () => oneString },
      { name: '60,000 unknown keys (0.9 MB) on /v1/retrieve', route: '/v1/retrieve', body: () => wide },
      { name: '60,000 unknown keys (0.9 MB) on an upload', route: `/v1/knowledge-bases/${kb}/documents`, body: () => wide },
      { name: '1,000 objects of 30 keys (0.2 MB)', route: '/v1/retrieve', body: () => manySmall },
      { name: '250 unknown 3 KB keys (0.75 MB, within the key budget)', route: '/v1/retrieve', body: () => unknownWithinBudget },
      { name: 'metadata 2,700 levels deep (multipart)', route: `/v1/knowledge-bases/${kb}/documents`, body: deepMetadata },
    ];
    console.log(
      `${'body'.padEnd(58)} ${'status'.padStart(6)} ${'answer B'.padStart(9)} ${'median ms'.padStart(10)} ${'worst ms'.padStart(9)}`,
    );
    for (const { name, route, body } of cases) {
      const runs: Array<{ ms: number; status: number; bytes: number }> = [];
      for (let i = 0; i < ROUNDS; i++) runs.push(await send(service.baseUrl, key, route, body()));
      const times = runs.map((r) => r.ms);
      console.log(
        `${name.padEnd(58)} ${String(runs[0].status).padStart(6)} ${String(runs[0].bytes).padStart(9)} ${median(times).toFixed(1).padStart(10)} ${Math.max(
          ...times,
        )
          .toFixed(1)
          .padStart(9)}`,
      );
    }

    // the check itself, in this process: the scan of the bytes that refuses the wide body
    const bytes = Buffer.from(wide);
    const scans: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      jsonBytesShapeViolation(bytes, JSON_BODY_LIMITS);
      scans.push(performance.now() - started);
    }
    console.log(`scan of the 0.9 MB wide body's bytes: median ${median(scans).toFixed(2)} ms`);

    // the burst: six wide bodies at once, /health timed while they are in flight
    const burst = Array.from({ length: 6 }, () => send(service.baseUrl, key, '/v1/retrieve', wide));
    const healthStarted = performance.now();
    const health = await fetch(`${service.baseUrl}/health`);
    const healthMs = performance.now() - healthStarted;
    const answers = await Promise.all(burst);
    console.log(
      `six wide bodies at once: /health answered ${health.status} in ${healthMs.toFixed(1)} ms; the six in ${Math.max(...answers.map((a) => a.ms)).toFixed(1)} ms (statuses ${[...new Set(answers.map((a) => a.status))].join(',')})`,
    );
  } finally {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
