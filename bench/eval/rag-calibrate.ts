/**
 * `npm run eval:rag:calibrate -- <dir>[:split] ... [--check <dir>[:split] ...] [--write]`
 *
 * Fits the offline relevance grader (ISREL, `src/rag/offline/relevance-model.ts`) on labelled
 * retrievals and chooses its abstention threshold. Each set is ingested through the API with the
 * eval:rag hold-out (documents 0, 2, 4, … ingested), each question retrieved as the RAG pipeline
 * retrieves it (hybrid, top 5), and each passage labelled relevant when its document is one of the
 * question's gold documents. A logistic model over the passages' evidence is fitted (each set
 * weighing the same); per script of the question, the threshold is the highest at which the
 * training sets refuse at most 5 % of their answerable questions (none of their passages passes). `--check` sets are only scored.
 * `--write` writes the result to `src/rag/offline/relevance-calibration.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBeirDataset } from '../quality/beir';
import { EVIDENCE_FEATURES, relevanceEvidence, type RelevanceEvidence } from '../../src/rag/offline/relevance-evidence';
import { questionScript, relevanceProbability, type LogisticModel, type QuestionScript } from '../../src/rag/offline/relevance-model';
import type { Passage } from '../../src/rag/reasoner';
import { evalQuestions, ingestedHalf } from './rag-scoring';
import { client, loadCorpus, REPO_ROOT, startService } from './service-child';

const RAG_TOP_K = 5;
/** the relevance step may refuse at most this share of a training set's answerable questions (the issue's bound) */
const MAX_ANSWERABLE_REFUSALS = 0.05;

interface LabelledQuestion {
  set: string;
  query: string;
  answerable: boolean;
  retrieved: Passage[];
  relevant: boolean[];
  /** computed from `retrieved` with the evidence code as it is now */
  passages: Array<{ evidence: RelevanceEvidence; relevant: boolean }>;
}

interface RetrievedChunk {
  chunk_id: string;
  document_id: string;
  text: string;
  score: number;
  document_title: string | null;
  metadata: { source_id?: string };
  explain?: { dense_score: number | null; sparse_score: number | null };
}

/** the questions of each `dir:split` spec; each directory is ingested once for all its splits */
async function collect(specs: string[]): Promise<Map<string, LabelledQuestion[]>> {
  const collected = new Map<string, LabelledQuestion[]>();
  const dirs = [...new Set(specs.map((spec) => spec.split(':')[0]))];
  for (const dir of dirs) {
    const corpus = loadBeirDataset(resolve(dir), specs.find((s) => s.startsWith(`${dir}:`))?.split(':')[1] ?? 'test').corpus;
    const ingested = ingestedHalf(corpus);
    const service = await startService({ OTEL_SDK_DISABLED: 'true' });
    try {
      const { kbId, readKey } = await loadCorpus(service.baseUrl, ingested, {
        onProgress: (done, total) => process.stderr.write(`\r  ${dir}: indexed ${done}/${total}`),
      });
      process.stderr.write('\n');
      const call = client(service.baseUrl, readKey);
      for (const spec of specs.filter((s) => s.split(':')[0] === dir)) {
        const split = spec.split(':')[1] ?? 'test';
        const dataset = loadBeirDataset(resolve(dir), split);
        const questions = evalQuestions(dataset.queries, dataset.qrels, new Set(ingested.map((d) => d.id))).filter((q) =>
          /[\p{L}\p{N}]/u.test(q.text),
        );
        const name = shortName(spec);
        process.stderr.write(`${name}: ${ingested.length} documents ingested, ${questions.length} questions\n`);
        const labelled: LabelledQuestion[] = [];
        for (const question of questions) {
          const res = await call<{ results: RetrievedChunk[] }>('POST', '/v1/retrieve', {
            query: question.text.slice(0, 4000),
            kb_ids: [kbId],
            retriever: 'hybrid',
            top_k: RAG_TOP_K,
            explain: true,
          });
          if (res.status !== 200) throw new Error(`retrieve failed for ${question.id}: ${res.status}`);
          const passages: Passage[] = res.body.results.map((r, i) => ({
            n: i + 1,
            chunkId: r.chunk_id,
            documentId: r.document_id,
            kbId,
            text: r.text,
            title: r.document_title,
            score: r.score,
            signals: { denseScore: r.explain?.dense_score ?? null, sparseScore: r.explain?.sparse_score ?? null },
          }));
          labelled.push({
            set: name,
            query: question.text,
            answerable: question.goldDocuments.size > 0,
            retrieved: passages,
            relevant: res.body.results.map((r) => question.goldDocuments.has(r.metadata.source_id ?? '')),
            passages: [],
          });
        }
        collected.set(spec, labelled);
      }
    } finally {
      await service.stop();
    }
  }
  return collected;
}

