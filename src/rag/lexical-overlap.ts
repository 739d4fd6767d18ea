import { analyze, type AnalyzerOptions } from '../text';

/**
 * Term overlap for the offline graders and the extractive answerer. Same analyzer as retrieval
 * (stems, stopwords), but CJK text as jieba words only: overlapping bigrams that straddle word
 * boundaries ("钥是", "何存") are good for recall in an index and noise when judging whether a
 * sentence covers a question.
 */
const GRADING_ANALYZER: AnalyzerOptions = { stopwords: true, stem: true, cjkWords: true, cjkBigrams: false, minWordLength: 1 };

/** question and filler words of Chinese questions; they carry no topic */
const CHINESE_QUESTION_WORDS = new Set([
  '什么',
  '如何',
  '怎么',
  '怎样',
  '怎么样',
  '哪些',
  '哪个',
  '哪里',
  '哪儿',
  '多少',
  '几个',
  '为什么',
  '为何',
  '是否',
  '是不是',
  '请问',
  '可以',
  '能否',
  '一下',
  '这个',
  '那个',
  '一个',
  '我们',
  '你们',
  '他们',
  '以及',
  '或者',
  '还是',
  '吗',
  '呢',
  '吧',
]);

/** the question words as a pattern over raw text, longest first */
export const CHINESE_QUESTION_PATTERN = new RegExp([...CHINESE_QUESTION_WORDS].sort((a, b) => b.length - a.length).join('|'), 'g');

export function gradingTerms(text: string): string[] {
  return analyze(text, GRADING_ANALYZER).filter((term) => !CHINESE_QUESTION_WORDS.has(term));
}

export function gradingTermSet(text: string): Set<string> {
  return new Set(gradingTerms(text));
}

/** Query terms weighted by rarity among the given texts: a word every passage has says little. */
export class QueryTerms {
  readonly terms: ReadonlyMap<string, number>;
  readonly totalWeight: number;

  constructor(query: string, pool: readonly ReadonlySet<string>[]) {
    const weights = new Map<string, number>();
    const n = pool.length;
    for (const term of new Set(gradingTerms(query))) {
      let df = 0;
      for (const terms of pool) if (terms.has(term)) df++;
      weights.set(term, Math.log(1 + (n - df + 0.5) / (df + 0.5)));
    }
    this.terms = weights;
    this.totalWeight = [...weights.values()].reduce((sum, w) => sum + w, 0);
  }

  get isEmpty(): boolean {
    return this.terms.size === 0;
  }

  /** weighted share of the query's terms present in `terms`, 0..1 */
  coverage(terms: ReadonlySet<string>): number {
    if (this.totalWeight === 0) return 0;
    let covered = 0;
    for (const [term, weight] of this.terms) if (terms.has(term)) covered += weight;
    return covered / this.totalWeight;
  }

  /** weighted share of the query terms in `terms` not already in `seen` */
  gain(terms: ReadonlySet<string>, seen: ReadonlySet<string>): number {
    if (this.totalWeight === 0) return 0;
    let gained = 0;
    for (const [term, weight] of this.terms) if (terms.has(term) && !seen.has(term)) gained += weight;
    return gained / this.totalWeight;
  }
}

/** true when the text has Han characters: answers and messages then use Chinese conventions */
export function isChinese(text: string): boolean {
  return /\p{Script=Han}/u.test(text);
}
