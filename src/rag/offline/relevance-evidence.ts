import { CHINESE_QUESTION_PATTERN, gradingTerms, gradingTermSet, QueryTerms } from '../lexical-overlap';
import type { Passage } from '../reasoner';
import { splitSentences } from '../sentences';

/**
 * What the offline relevance grader knows about one retrieved passage, each value in 0..1 and
 * comparable across queries: how much of the question it holds (as a whole and in its best
 * sentence), its dense and BM25 scores relative to the query's best, and whether both retrievers
 * found it. `relevance-model.ts` weighs them; `npm run eval:rag:calibrate` fits the weights.
 */
export interface RelevanceEvidence {
  /** share of the question's terms, weighted by rarity among the retrieved passages */
  coverage: number;
  /** the same, unweighted */
  plainCoverage: number;
  /** the weighted coverage of the passage's best sentence (an answer is one sentence) */
  sentenceCoverage: number;
  /** the best sentence's share of the question's adjacent pairs (Han character bigrams, content-word pairs) */
  sentencePairCoverage: number;
  /** the passage's (title and text) share of the question's adjacent pairs */
  pairCoverage: number;
  /** the longest run of the question's pairs, in order, that the passage lacks, over their number: an unmatched name */
  missingRun: number;
  /** how far the passage's pair coverage leads the best of the other passages' (0 when it does not lead) */
  pairCoverageLead: number;
  /** share of the question's terms in the passage's title */
  titleCoverage: number;
  /** cosine similarity, as the dense retriever gave it (0 when it did not find the passage) */
  denseScore: number;
  /** dense score over the best dense score of the query's passages */
  denseRelative: number;
  /** BM25 score over the best BM25 score of the query's passages */
  sparseRelative: number;
  /** the BM25 score squashed into 0..1 (s / (s + 10)): a low best score means the question's rare words matched nowhere */
  sparseScore: number;
  /** 1 when both retrievers found the passage */
  bothRetrievers: number;
  /** 1 / hybrid rank */
  reciprocalRank: number;
}

export const EVIDENCE_FEATURES = [
  'coverage',
  'plainCoverage',
  'sentenceCoverage',
  'sentencePairCoverage',
  'pairCoverage',
  'missingRun',
  'pairCoverageLead',
  'titleCoverage',
  'denseScore',
  'denseRelative',
  'sparseRelative',
  'sparseScore',
  'bothRetrievers',
  'reciprocalRank',
] as const;

export function relevanceEvidence(query: string, passages: readonly Passage[]): RelevanceEvidence[] {
  const termSets = passages.map((passage) => gradingTermSet(passageText(passage)));
  const weighted = new QueryTerms(query, termSets);
  const plain = new QueryTerms(query, []);
  const bestDense = Math.max(0, ...passages.map((p) => p.signals?.denseScore ?? 0));
  const bestSparse = Math.max(0, ...passages.map((p) => p.signals?.sparseScore ?? 0));
  const questionPairs = adjacentPairs(stripQuestionWords(query));
  const orderedPairs = [...questionPairs];
  const evidence = passages.map((passage, i) => {
    const dense = passage.signals?.denseScore ?? null;
    const sparse = passage.signals?.sparseScore ?? null;
    let sentenceCoverage = 0;
    let sentencePairCoverage = 0;
    for (const sentence of splitSentences(passage.text)) {
      sentenceCoverage = Math.max(sentenceCoverage, weighted.coverage(gradingTermSet(sentence.text)));
      if (questionPairs.size > 0) {
        const pairs = adjacentPairs(sentence.text);
        let shared = 0;
        for (const pair of questionPairs) if (pairs.has(pair)) shared++;
        sentencePairCoverage = Math.max(sentencePairCoverage, shared / questionPairs.size);
      }
    }
    const passagePairs = adjacentPairs(passageText(passage));
    let present = 0;
    let run = 0;
    let longestRun = 0;
    for (const pair of orderedPairs) {
      if (passagePairs.has(pair)) {
        present++;
        run = 0;
      } else longestRun = Math.max(longestRun, ++run);
    }
    return {
      coverage: weighted.coverage(termSets[i]),
      pairCoverage: orderedPairs.length > 0 ? present / orderedPairs.length : 0,
      missingRun: orderedPairs.length > 0 ? longestRun / orderedPairs.length : 0,
      plainCoverage: plain.coverage(termSets[i]),
      sentenceCoverage,
      sentencePairCoverage,
      titleCoverage: passage.title ? plain.coverage(gradingTermSet(passage.title)) : 0,
      denseScore: clamp(dense ?? 0),
      denseRelative: dense !== null && bestDense > 0 ? clamp(dense / bestDense) : 0,
      sparseRelative: sparse !== null && bestSparse > 0 ? clamp(sparse / bestSparse) : 0,
      sparseScore: sparse !== null && sparse > 0 ? sparse / (sparse + 10) : 0,
      bothRetrievers: dense !== null && sparse !== null ? 1 : 0,
      reciprocalRank: 1 / passage.n,
      pairCoverageLead: 0,
    };
  });
  for (const [i, item] of evidence.entries()) {
    const others = evidence.filter((_, j) => j !== i).map((other) => other.pairCoverage);
    item.pairCoverageLead = Math.max(0, item.pairCoverage - Math.max(0, ...others));
  }
  return evidence;
}

/** Han character bigrams and pairs of adjacent content words: word order the terms alone lose */
function adjacentPairs(text: string): Set<string> {
  const pairs = new Set<string>();
  for (const run of text.matchAll(/\p{Script=Han}+/gu)) for (let i = 0; i + 1 < run[0].length; i++) pairs.add(run[0].slice(i, i + 2));
  const words = gradingTerms(text.replace(/\p{Script=Han}+/gu, ' | '));
  for (let i = 0; i + 1 < words.length; i++) pairs.add(`${words[i]} ${words[i + 1]}`);
  return pairs;
}

/** the question words of a Chinese question say what is asked, not what about */
function stripQuestionWords(query: string): string {
  return query.replace(CHINESE_QUESTION_PATTERN, ' ');
}

export function passageText(passage: Passage): string {
  return passage.title ? `${passage.title}\n${passage.text}` : passage.text;
}

function clamp(value: number): number {
  return Math.min(1, Math.max(0, value));
}
