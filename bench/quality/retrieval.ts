/**
 * nDCG@10, Recall@100 and MRR@10 of sparse, dense and hybrid (RRF k=60) retrieval made of this
 * repository's components (analyzer, BM25, offline embedder), on BEIR data sets, no HTTP:
 *   npx tsx bench/quality/retrieval.ts [--split test] [dataset …]   (default: scifact cmrc2018-trial)
 * Hybrid is printed for several dense weights (sparse weight 1).
 */
import { evaluateRun, loadBeirDataset, RetrievalScores } from './beir';
import { componentRuns, hybridRun } from './components';
import { datasetDir } from './datasets';

const DENSE_WEIGHTS = [1, 0.5, 0.3, 0.1];

function row(label: string, scores: RetrievalScores): string {
  return `| ${label} | ${scores.ndcg10.toFixed(4)} | ${scores.recall100.toFixed(4)} | ${scores.mrr10.toFixed(4)} |`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const splitAt = args.indexOf('--split');
  const split = splitAt >= 0 ? args[splitAt + 1] : 'test';
  const names = args.filter((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--split');
  for (const name of names.length > 0 ? names : ['scifact', 'cmrc2018-trial']) {
    const dataset = loadBeirDataset(datasetDir(name), split);
    const runs = await componentRuns(dataset);
    console.log(`\n${name} (${split}, ${dataset.queries.length} queries, ${dataset.corpus.length} documents)\n`);
    console.log('| retriever | nDCG@10 | Recall@100 | MRR@10 |\n|---|---|---|---|');
    console.log(row('sparse (BM25)', evaluateRun(runs.sparse, dataset.qrels)));
    console.log(row('dense (offline-hash-v1)', evaluateRun(runs.dense, dataset.qrels)));
    for (const weight of DENSE_WEIGHTS) {
      console.log(row(`hybrid RRF k=60, sparse 1 / dense ${weight}`, evaluateRun(hybridRun(runs, 1, weight), dataset.qrels)));
    }
  }
}

void main();