/** L2-regularised logistic regression by full-batch gradient descent; features are in 0..1 */
function fit(rows: Array<{ x: number[]; y: number; weight: number }>): { weights: number[]; bias: number } {
  const dims = EVIDENCE_FEATURES.length;
  const weights = new Array<number>(dims).fill(0);
  let bias = 0;
  const totalWeight = rows.reduce((s, r) => s + r.weight, 0);
  const lambda = 1e-3;
  const rate = 2;
  for (let iteration = 0; iteration < 4000; iteration++) {
    const gradient = new Array<number>(dims).fill(0);
    let gradientBias = 0;
    for (const row of rows) {
      let z = bias;
      for (let d = 0; d < dims; d++) z += weights[d] * row.x[d];
      const error = (1 / (1 + Math.exp(-z)) - row.y) * row.weight;
      for (let d = 0; d < dims; d++) gradient[d] += error * row.x[d];
      gradientBias += error;
    }
    for (let d = 0; d < dims; d++) weights[d] -= rate * (gradient[d] / totalWeight + lambda * weights[d]);
    bias -= (rate * gradientBias) / totalWeight;
  }
  return { weights, bias };
}

interface Rates {
  abstainAnswerable: number;
  abstainUnanswerable: number;
  /** answerable questions whose best passage is a gold one and is kept */
  goldKept: number;
}

