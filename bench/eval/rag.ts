/**
 * `npm run eval:rag -- <dataset dir> [--split test] [--queries N] [--modes standard,self-rag] [--dump file.jsonl]`
 *
 * Answer-level evaluation through the service's own HTTP pipeline (the built service as a child
 * process, documents uploaded through the API, as `eval:beir` does). Documents 0, 2, 4, … of the
 * corpus are ingested and the others held out, so the questions whose relevant documents were all
 * held out are unanswerable. Every question is asked in each mode; the table reports, per mode:
 * the share of answerable questions whose answer holds a gold span (`answers.jsonl`, when the set
 * has one) and that cite a gold document, the share of abstentions (a reply that cites nothing) on
 * answerable and unanswerable questions, rounds and LLM calls per question, and p50/p95 latency.
 *
 * The answerer is whatever the service is configured with: the offline one by default, or an LLM
 * when LLM_PROVIDER (and LLM_BASE_URL, LLM_MODEL, LLM_API_KEY) are set in this process's env.
 * LLM calls are read from the service's `llm_calls_total` counter around each question.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBeirDataset } from '../quality/beir';
import { evalQuestions, holdsGoldSpan, ingestedHalf, markdownTable, summarize, type AnswerRecord, type EvalQuestion } from './rag-scoring';
import { startFakeLlmServer, type ChatCall } from '../../test/support/fake-llm-server';
import { client, freePort, loadCorpus, startService } from './service-child';

const MODES = ['standard', 'self-rag'] as const;
/** the service's settings that choose and reach the answerer and embedder travel to the child */
const FORWARDED_ENV = /^(LLM_|EMBEDDING_|RERANK_|SELF_RAG_|HYBRID_)/;
/** the API's own limit on a query */
const MAX_QUERY_CHARS = 4000;

interface Options {
  dir: string;
  /** answer with the protocol-level fake LLM of the tests: checks prompts, parsing and counting, not quality */
  fakeLlm: boolean;
  split: string;
  queries?: number;
  modes: string[];
  dump?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { dir: '', split: 'test', modes: [...MODES], fakeLlm: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--split') options.split = argv[++i];
    else if (arg === '--queries') options.queries = Number(argv[++i]);
    else if (arg === '--modes') options.modes = argv[++i].split(',');
    else if (arg === '--dump') options.dump = resolve(argv[++i]);
    else if (arg === '--fake-llm') options.fakeLlm = true;
    else if (!arg.startsWith('--')) options.dir = resolve(arg);
  }
  if (!options.dir || options.modes.some((m) => !(MODES as readonly string[]).includes(m))) {
    process.stderr.write(
      'usage: npm run eval:rag -- <dataset dir> [--split test] [--queries N] [--modes standard,self-rag] [--dump file.jsonl] [--fake-llm]\n',
    );
    process.exit(2);
  }
  return options;
}

function loadAnswers(dir: string): Map<string, string[]> | undefined {
  const path = join(dir, 'answers.jsonl');
  if (!existsSync(path)) return undefined;
  const answers = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as { _id: string; answers?: unknown };
    if (Array.isArray(row.answers))
      answers.set(
        String(row._id),
        row.answers.filter((a): a is string => typeof a === 'string'),
      );
  }
  return answers;
}

interface RagAnswer {
  answer: string;
  citations: Array<{ document_id: string }>;
  reflection: { rounds: number };
  answerer: string;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dataset = loadBeirDataset(options.dir, options.split);
  const answers = loadAnswers(options.dir);
  const ingested = ingestedHalf(dataset.corpus);
  const ingestedIds = new Set(ingested.map((d) => d.id));
  let questions = evalQuestions(dataset.queries, dataset.qrels, ingestedIds, answers);
  if (options.queries) questions = questions.slice(0, options.queries);
  const answerable = questions.filter((q) => q.goldDocuments.size > 0).length;
  log(
    `${options.dir}: ${ingested.length} of ${dataset.corpus.length} documents ingested; ${questions.length} ${options.split} questions, ${answerable} answerable`,
  );

