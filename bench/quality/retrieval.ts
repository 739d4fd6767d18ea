/**
 * nDCG@10, Recall@100 and MRR@10 of sparse, dense and hybrid retrieval made of this repository's
 * components (analyzer, BM25, offline embedder, the service's fusion functions), on BEIR data
 * sets, no HTTP:
 *   npx tsx bench/quality/retrieval.ts [--split test] [--model offline-hash-v2] [--depth 50] [--chunked] [dataset …]
 * (default data sets: scifact cmrc2018-trial). `--chunked` indexes the chunks the service indexes
 * (default chunker) and ranks a document where its best chunk ranks, as `npm run eval:beir`
 * measures through the service; without it each document is one unit. Hybrid is printed for the convex combination and
 * for RRF k=60 at several dense weights (sparse weight 1); `--depth` is how many candidates each
 * retriever hands to fusion (the service hands max(top_k, 50)).
 */
import { DEFAULT_OFFLINE_MODEL } from '../../src/embeddings/offline';
import { evaluateRun, loadBeirDataset, RetrievalScores } from './beir';
import { componentRuns, hybridRun } from './components';
import { datasetDir } from './datasets';

const CONVEX_DENSE_WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.8, 1];
const RRF_DENSE_WEIGHTS = [1, 0.3, 0.1, 0.02];

function row(label: string, scores: RetrievalScores): string {
  return `| ${label} | ${scores.ndcg10.toFixed(4)} | ${scores.recall100.toFixed(4)} | ${scores.mrr10.toFixed(4)} |`;
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const split = option(args, '--split') ?? 'test';
  const model = option(args, '--model') ?? DEFAULT_OFFLINE_MODEL;
  const depth = Number(option(args, '--depth') ?? 100);
  const chunked = args.includes('--chunked');
  const names = args.filter((arg, i) => !arg.startsWith('--') && !(args[i - 1]?.startsWith('--') && args[i - 1] !== '--chunked'));
  for (const name of names.length > 0 ? names : ['scifact', 'cmrc2018-trial']) {
    const dataset = loadBeirDataset(datasetDir(name), split);
    const runs = await componentRuns(dataset, 100, model, { chunked });
    console.log(
      `\n${name} (${split}, ${dataset.queries.length} queries, ${dataset.corpus.length} documents${chunked ? ', chunked as the service' : ''}; fusion depth ${depth})\n`,
    );
    console.log('| retriever | nDCG@10 | Recall@100 | MRR@10 |\n|---|---|---|---|');
    console.log(row('sparse (BM25)', evaluateRun(runs.sparse, dataset.qrels)));
    console.log(row(`dense (${model})`, evaluateRun(runs.dense, dataset.qrels)));
    for (const weight of CONVEX_DENSE_WEIGHTS) {
      console.log(
        row(
          `hybrid convex, sparse 1 / dense ${weight}`,
          evaluateRun(hybridRun(runs, { method: 'convex', sparseWeight: 1, denseWeight: weight, depth }), dataset.qrels),
        ),
      );
    }
    for (const weight of RRF_DENSE_WEIGHTS) {
      console.log(
        row(
          `hybrid RRF k=60, sparse 1 / dense ${weight}`,
          evaluateRun(hybridRun(runs, { method: 'rrf', sparseWeight: 1, denseWeight: weight, depth }), dataset.qrels),
        ),
      );
    }
  }
}

void main();