function rates(questions: LabelledQuestion[], model: LogisticModel): Rates {
  let answerable = 0;
  let abstainAnswerable = 0;
  let unanswerable = 0;
  let abstainUnanswerable = 0;
  let goldKept = 0;
  for (const question of questions) {
    const probabilities = question.passages.map((p) => relevanceProbability(p.evidence, model));
    const threshold = model.thresholds[questionScript(question.query)];
    const abstains = !probabilities.some((p) => p >= threshold);
    if (question.answerable) {
      answerable++;
      if (abstains) abstainAnswerable++;
      if (question.passages.some((p, i) => p.relevant && probabilities[i] >= threshold)) goldKept++;
    } else {
      unanswerable++;
      if (abstains) abstainUnanswerable++;
    }
  }
  return {
    abstainAnswerable: abstainAnswerable / Math.max(1, answerable),
    abstainUnanswerable: abstainUnanswerable / Math.max(1, unanswerable),
    goldKept: goldKept / Math.max(1, answerable),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const checkAt = argv.indexOf('--check');
  const write = argv.includes('--write');
  const positional = argv.filter((a, i) => a !== '--write' && a !== '--curve' && !['--save', '--load'].includes(argv[i - 1] ?? ''));
  const trainSpecs = (checkAt < 0 ? positional : positional.slice(0, positional.indexOf('--check'))).filter((a) => !a.startsWith('--'));
  const checkSpecs = checkAt < 0 ? [] : positional.slice(positional.indexOf('--check') + 1).filter((a) => !a.startsWith('--'));
  if (trainSpecs.length === 0) {
    process.stderr.write('usage: npm run eval:rag:calibrate -- <dir>[:split] ... [--check <dir>[:split] ...] [--write]\n');
    process.exit(2);
  }
  // --save / --load keep the retrievals, so that the evidence code can change without re-ingesting
  const saveAt = argv.indexOf('--save');
  const loadAt = argv.indexOf('--load');
  let train: LabelledQuestion[] = [];
  let check: LabelledQuestion[];
  if (loadAt >= 0) {
    const saved = JSON.parse(readFileSync(argv[loadAt + 1], 'utf8')) as { train: LabelledQuestion[]; check: LabelledQuestion[] };
    const all = [...saved.train, ...saved.check];
    train = all.filter((q) => trainSpecs.map(shortName).includes(q.set));
    check = all.filter((q) => checkSpecs.map(shortName).includes(q.set));
  } else {
    const collected = await collect([...trainSpecs, ...checkSpecs]);
    train = trainSpecs.flatMap((spec) => collected.get(spec)!);
    check = checkSpecs.flatMap((spec) => collected.get(spec)!);
  }
  if (saveAt >= 0) writeFileSync(argv[saveAt + 1], JSON.stringify({ train, check }));
  for (const question of [...train, ...check]) {
    const evidence = relevanceEvidence(question.query, question.retrieved);
    question.passages = question.retrieved.map((_, i) => ({ evidence: evidence[i], relevant: question.relevant[i] }));
  }

  const sets = [...new Set(train.map((q) => q.set))];
  const rows = train.flatMap((q) => {
    const setSize = train.filter((other) => other.set === q.set).length;
    return q.passages.map((p) => ({ x: EVIDENCE_FEATURES.map((f) => p.evidence[f]), y: p.relevant ? 1 : 0, weight: 1000 / setSize }));
  });
  const fitted = fit(rows);
  const base = {
    weights: Object.fromEntries(EVIDENCE_FEATURES.map((f, d) => [f, round(fitted.weights[d])])) as LogisticModel['weights'],
    bias: round(fitted.bias),
  };

  // a threshold per script of the question (Han pairs are characters, others words): the highest
  // at which no training set of that script refuses more than MAX_ANSWERABLE_REFUSALS of its
  // answerable questions; higher refuses more unanswerable ones
  const thresholds: Record<QuestionScript, number> = { han: 0.5, other: 0.5 };
  for (const script of ['han', 'other'] as const) {
    const scriptSets = sets.filter((set) => train.some((q) => q.set === set && questionScript(q.query) === script));
    let chosen = 0.01;
    for (let t = 0.01; t < 0.99; t += 0.01) {
      const model = { ...base, thresholds: { han: round(t), other: round(t) } };
      const within = scriptSets.every(
        (set) =>
          rates(
            train.filter((q) => q.set === set && questionScript(q.query) === script),
            model,
          ).abstainAnswerable <= MAX_ANSWERABLE_REFUSALS,
      );
      if (within) chosen = round(t);
      else break;
    }
    thresholds[script] = chosen;
  }
  const model: LogisticModel = { ...base, thresholds };
  if (argv.includes('--curve')) {
    for (const set of sets) {
      for (let t = 0.05; t < 0.95; t += 0.05) {
        const r = rates(
          train.filter((q) => q.set === set),
          { ...base, thresholds: { han: t, other: t } },
        );
        process.stdout.write(
          `${set} t=${t.toFixed(2)} abstain answerable ${r.abstainAnswerable.toFixed(3)} unanswerable ${r.abstainUnanswerable.toFixed(3)}\n`,
        );
      }
    }
  }
  process.stdout.write(
    `\nfitted on ${trainSpecs.join(', ')}: ${JSON.stringify(model)}\n\n| set | role | abstained, answerable | abstained, unanswerable | gold passage kept |\n|---|---|---|---|---|\n`,
  );
  for (const [role, questions] of [
    ['train', train],
    ['check', check],
  ] as const) {
    for (const set of [...new Set(questions.map((q) => q.set))]) {
      const r = rates(
        questions.filter((q) => q.set === set),
        model,
      );
      process.stdout.write(
        `| ${set} | ${role} | ${r.abstainAnswerable.toFixed(3)} | ${r.abstainUnanswerable.toFixed(3)} | ${r.goldKept.toFixed(3)} |\n`,
      );
    }
  }
  if (write) {
    const path = join(REPO_ROOT, 'src', 'rag', 'offline', 'relevance-calibration.ts');
    writeFileSync(
      path,
      `import type { LogisticModel } from './relevance-model';\n\n` +
        `/**\n * Written by \`npm run eval:rag:calibrate -- ${[...trainSpecs.map(shortName), ...(checkSpecs.length ? ['--check', ...checkSpecs.map(shortName)] : [])].join(' ')} --write\`:\n` +
        ` * fitted on ${trainSpecs.map(shortName).join(' and ')}; do not edit by hand, calibrate again.\n */\n` +
        `export const RELEVANCE_CALIBRATION: LogisticModel = ${JSON.stringify(model, null, 2)};\n`,
    );
    process.stderr.write(`wrote ${path}\n`);
  }
}

function shortName(spec: string): string {
  const [dir, split] = spec.split(':');
  return `${dir.split('/').filter(Boolean).pop()}${split ? `:${split}` : ''}`;
}

function round(value: number): number {
  return Math.round(value * 10000) / 10000;
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