  const fake = options.fakeLlm ? await startFakeLlmServer() : undefined;
  fake?.onChat(formatOnlyModel);
  const forwarded = fake
    ? { LLM_PROVIDER: 'openai', LLM_BASE_URL: `${fake.url}/v1`, LLM_API_KEY: 'sk-eval-fake-llm', LLM_MODEL: 'fake-chat' }
    : Object.fromEntries(
        Object.entries(process.env).filter((entry): entry is [string, string] => FORWARDED_ENV.test(entry[0]) && entry[1] !== undefined),
      );
  const metricsPort = await freePort();
  const service = await startService({
    ...forwarded,
    // telemetry on, exporters off: the LLM call counter is read from /metrics
    METRICS_PORT: String(metricsPort),
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  try {
    const started = Date.now();
    const { kbId, readKey, sourceIds } = await loadCorpus(
      service.baseUrl,
      ingested.map((d) => ({ id: d.id, title: d.title, text: d.text })),
      { onProgress: (done, total) => process.stderr.write(`\r  indexed ${done}/${total}`) },
    );
    process.stderr.write('\n');
    log(`ingested through the API in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const call = client(service.baseUrl, readKey);
    const records: AnswerRecord[] = [];
    const dump: unknown[] = [];
    let answerer = '';
    const refused = new Set<string>();
    for (const mode of options.modes) {
      for (const [i, question] of questions.entries()) {
        const callsBefore = await llmCalls(metricsUrl);
        const t0 = performance.now();
        const res = await call<RagAnswer>('POST', '/v1/rag', { query: question.text.slice(0, MAX_QUERY_CHARS), kb_ids: [kbId], mode });
        const latencyMs = performance.now() - t0;
        if (res.status === 422) {
          // e.g. a question of punctuation only: the API refuses it, it is not scored
          refused.add(question.id);
          continue;
        }
        if (res.status !== 200) throw new Error(`${mode} answer to ${question.id} failed: ${res.status} ${JSON.stringify(res.body)}`);
        answerer = res.body.answerer;
        const record = score(mode, question, res.body, sourceIds, latencyMs, (await llmCalls(metricsUrl)) - callsBefore);
        records.push(record);
        if (options.dump) dump.push({ ...record, query: question.text, gold: [...question.goldDocuments], response: res.body });
        if ((i + 1) % 50 === 0) process.stderr.write(`\r  ${mode}: ${i + 1}/${questions.length}`);
      }
      process.stderr.write('\n');
    }
    if (options.dump) writeFileSync(options.dump, dump.map((row) => JSON.stringify(row)).join('\n') + '\n');

    const name = options.dir.split('/').filter(Boolean).pop();
    const summaries = options.modes.map((mode) =>
      summarize(
        mode,
        records.filter((r) => r.mode === mode),
      ),
    );
    process.stdout.write(
      `\n${name} (${options.split}; answerer ${answerer}; ${ingested.length}/${dataset.corpus.length} documents ingested; ` +
        `${summaries[0].answerable} answerable, ${summaries[0].unanswerable} unanswerable questions; sequential)\n\n`,
    );
    process.stdout.write(`${markdownTable(summaries)}\n`);
    const malformed = await malformedVerdicts(metricsUrl);
    if (answerer !== 'offline') process.stdout.write(`\nverdicts the service could not read (malformed): ${malformed}\n`);
    if (refused.size > 0)
      process.stdout.write(`\n${refused.size} questions refused with 422 (not scored): ${[...refused].slice(0, 5).join(', ')}\n`);
  } finally {
    await service.stop();
    await fake?.close();
  }
}

/**
 * A model that follows every prompt's output format with trivial content (relevant when the
 * passage shares a word with the question; answers cite passage 1), so that the LLM path's prompts,
 * parsing and call counting run end to end.
 */
function formatOnlyModel(call: ChatCall): string {
  const task = /^Task: ([a-z-]+)/.exec(call.messages[0]?.content ?? '')?.[1];
  const user = call.lastUserMessage;
  switch (task) {
    case 'retrieve-decision':
      return '{"retrieve": true}';
    case 'relevance-grade': {
      const [question = '', passage = ''] = user.split(/\n\s*\n/);
      const words = new Set(question.toLowerCase().match(/[\p{Script=Han}]{2}|[\p{L}\p{N}]{4,}/gu) ?? []);
      const shared = [...words].filter((w) => passage.toLowerCase().includes(w)).length;
      return JSON.stringify({ relevant: shared >= 2, score: shared >= 2 ? 0.8 : 0.2 });
    }
    case 'answer':
      return `${
        user
          .split('\n')
          .find((line) => /^\[1\]/.test(line))
          ?.slice(3, 200) ?? 'No passage.'
      } [1]`;
    case 'support-grade':
      return '{"supported": true, "score": 1}';
    case 'usefulness-grade':
      return '{"useful": true, "score": 4}';
    case 'query-rewrite':
      return JSON.stringify({ query: user.slice(0, 200) });
    default:
      return 'unexpected task';
  }
}

async function malformedVerdicts(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('rag_operations_total') && line.includes('status="malformed"'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  return total;
}

function score(
  mode: string,
  question: EvalQuestion,
  body: RagAnswer,
  sourceIds: ReadonlyMap<string, string>,
  latencyMs: number,
  llmCallCount: number,
): AnswerRecord {
  const cited = new Set(body.citations.map((c) => sourceIds.get(c.document_id)).filter((id): id is string => id !== undefined));
  return {
    mode,
    questionId: question.id,
    answerable: question.goldDocuments.size > 0,
    abstained: body.citations.length === 0,
    holdsGoldSpan: question.answers ? holdsGoldSpan(body.answer, question.answers) : null,
    goldCited: [...cited].some((id) => question.goldDocuments.has(id)),
    rounds: body.reflection.rounds,
    llmCalls: llmCallCount,
    latencyMs,
  };
}

/** the sum of every `llm_calls_total` series the service exports */
async function llmCalls(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('llm_calls_total')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
