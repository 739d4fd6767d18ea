import { countTokens } from '../../text/tokenizer';
import { gradingTerms, gradingTermSet, isChinese, QueryTerms } from '../lexical-overlap';
import { noAnswerMessage } from '../messages';
import type { Generation, Passage, RagReasoner, RagRun, RelevanceGrade, Verdict } from '../reasoner';
import { splitSentences } from '../sentences';
import { passageText, relevanceEvidence } from './relevance-evidence';
import { isRelevant, relevanceProbability } from './relevance-model';

/** a sentence must cover this share of the question to be worth quoting */
const MIN_SENTENCE_COVERAGE = 0.3;
/** …or this share, from passages a relevance grade kept (the grade already vouches for them) */
const MIN_VETTED_SENTENCE_COVERAGE = 0.2;
/** a further sentence must add this share of new question terms, or be nearly as good as the best */
const MIN_SENTENCE_GAIN = 0.1;
const CORROBORATION_RATIO = 0.8;
const MAX_ANSWER_SENTENCES = 3;
/** ISSUP: each answer sentence's terms must appear in the passages it cites, to this share */
const SUPPORT_THRESHOLD = 0.8;
/** ISUSE: the answer covers this share of the question's terms */
const USEFULNESS_THRESHOLD = 0.5;
/** rewriting adds at most this many terms taken from the best passages */
const EXPANSION_TERMS = 3;
const CITATION = /\s?\[\d+\]/g;

interface ScoredSentence {
  passage: Passage;
  text: string;
  start: number;
  terms: Set<string>;
  coverage: number;
}

/**
 * The offline answerer (no network): answers by quoting the sentences of the retrieved passages
 * that best cover the question, each followed by its citation, and says plainly when none does.
 * Its graders are lexical: term overlap between question, passages and answer.
 */
export class ExtractiveReasoner implements RagReasoner {
  readonly kind = 'offline' as const;

  async decideRetrieval(query: string): Promise<Verdict> {
    // a question with no content word (only stopwords or question words) names nothing to look up
    return { pass: gradingTerms(query).length > 0 };
  }

  /** every passage is graded in the context of the round's others (its scores relative to the best) */
  async gradeRelevance(query: string, passages: Passage[], run: RagRun): Promise<RelevanceGrade[]> {
    const evidence = relevanceEvidence(query, passages);
    countUsage(run, [query, ...passages.map((p) => p.text)], []);
    return passages.map((passage, i) => {
      const probability = relevanceProbability(evidence[i]);
      return { chunkId: passage.chunkId, pass: isRelevant(probability, query), score: round(probability) };
    });
  }

  async generate(query: string, passages: Passage[], run: RagRun, retrieved?: readonly Passage[]): Promise<Generation> {
    const sentences = passages.flatMap((passage) =>
      splitSentences(passage.text).map((sentence) => ({
        passage,
        text: sentence.text,
        start: sentence.start,
        terms: gradingTermSet(sentence.text),
        coverage: 0,
      })),
    );
    // a word is weighed by its rarity in all that was retrieved: among the kept passages alone,
    // the name the question asks about is in every sentence and would weigh nothing
    const pool =
      retrieved && retrieved.length > passages.length
        ? retrieved.flatMap((p) => splitSentences(p.text).map((s) => gradingTermSet(s.text)))
        : sentences.map((s) => s.terms);
    const question = new QueryTerms(query, pool);
    for (const sentence of sentences) sentence.coverage = question.coverage(sentence.terms);
    const chosen = chooseSentences(question, sentences, retrieved ? MIN_VETTED_SENTENCE_COVERAGE : MIN_SENTENCE_COVERAGE);
    if (chosen.length === 0) {
      const answer = noAnswerMessage(query);
      run.onDelta(answer);
      countUsage(run, [query, ...passages.map((p) => p.text)], [answer]);
      return { answer, used: [], answered: false };
    }
    chosen.sort((a, b) => a.passage.n - b.passage.n || a.start - b.start);
    const chinese = isChinese(query);
    const parts: string[] = [];
    for (const sentence of chosen) {
      const part = `${parts.length > 0 && !chinese ? ' ' : ''}${sentence.text}${chinese ? '' : ' '}[${sentence.passage.n}]`;
      parts.push(part);
      run.onDelta(part);
    }
    const answer = parts.join('');
    countUsage(run, [query, ...passages.map((p) => p.text)], [answer]);
    const used = [...new Map(chosen.map((s) => [s.passage.chunkId, s.passage])).values()].sort((a, b) => a.n - b.n);
    return { answer, used, answered: true };
  }

