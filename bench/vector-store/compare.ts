/**
 * Compares candidate embedded vector indexes on this machine (see README.md for the figures).
 *
 *   npx tsx bench/vector-store/compare.ts                       # all engines, all scenarios
 *   npx tsx bench/vector-store/compare.ts --engines js-exact,usearch-hnsw --scenarios scifact
 *
 * The optional engines (usearch, hnswlib-node, @lancedb/lancedb) are not dependencies of the
 * service: install them in a scratch folder and point VSBENCH_MODULES at it; engines whose package
 * cannot be loaded are reported as skipped. Each engine × scenario runs in its own child process so
 * that RSS figures are not polluted by the previous run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

interface Scenario {
  name: string;
  points: number;
  /** number of (tenant, KB) partitions the points are spread over, evenly */
  partitions: number;
  topK: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'scifact', points: 5_000, partitions: 1, topK: 10 },
  { name: 'scifact-top100', points: 5_000, partitions: 1, topK: 100 },
  { name: '100k-one-kb', points: 100_000, partitions: 1, topK: 10 },
  { name: '100k-one-kb-top100', points: 100_000, partitions: 1, topK: 100 },
  { name: '100k-kb-1pct', points: 100_000, partitions: 100, topK: 10 },
];
const ENGINES = ['js-exact', 'usearch-exact', 'usearch-hnsw', 'hnswlib', 'lancedb'] as const;
type EngineName = (typeof ENGINES)[number];

const DIM = Number(process.env.VSBENCH_DIM ?? 384);
const QUERIES = 200;
const CONCURRENCY = 16;

/** What every candidate offers the benchmark: load the data, then answer filtered top-k queries. */
interface Candidate {
  build(vectors: Float32Array, partitionOf: Int32Array): Promise<void>;
  search(query: Float32Array, partition: number, topK: number): Promise<number[]> | number[];
}

// ---------------------------------------------------------------------------------------------
// data

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next());
}

/** Clustered unit vectors (embeddings cluster by topic; uniform random data is unrealistically hard for HNSW). */
function makeVectors(count: number, seed: number, centroids: Float32Array): Float32Array {
  const next = rng(seed);
  const clusters = centroids.length / DIM;
  const out = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(next() * clusters) * DIM;
    let norm = 0;
    for (let d = 0; d < DIM; d++) {
      const v = centroids[c + d] + 0.6 * gaussian(next);
      out[i * DIM + d] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < DIM; d++) out[i * DIM + d] /= norm;
  }
  return out;
}

function makeCentroids(): Float32Array {
  const next = rng(7);
  const out = new Float32Array(256 * DIM);
  for (let i = 0; i < out.length; i++) out[i] = gaussian(next);
  return out;
}

// ---------------------------------------------------------------------------------------------
// engines

function topKByScore(scores: Float32Array, ids: ArrayLike<number>, count: number, k: number): number[] {
  const heapIds = new Int32Array(k);
  const heapScores = new Float32Array(k);
  let size = 0;
  for (let i = 0; i < count; i++) {
    const s = scores[i];
    if (size < k) {
      let j = size++;
      while (j > 0 && heapScores[(j - 1) >> 1] > s) {
        heapScores[j] = heapScores[(j - 1) >> 1];
        heapIds[j] = heapIds[(j - 1) >> 1];
        j = (j - 1) >> 1;
      }
      heapScores[j] = s;
      heapIds[j] = ids[i];
    } else if (s > heapScores[0]) {
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        if (l >= k) break;
        const r = l + 1;
        const m = r < k && heapScores[r] < heapScores[l] ? r : l;
        if (heapScores[m] >= s) break;
        heapScores[j] = heapScores[m];
        heapIds[j] = heapIds[m];
        j = m;
      }
      heapScores[j] = s;
      heapIds[j] = ids[i];
    }
  }
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => heapScores[b] - heapScores[a]);
  return order.map((i) => heapIds[i]);
}

/** Groups rows by partition into one contiguous matrix each, as an embedded store would keep them. */
function partitionRows(vectors: Float32Array, partitionOf: Int32Array) {
  const rows = new Map<number, number[]>();
  partitionOf.forEach((p, i) => (rows.get(p) ?? rows.set(p, []).get(p)!).push(i));
  const parts = new Map<number, { ids: Int32Array; matrix: Float32Array }>();
  for (const [p, list] of rows) {
    const matrix = new Float32Array(list.length * DIM);
    list.forEach((row, i) => matrix.set(vectors.subarray(row * DIM, row * DIM + DIM), i * DIM));
    parts.set(p, { ids: Int32Array.from(list), matrix });
  }
  return parts;
}

