import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** the data sets beside the checkout, or BENCH_DATA_DIR (a worktree elsewhere) */
export const SHARED_DATA = process.env.BENCH_DATA_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'data');

export interface CorpusDoc {
  _id: string;
  title: string;
  text: string;
}

/** Reads a BEIR corpus.jsonl or corpus.jsonl.gz. */
export function readCorpus(dir: string): CorpusDoc[] {
  const gz = path.join(dir, 'corpus.jsonl.gz');
  const raw = fs.existsSync(gz)
    ? zlib.gunzipSync(fs.readFileSync(gz)).toString('utf8')
    : fs.readFileSync(path.join(dir, 'corpus.jsonl'), 'utf8');
  return raw
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as CorpusDoc);
}

export function readQueries(dir: string): Array<{ _id: string; text: string }> {
  return fs
    .readFileSync(path.join(dir, 'queries.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}
