/**
 * Measures the EmbeddedVectorStore itself: upsert throughput, re-open (load) time, search latency
 * while exact and once the HNSW graph serves, the longest event-loop stall, RSS.
 *
 *   npx tsx bench/vector-store/embedded-store.ts [points=100000] [dimension=384]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { EmbeddedVectorStore } from '../../src/vector-store/embedded/embedded-vector-store';

const POINTS = Number(process.argv[2] ?? 100_000);
const DIM = Number(process.argv[3] ?? 384);
const QUERIES = 200;

function vectors(count: number, seed: number): Float32Array[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  const centroids = Array.from({ length: 64 }, () => Float32Array.from({ length: DIM }, next));
  return Array.from({ length: count }, () => centroids[Math.floor((next() + 0.5) * 64)].map((v) => v + 0.6 * next()));
}

async function latencies(store: EmbeddedVectorStore, queries: Float32Array[], topK: number) {
  const times: number[] = [];
  for (const vector of queries) {
    const start = performance.now();
    await store.search({ collection: 'bench', tenantId: 't1', kbIds: ['kb1'], vector, topK });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return `p50 ${times[Math.floor(times.length / 2)].toFixed(2)} ms, p95 ${times[Math.floor(times.length * 0.95)].toFixed(2)} ms`;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'embedded-store-bench-'));
  const stalls = monitorEventLoopDelay({ resolution: 5 });
  stalls.enable();
  try {
    const data = vectors(POINTS, 1);
    const queries = vectors(QUERIES, 2);
    let store = new EmbeddedVectorStore({ dataDir });
    await store.ensureCollection('bench', DIM);
    let start = performance.now();
    for (let i = 0; i < POINTS; i += 1000) {
      await store.upsert(
        'bench',
        data
          .slice(i, i + 1000)
          .map((vector, j) => ({ id: randomUUID(), tenantId: 't1', kbId: 'kb1', documentId: `d${(i + j) >> 3}`, vector })),
      );
    }
    console.log(`${POINTS} points × ${DIM}: upsert ${Math.round(POINTS / ((performance.now() - start) / 1000))} vectors/s`);
    await store.close();

    stalls.reset();
    start = performance.now();
    store = new EmbeddedVectorStore({ dataDir });
    await store.count('bench');
    const first = await latencies(store, queries.slice(0, 1), 10);
    console.log(
      `re-open and first search: ${Math.round(performance.now() - start)} ms (${first}); longest stall ${(stalls.max / 1e6).toFixed(1)} ms`,
    );
    console.log(`search top 10, exact scan: ${await latencies(store, queries, 10)}`);
    console.log(`search top 100, exact scan: ${await latencies(store, queries, 100)}`);

    if (POINTS >= 20_000) {
      start = performance.now();
      stalls.reset();
      while ((await store.partitionStats('bench'))[0].search !== 'hnsw') await new Promise((r) => setTimeout(r, 100));
      console.log(
        `HNSW graph built in the background in ${Math.round(performance.now() - start)} ms; longest stall ${(stalls.max / 1e6).toFixed(1)} ms`,
      );
      console.log(`search top 10, HNSW: ${await latencies(store, queries, 10)}`);
      console.log(`search top 100, HNSW: ${await latencies(store, queries, 100)}`);
    }
    console.log(`RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
    await store.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
