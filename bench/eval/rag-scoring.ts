import type { BeirDocument, Qrels } from '../quality/beir';

/**
 * The scoring of `npm run eval:rag`, apart from the HTTP plumbing: which documents are held out,
 * which questions are answerable, and what counts as a gold span, a gold citation, an abstention.
 */

/** Documents 0, 2, 4, … in corpus order are ingested; the others are held out. */
export function ingestedHalf(corpus: readonly BeirDocument[]): BeirDocument[] {
  return corpus.filter((_, i) => i % 2 === 0);
}

export interface EvalQuestion {
  id: string;
  text: string;
  /** the relevant documents that were ingested; none means the question is unanswerable */
  goldDocuments: Set<string>;
  /** gold answer texts, when the set has `answers.jsonl` */
  answers?: string[];
}

/**
 * The questions of a split with their ingested gold documents. With answer texts, a question
 * without any is skipped: it could not be scored either way.
 */
export function evalQuestions(
  queries: ReadonlyArray<{ id: string; text: string }>,
  qrels: Qrels,
  ingested: ReadonlySet<string>,
  answers?: ReadonlyMap<string, string[]>,
): EvalQuestion[] {
  const questions: EvalQuestion[] = [];
  for (const query of queries) {
    const judged = qrels.get(query.id);
    if (!judged) continue;
    const spans = answers?.get(query.id);
    if (answers && (!spans || spans.length === 0)) continue;
    const goldDocuments = new Set([...judged].filter(([id, relevance]) => relevance > 0 && ingested.has(id)).map(([id]) => id));
    questions.push({ id: query.id, text: query.text, goldDocuments, ...(spans ? { answers: spans } : {}) });
  }
  return questions;
}

/** what one answer did, as the table counts it */
export interface AnswerRecord {
  mode: string;
  questionId: string;
  answerable: boolean;
  /** the reply cites nothing: the right reply to an unanswerable question */
  abstained: boolean;
  /** null when the set has no answer texts */
  holdsGoldSpan: boolean | null;
  goldCited: boolean;
  rounds: number;
  llmCalls: number;
  latencyMs: number;
}

/** whitespace and the answerer's [n] markers do not count against a span */
export function holdsGoldSpan(answer: string, spans: readonly string[]): boolean {
  const text = normalize(answer.replace(/\s?\[\d+\]/g, ''));
  return spans.some((span) => {
    const wanted = normalize(span);
    return wanted.length > 0 && text.includes(wanted);
  });
}

function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, '');
}

export interface ModeSummary {
  mode: string;
  answerable: number;
  unanswerable: number;
  holdsGoldSpan: number | null;
  goldCited: number;
  abstainedAnswerable: number;
  abstainedUnanswerable: number;
  roundsPerQuestion: number;
  llmCallsPerQuestion: number;
  p50Ms: number;
  p95Ms: number;
}

export function summarize(mode: string, records: readonly AnswerRecord[]): ModeSummary {
  const answerable = records.filter((r) => r.answerable);
  const unanswerable = records.filter((r) => !r.answerable);
  const share = (rows: readonly AnswerRecord[], test: (r: AnswerRecord) => boolean) =>
    rows.length === 0 ? 0 : rows.filter(test).length / rows.length;
  const spans = answerable.filter((r) => r.holdsGoldSpan !== null);
  const latencies = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length);
  return {
    mode,
    answerable: answerable.length,
    unanswerable: unanswerable.length,
    holdsGoldSpan: spans.length === 0 ? null : share(spans, (r) => r.holdsGoldSpan === true),
    goldCited: share(answerable, (r) => r.goldCited),
    abstainedAnswerable: share(answerable, (r) => r.abstained),
    abstainedUnanswerable: share(unanswerable, (r) => r.abstained),
    roundsPerQuestion: mean(records.map((r) => r.rounds)),
    llmCallsPerQuestion: mean(records.map((r) => r.llmCalls)),
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
  };
}

/** nearest-rank percentile of sorted values */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export function markdownTable(summaries: readonly ModeSummary[]): string {
  const lines = [
    '| mode | answer holds a gold span | gold document cited | abstained, answerable | abstained, unanswerable | rounds / question | LLM calls / question | p50 ms | p95 ms |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of summaries) {
    const cells = [
      s.mode,
      s.holdsGoldSpan === null ? 'n/a' : s.holdsGoldSpan.toFixed(3),
      s.goldCited.toFixed(3),
      s.abstainedAnswerable.toFixed(3),
      s.abstainedUnanswerable.toFixed(3),
      s.roundsPerQuestion.toFixed(2),
      s.llmCallsPerQuestion.toFixed(2),
      s.p50Ms.toFixed(0),
      s.p95Ms.toFixed(0),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