function jsExact(): Candidate {
  let parts: ReturnType<typeof partitionRows>;
  let scores = new Float32Array(0);
  return {
    async build(vectors, partitionOf) {
      parts = partitionRows(vectors, partitionOf);
    },
    search(query, partition, topK) {
      const { ids, matrix } = parts.get(partition)!;
      const n = ids.length;
      if (scores.length < n) scores = new Float32Array(n);
      for (let i = 0, off = 0; i < n; i++, off += DIM) {
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let d = 0; d < DIM; d += 4) {
          s0 += matrix[off + d] * query[d];
          s1 += matrix[off + d + 1] * query[d + 1];
          s2 += matrix[off + d + 2] * query[d + 2];
          s3 += matrix[off + d + 3] * query[d + 3];
        }
        scores[i] = s0 + s1 + s2 + s3;
      }
      return topKByScore(scores, ids, n, topK);
    },
  };
}

type Loose = any;

function optional(name: string): Loose {
  const from = process.env.VSBENCH_MODULES ?? process.cwd();
  return createRequire(join(from, 'package.json'))(name);
}

function usearchExact(): Candidate {
  const usearch = optional('usearch');
  let parts: ReturnType<typeof partitionRows>;
  return {
    async build(vectors, partitionOf) {
      parts = partitionRows(vectors, partitionOf);
    },
    search(query, partition, topK) {
      const { ids, matrix } = parts.get(partition)!;
      // the binding ignores a typed array's byteOffset, so a subarray must be copied first
      const found = usearch.exactSearch(matrix, query.slice(), DIM, Math.min(topK, ids.length), usearch.MetricKind.IP, 1);
      return Array.from(found.keys as BigUint64Array, (row) => ids[Number(row)]);
    },
  };
}

/** One HNSW index per (tenant, KB) partition, so the filter is the choice of index. */
function usearchHnsw(): Candidate {
  const usearch = optional('usearch');
  const indexes = new Map<number, Loose>();
  return {
    async build(vectors, partitionOf) {
      const parts = partitionRows(vectors, partitionOf);
      for (const [p, { ids, matrix }] of parts) {
        const index = new usearch.Index({
          dimensions: DIM,
          metric: usearch.MetricKind.IP,
          connectivity: 16,
          expansion_add: 128,
          expansion_search: 64,
        });
        index.add(
          BigUint64Array.from(ids, (id) => BigInt(id)),
          matrix,
          2,
        );
        indexes.set(p, index);
      }
    },
    search(query, partition, topK) {
      const index = indexes.get(partition)!;
      const found = index.search(query.slice(), topK, 1);
      return Array.from(found.keys as BigUint64Array, (id) => Number(id));
    },
  };
}

/** One global HNSW index; tenant/KB filter as hnswlib's filter callback (a JS call per candidate). */
function hnswlib(): Candidate {
  const { HierarchicalNSW } = optional('hnswlib-node');
  let index: Loose;
  let partitionOf: Int32Array;
  return {
    async build(vectors, partitions) {
      partitionOf = partitions;
      const n = vectors.length / DIM;
      index = new HierarchicalNSW('ip', DIM);
      index.initIndex(n, 16, 128);
      index.setEf(64);
      for (let i = 0; i < n; i++) index.addPoint(Array.from(vectors.subarray(i * DIM, i * DIM + DIM)), i);
    },
    search(query, partition, topK) {
      const { neighbors } = index.searchKnn(Array.from(query), topK, (label: number) => partitionOf[label] === partition);
      return neighbors as number[];
    },
  };
}