  async gradeSupport(_query: string, generation: Generation): Promise<Verdict> {
    if (!generation.answered) return { pass: false, score: 0 };
    const evidence = new Set(generation.used.flatMap((passage) => [...gradingTermSet(passageText(passage))]));
    let weakest = 1;
    for (const sentence of splitSentences(generation.answer.replace(CITATION, ''))) {
      const terms = gradingTermSet(sentence.text);
      if (terms.size === 0) continue;
      let backed = 0;
      for (const term of terms) if (evidence.has(term)) backed++;
      weakest = Math.min(weakest, backed / terms.size);
    }
    return { pass: weakest >= SUPPORT_THRESHOLD, score: round(weakest) };
  }

  async gradeUsefulness(query: string, generation: Generation): Promise<Verdict> {
    if (!generation.answered) return { pass: false, score: 1 };
    // every question term counts the same here: weighting by rarity in the passages would make
    // the terms no passage has (and so no answer can have) dominate
    const question = new QueryTerms(query, []);
    const coverage = question.coverage(gradingTermSet(generation.answer));
    // on Self-RAG's ISUSE scale of 1 to 5
    return { pass: coverage >= USEFULNESS_THRESHOLD, score: 1 + Math.round(coverage * 4) };
  }

  /** Pseudo-relevance feedback: add the words the best passages share that the question lacks. */
  async rewrite(query: string, passages: Passage[]): Promise<string> {
    const questionTerms = new Set(gradingTerms(query));
    const best = [...passages].sort((a, b) => b.score - a.score).slice(0, 3);
    const documentFrequency = new Map<string, number>();
    const surface = new Map<string, string>();
    for (const passage of best) {
      const seen = new Set<string>();
      for (const { term, word } of termsWithSurface(passage.text)) {
        if (questionTerms.has(term) || seen.has(term) || (!isChinese(term) && term.length < 3)) continue;
        seen.add(term);
        documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
        if (!surface.has(term)) surface.set(term, word);
      }
    }
    const minimum = best.length >= 2 ? 2 : 1;
    const expansion = [...documentFrequency]
      .filter(([, df]) => df >= minimum)
      .sort((a, b) => b[1] - a[1])
      .slice(0, EXPANSION_TERMS)
      .map(([term]) => surface.get(term)!);
    if (expansion.length > 0) return `${query} ${expansion.join(' ')}`;
    // nothing shared: fall back to the question's content words alone
    return gradingTerms(query).length > 0 ? [...new Set(termsWithSurface(query).map((t) => t.word))].join(' ') : query;
  }
}

function chooseSentences(question: QueryTerms, sentences: ScoredSentence[], minCoverage: number): ScoredSentence[] {
  if (question.isEmpty) return [];
  const ranked = [...sentences].sort((a, b) => b.coverage - a.coverage || a.passage.n - b.passage.n || a.start - b.start);
  const best = ranked[0];
  if (!best || best.coverage < minCoverage) return [];
  const chosen = [best];
  const seenTerms = new Set(best.terms);
  const seenTexts = new Set([best.text]);
  for (const sentence of ranked.slice(1)) {
    if (chosen.length >= MAX_ANSWER_SENTENCES) break;
    if (sentence.coverage < Math.max(minCoverage, MIN_SENTENCE_COVERAGE) || seenTexts.has(sentence.text)) continue;
    const gain = question.gain(sentence.terms, seenTerms);
    if (gain < MIN_SENTENCE_GAIN && sentence.coverage < best.coverage * CORROBORATION_RATIO) continue;
    chosen.push(sentence);
    seenTexts.add(sentence.text);
    for (const term of sentence.terms) seenTerms.add(term);
  }
  return chosen;
}

/** each grading term of a text with a word of the text that produces it */
function termsWithSurface(text: string): Array<{ term: string; word: string }> {
  const found: Array<{ term: string; word: string }> = [];
  for (const match of text.matchAll(/[\p{Script=Han}]+|[\p{L}\p{N}][\p{L}\p{N}'-]*/gu)) {
    const word = match[0];
    for (const term of gradingTerms(word)) found.push({ term, word: isChinese(term) ? term : word });
  }
  return found;
}

function countUsage(run: RagRun, read: string[], written: string[]): void {
  run.usage.inputTokens += read.reduce((sum, text) => sum + countTokens(text), 0);
  run.usage.outputTokens += written.reduce((sum, text) => sum + countTokens(text), 0);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
