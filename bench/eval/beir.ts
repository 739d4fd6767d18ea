/**
 * `npm run eval:beir -- <dataset dir> [--split test] [--queries N] [--chunk-size N]`
 *
 * Ingests a BEIR data set through the service's own pipeline (the built service as a child
 * process on a temp DATA_DIR, documents uploaded through the API, as a client would) and prints
 * nDCG@10, Recall@100 and MRR@10 of the dense, sparse and hybrid retrievers as a table.
 * Chunks are mapped back to their document (`metadata.source_id`); a document ranks where its best
 * chunk ranks, as BEIR judges documents.
 */
import { resolve } from 'node:path';
import { evaluateRun, loadBeirDataset, type Run } from '../quality/beir';
import { client, loadCorpus, startService } from './service-child';

const RETRIEVERS = ['dense', 'sparse', 'hybrid'] as const;
const TOP_K = 100;

interface Options {
  dir: string;
  split: string;
  queries?: number;
  chunkSize?: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { dir: '', split: 'test' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--split') options.split = argv[++i];
    else if (arg === '--queries') options.queries = Number(argv[++i]);
    else if (arg === '--chunk-size') options.chunkSize = Number(argv[++i]);
    else if (!arg.startsWith('--')) options.dir = resolve(arg);
  }
  if (!options.dir) {
    process.stderr.write('usage: npm run eval:beir -- <BEIR dataset dir> [--split test] [--queries N] [--chunk-size N]\n');
    process.exit(2);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dataset = loadBeirDataset(options.dir, options.split);
  const queries = options.queries ? dataset.queries.slice(0, options.queries) : dataset.queries;
  const qrels = new Map([...dataset.qrels].filter(([id]) => queries.some((q) => q.id === id)));
  log(`${options.dir}: ${dataset.corpus.length} documents, ${queries.length} ${options.split} queries`);

  const service = await startService({ OTEL_SDK_DISABLED: 'true' });
  try {
    const started = Date.now();
    const { kbId, readKey } = await loadCorpus(
      service.baseUrl,
      dataset.corpus.map((d) => ({ id: d.id, title: d.title, text: d.text })),
      {
        chunker: options.chunkSize ? { type: 'recursive', chunk_size: options.chunkSize, chunk_overlap: 0 } : undefined,
        onProgress: (done, total) => process.stderr.write(`\r  indexed ${done}/${total}`),
      },
    );
    process.stderr.write('\n');
    log(`ingested through the API in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const call = client(service.baseUrl, readKey);
    const rows: string[] = [];
    const refused = new Set<string>();
    for (const retriever of RETRIEVERS) {
      const run: Run = new Map();
      const latencies: number[] = [];
      for (const query of queries) {
        const t0 = performance.now();
        const res = await call<{ results: Array<{ metadata: { source_id?: string } }> }>('POST', '/v1/retrieve', {
          query: query.text.slice(0, 4000),
          kb_ids: [kbId],
          retriever,
          top_k: TOP_K,
        });
        latencies.push(performance.now() - t0);
        if (res.status === 422) {
          // e.g. an empty query in the data set: the API refuses it, the query scores 0
          refused.add(query.id);
          run.set(query.id, []);
          continue;
        }
        if (res.status !== 200) throw new Error(`retrieve failed for query ${query.id}: ${res.status} ${JSON.stringify(res.body)}`);
        const ranked: string[] = [];
        for (const result of res.body.results) {
          const id = result.metadata.source_id;
          if (id !== undefined && !ranked.includes(id)) ranked.push(id);
        }
        run.set(query.id, ranked);
      }
      const scores = evaluateRun(run, qrels);
      latencies.sort((a, b) => a - b);
      const p50 = latencies[Math.floor(latencies.length / 2)];
      rows.push(
        `| ${retriever} | ${scores.ndcg10.toFixed(3)} | ${scores.recall100.toFixed(3)} | ${scores.mrr10.toFixed(3)} | ${p50.toFixed(1)} |`,
      );
    }
    const name = options.dir.split('/').filter(Boolean).pop();
    process.stdout.write(`\n${name} (${options.split}, ${queries.length} queries, ${dataset.corpus.length} documents)\n\n`);
    process.stdout.write('| retriever | nDCG@10 | Recall@100 | MRR@10 | p50 ms (sequential) |\n|---|---|---|---|---|\n');
    process.stdout.write(`${rows.join('\n')}\n`);
    if (refused.size > 0)
      process.stdout.write(
        `\n${refused.size} queries refused with 422 (e.g. empty text) score 0: ${[...refused].slice(0, 5).join(', ')}\n`,
      );
  } finally {
    await service.stop();
  }
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