/** LanceDB table with tenant/KB columns, prefiltered flat (exact) vector search. */
function lancedb(): Candidate {
  const lance = optional('@lancedb/lancedb');
  const dir = mkdtempSync(join(tmpdir(), 'vsbench-lance-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  let table: Loose;
  return {
    async build(vectors, partitionOf) {
      const db = await lance.connect(dir);
      const n = vectors.length / DIM;
      const rows = [];
      for (let i = 0; i < n; i++)
        rows.push({ id: i, kb: `kb${partitionOf[i]}`, vector: Array.from(vectors.subarray(i * DIM, i * DIM + DIM)) });
      table = await db.createTable('points', rows);
      await table.createIndex('kb', { config: lance.Index.bitmap() });
    },
    async search(query, partition, topK) {
      const found = await table.vectorSearch(query).distanceType('dot').where(`kb = 'kb${partition}'`).select(['id']).limit(topK).toArray();
      return found.map((row: { id: number }) => Number(row.id));
    },
  };
}

const FACTORIES: Record<EngineName, () => Candidate> = {
  'js-exact': jsExact,
  'usearch-exact': usearchExact,
  'usearch-hnsw': usearchHnsw,
  hnswlib,
  lancedb,
};

// ---------------------------------------------------------------------------------------------
// one run (child process)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runOne(engine: EngineName, scenario: Scenario) {
  const centroids = makeCentroids();
  const vectors = makeVectors(scenario.points, 1, centroids);
  const queries = makeVectors(QUERIES, 2, centroids);
  const partitionOf = Int32Array.from({ length: scenario.points }, (_, i) => i % scenario.partitions);
  const queryPartition = (q: number) => q % scenario.partitions;

  const truth = jsExact();
  await truth.build(vectors, partitionOf);
  const expected = Array.from(
    { length: QUERIES },
    (_, q) => truth.search(queries.subarray(q * DIM, q * DIM + DIM), queryPartition(q), scenario.topK) as number[],
  );

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const candidate = FACTORIES[engine]();
  const buildStart = performance.now();
  await candidate.build(vectors, partitionOf);
  const buildMs = performance.now() - buildStart;

  const query = (q: number) => candidate.search(queries.subarray(q * DIM, q * DIM + DIM), queryPartition(q), scenario.topK);
  for (let q = 0; q < 20; q++) await query(q);

  const latencies: number[] = [];
  let hits = 0;
  for (let q = 0; q < QUERIES; q++) {
    const start = performance.now();
    const found = await query(q);
    latencies.push(performance.now() - start);
    const want = new Set(expected[q]);
    hits += found.filter((id) => want.has(id)).length;
  }
  latencies.sort((a, b) => a - b);

  // 16 clients, each sending its next query as soon as the previous one answered
  const concurrentLatencies: number[] = [];
  let nextQuery = 0;
  const total = QUERIES * 2;
  const loadStart = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (nextQuery < total) {
        const q = nextQuery++ % QUERIES;
        const start = performance.now();
        await new Promise((resolve) => setImmediate(resolve));
        await query(q);
        concurrentLatencies.push(performance.now() - start);
      }
    }),
  );
  const loadMs = performance.now() - loadStart;
  concurrentLatencies.sort((a, b) => a - b);

  return {
    engine,
    scenario: scenario.name,
    points: scenario.points,
    kbSize: scenario.points / scenario.partitions,
    topK: scenario.topK,
    buildMs: Math.round(buildMs),
    p50: +percentile(latencies, 50).toFixed(2),
    p95: +percentile(latencies, 95).toFixed(2),
    qps16: Math.round((total / loadMs) * 1000),
    p95at16: +percentile(concurrentLatencies, 95).toFixed(1),
    recall: +(hits / (QUERIES * scenario.topK)).toFixed(3),
    rssMB: Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20),
  };
}

// ---------------------------------------------------------------------------------------------
// driver

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main() {
  const childEngine = arg('child-engine') as EngineName | undefined;
  if (childEngine) {
    const scenario = SCENARIOS.find((s) => s.name === arg('child-scenario'))!;
    process.stdout.write(JSON.stringify(await runOne(childEngine, scenario)));
    return;
  }
  const engines = (arg('engines')?.split(',') ?? ENGINES) as EngineName[];
  const scenarios = arg('scenarios')?.split(',') ?? SCENARIOS.map((s) => s.name);
  console.log(`dimension ${DIM}, ${QUERIES} queries, ${CONCURRENCY} concurrent clients; one child process per run`);
  console.log('| engine | scenario | points | KB size | top k | build ms | p50 ms | p95 ms | qps @16 | p95 ms @16 | recall | RSS MB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const scenario of scenarios) {
    for (const engine of engines) {
      const child = spawnSync(
        process.execPath,
        [...process.execArgv, '--expose-gc', process.argv[1], '--child-engine', engine, '--child-scenario', scenario],
        { encoding: 'utf8', timeout: 900_000, env: process.env },
      );
      if (child.status !== 0) {
        const reason = (child.stderr || child.error?.message || 'failed').split('\n').find((l) => l.trim()) ?? 'failed';
        console.log(`| ${engine} | ${scenario} | skipped: ${reason.slice(0, 120)} |`);
        continue;
      }
      const r = JSON.parse(child.stdout);
      console.log(
        `| ${r.engine} | ${r.scenario} | ${r.points} | ${r.kbSize} | ${r.topK} | ${r.buildMs} | ${r.p50} | ${r.p95} | ${r.qps16} | ${r.p95at16} | ${r.recall} | ${r.rssMB} |`,
      );
    }
  }
}

void main();
