import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

/**
 * BEIR data sets and the metrics BEIR reports (pytrec_eval definitions), for the quality benches
 * here and for `npm run eval:beir`. A data set directory holds `corpus.jsonl[.gz]`,
 * `queries.jsonl[.gz]` and `qrels/<split>.tsv`.
 */
export interface BeirDocument {
  id: string;
  title: string;
  text: string;
}

export interface BeirQuery {
  id: string;
  text: string;
}

/** query id → document id → graded relevance (> 0 is relevant) */
export type Qrels = Map<string, Map<string, number>>;

/** query id → ranked document ids, best first */
export type Run = Map<string, string[]>;

export interface BeirDataset {
  corpus: BeirDocument[];
  /** only the queries judged in the split */
  queries: BeirQuery[];
  qrels: Qrels;
}

export function loadBeirDataset(dir: string, split = 'test'): BeirDataset {
  const qrels = loadQrels(join(dir, 'qrels', `${split}.tsv`));
  const queries = loadQueries(findJsonl(dir, 'queries')).filter((query) => qrels.has(query.id));
  return { corpus: loadCorpus(findJsonl(dir, 'corpus')), queries, qrels };
}

export function loadCorpus(path: string): BeirDocument[] {
  return readJsonl(path).map((row) => ({
    id: String(row._id),
    title: typeof row.title === 'string' ? row.title : '',
    text: typeof row.text === 'string' ? row.text : '',
  }));
}

export function loadQueries(path: string): BeirQuery[] {
  return readJsonl(path).map((row) => ({ id: String(row._id), text: typeof row.text === 'string' ? row.text : '' }));
}

/** `query-id<TAB>corpus-id<TAB>score`, with or without a header line */
export function loadQrels(path: string): Qrels {
  const qrels: Qrels = new Map();
  for (const line of readText(path).split('\n')) {
    const [queryId, docId, score] = line.trim().split('\t');
    if (!queryId || !docId || score === undefined) continue;
    const relevance = Number(score);
    if (!Number.isFinite(relevance)) continue; // the header
    let judged = qrels.get(queryId);
    if (!judged) qrels.set(queryId, (judged = new Map()));
    judged.set(docId, relevance);
  }
  return qrels;
}

function findJsonl(dir: string, name: string): string {
  for (const candidate of [`${name}.jsonl`, `${name}.jsonl.gz`]) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  throw new Error(`no ${name}.jsonl or ${name}.jsonl.gz in ${dir}`);
}

function readText(path: string): string {
  const bytes = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

function readJsonl(path: string): Record<string, unknown>[] {
  return readText(path)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** nDCG@k with linear gains, as pytrec_eval (`ndcg_cut`) computes it */
export function ndcgAtK(ranked: readonly string[], judged: ReadonlyMap<string, number>, k = 10): number {
  let dcg = 0;
  ranked.slice(0, k).forEach((docId, rank) => {
    const gain = judged.get(docId) ?? 0;
    if (gain > 0) dcg += gain / Math.log2(rank + 2);
  });
  const ideal = [...judged.values()]
    .filter((gain) => gain > 0)
    .sort((a, b) => b - a)
    .slice(0, k);
  const idcg = ideal.reduce((sum, gain, rank) => sum + gain / Math.log2(rank + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

export function recallAtK(ranked: readonly string[], judged: ReadonlyMap<string, number>, k = 100): number {
  const relevant = [...judged].filter(([, gain]) => gain > 0).map(([docId]) => docId);
  if (relevant.length === 0) return 0;
  const top = new Set(ranked.slice(0, k));
  return relevant.filter((docId) => top.has(docId)).length / relevant.length;
}

export function mrrAtK(ranked: readonly string[], judged: ReadonlyMap<string, number>, k = 10): number {
  const rank = ranked.slice(0, k).findIndex((docId) => (judged.get(docId) ?? 0) > 0);
  return rank < 0 ? 0 : 1 / (rank + 1);
}

export interface RetrievalScores {
  ndcg10: number;
  recall100: number;
  mrr10: number;
  queries: number;
}

/** means over every judged query; a query missing from the run scores 0 */
export function evaluateRun(run: Run, qrels: Qrels): RetrievalScores {
  let ndcg10 = 0;
  let recall100 = 0;
  let mrr10 = 0;
  for (const [queryId, judged] of qrels) {
    const ranked = run.get(queryId) ?? [];
    ndcg10 += ndcgAtK(ranked, judged, 10);
    recall100 += recallAtK(ranked, judged, 100);
    mrr10 += mrrAtK(ranked, judged, 10);
  }
  const queries = qrels.size;
  return { ndcg10: ndcg10 / queries, recall100: recall100 / queries, mrr10: mrr10 / queries, queries };
}

/** the text a BEIR document is indexed as: title and body, as BEIR's baselines do */
export function documentText(document: BeirDocument): string {
  return document.title ? `${document.title}\n${document.text}` : document.text;
}

/** reciprocal rank fusion: Σ weight / (k + rank), rank from 1 */
export function reciprocalRankFusion(rankings: readonly { ids: readonly string[]; weight: number }[], k = 60): string[] {
  const fused = new Map<string, number>();
  for (const { ids, weight } of rankings) {
    ids.forEach((id, index) => fused.set(id, (fused.get(id) ?? 0) + weight / (k + index + 1)));
  }
  return [...fused].sort((a, b) => b[1] - a[1]).map(([id]) => id);
}
