/**
 * Sparse retrieval quality and latency of the lexical indexes, no HTTP:
 *   npx tsx bench/quality/lexical.ts [--copies N] [--fts5] [dataset …]
 * Quality (nDCG@10, Recall@100, MRR@10) on each data set's test split; then, on SciFact copied
 * N times (default 1 and 20, i.e. ~5k and ~100k chunks), query latency with 1 and 16 callers.
 * `--fts5` measures the SQLite FTS5 alternative the same way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedLexicalIndex } from '../../src/lexical-index/embedded/embedded-lexical-index';
import { documentText, evaluateRun, loadBeirDataset, Run } from './beir';
import { corpusCopies } from './corpus-variants';
import { datasetDir } from './datasets';
import { Fts5Candidate } from './fts5-candidate';
import { formatLatency, measureConcurrent } from './timing';

const TENANT = 'bench-tenant';
const KB = 'bench-kb';

interface Engine {
  name: string;
  load(records: { id: string; text: string }[]): Promise<void>;
  search(query: string, topK: number): Promise<string[]>;
  close(): Promise<void>;
}

function embeddedEngine(dir: string): Engine {
  const index = new EmbeddedLexicalIndex({ dataDir: dir });
  return {
    name: 'embedded BM25 (in-memory postings, SQLite-persisted)',
    async load(records) {
      await index.init();
      await index.upsert(records.map((r) => ({ id: r.id, tenantId: TENANT, kbId: KB, documentId: r.id, text: r.text })));
    },
    async search(query, topK) {
      return (await index.search({ tenantId: TENANT, kbIds: [KB], query, topK })).map((hit) => hit.id);
    },
    close: () => index.close(),
  };
}

function fts5Engine(dir: string): Engine {
  const index = new Fts5Candidate(join(dir, 'fts5.sqlite'));
  return {
    name: 'SQLite FTS5 bm25() over analyzed terms',
    async load(records) {
      for (let i = 0; i < records.length; i += 1000) {
        index.upsert(records.slice(i, i + 1000).map((r) => ({ ...r, tenantId: TENANT, kbId: KB })));
      }
    },
    async search(query, topK) {
      return index.search(TENANT, [KB], query, topK).map((hit) => hit.id);
    },
    async close() {
      index.close();
    },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const withFts5 = args.includes('--fts5');
  const copiesArg = args.indexOf('--copies');
  const copiesList = copiesArg >= 0 ? args[copiesArg + 1].split(',').map(Number) : [1, 20];
  const datasets = args.filter((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--copies');
  const makers = [embeddedEngine, ...(withFts5 ? [fts5Engine] : [])];

  for (const name of datasets.length > 0 ? datasets : ['scifact', 'cmrc2018-trial']) {
    const dataset = loadBeirDataset(datasetDir(name));
    for (const make of makers) {
      const dir = mkdtempSync(join(tmpdir(), 'lexical-bench-'));
      const engine = make(dir);
      await engine.load(dataset.corpus.map((d) => ({ id: d.id, text: documentText(d) })));
      const run: Run = new Map();
      for (const query of dataset.queries) run.set(query.id, await engine.search(query.text, 100));
      const scores = evaluateRun(run, dataset.qrels);
      console.log(
        `${name} | ${engine.name} | nDCG@10 ${scores.ndcg10.toFixed(4)} | Recall@100 ${scores.recall100.toFixed(4)} | MRR@10 ${scores.mrr10.toFixed(4)} | ${scores.queries} queries`,
      );
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const scifact = loadBeirDataset(datasetDir('scifact'));
  const queries = scifact.queries.map((q) => q.text);
  for (const copies of copiesList) {
    const records = [...corpusCopies(scifact.corpus, copies)];
    for (const make of makers) {
      const dir = mkdtempSync(join(tmpdir(), 'lexical-bench-'));
      const engine = make(dir);
      const loadStart = performance.now();
      await engine.load(records);
      const loadMs = performance.now() - loadStart;
      await engine.search(queries[0], 10); // builds the in-memory index
      const warm = performance.now() - loadStart - loadMs;
      const total = Math.max(600, queries.length * 2);
      const single = await measureConcurrent(1, total, (i) => engine.search(queries[i % queries.length], 10));
      const sixteen = await measureConcurrent(16, total, (i) => engine.search(queries[i % queries.length], 10));
      console.log(
        `${records.length} chunks | ${engine.name} | load ${(loadMs / 1000).toFixed(1)} s, first query ${warm.toFixed(0)} ms | 1 caller: ${formatLatency(single)} | 16 callers: ${formatLatency(sixteen)} | rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
      );
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

void main();
