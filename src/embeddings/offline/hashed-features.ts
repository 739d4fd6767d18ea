import { analyze, isCjkTerm } from '../../text/analyzer';
import { stemEnglish } from '../../text/english-stemmer';
import { generalWords } from '../../text/stopwords';
import { staticIdf } from './static-idf';

/**
 * Text → L2-normalized vector of signed, hashed features (the "hashing trick"), with no model
 * and no corpus statistics, so the same text gives the same vector on every machine forever:
 * - every analyzed term (stems, CJK bigrams and words: the lexical index's terms);
 * - character n-grams of each non-CJK term, framed `<term>` (morphology and spelling variants:
 *   "interleukin" and "interleukins", "IL6" and "IL-6" share most of them);
 * - each CJK character (single-character words carry meaning in Chinese).
 * A feature's weight is its kind's weight times 1 + ln(tf) (sub-linear term frequency), times
 * the term's static idf when the model uses one (the term's features all carry it).
 * The sign of each feature comes from its hash too, so collisions cancel out on average.
 */
export interface HashedFeatureOptions {
  dimension: number;
  termWeight: number;
  ngramWeight: number;
  /** character n-gram sizes of non-CJK terms */
  ngramSizes: readonly number[];
  cjkCharWeight: number;
  /** drop general-language words (`generalWords()` of text/stopwords: stopwords-iso's English, stemmed, and Chinese lists) */
  broadStopwords: boolean;
  /** scale each term's features by its static idf from a general-language frequency list (`static-idf.ts`) */
  staticIdf: boolean;
}

/** with no corpus to learn idf from, a broad list of general words stands in for its low end */
let broadStopwords: Set<string> | undefined;
function isBroadStopword(term: string): boolean {
  broadStopwords ??= stemmedGeneralWords();
  return broadStopwords.has(term);
}

function stemmedGeneralWords(): Set<string> {
  const { english, chinese } = generalWords();
  return new Set([...english.map(stemEnglish), ...chinese]);
}

export function hashedFeatureVector(text: string, options: HashedFeatureOptions): { vector: Float32Array; terms: number } {
  const terms = analyze(text);
  const features = new Map<string, number>();
  const add = (feature: string, weight: number) => {
    if (weight > 0) features.set(feature, (features.get(feature) ?? 0) + weight);
  };
  const counts = new Map<string, number>();
  for (const term of terms) {
    if (options.broadStopwords && isBroadStopword(term)) continue;
    counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  for (const [term, tf] of counts) {
    const scale = (1 + Math.log(tf)) * (options.staticIdf ? staticIdf(term) : 1);
    add(`t ${term}`, options.termWeight * scale);
    if (isCjkTerm(term)) {
      if (options.cjkCharWeight > 0) for (const char of term) add(`c ${char}`, options.cjkCharWeight * scale);
      continue;
    }
    if (options.ngramWeight > 0) {
      const framed = `<${term}>`;
      for (const n of options.ngramSizes) {
        for (let i = 0; i + n <= framed.length; i++) add(`g ${framed.slice(i, i + n)}`, options.ngramWeight * scale);
      }
    }
  }
  const vector = new Float32Array(options.dimension);
  const mask = options.dimension - 1;
  for (const [feature, weight] of features) {
    const hash = hash32(feature);
    vector[hash & mask] += hash & 0x80000000 ? -weight : weight;
  }
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  if (norm > 0) {
    const inverse = 1 / Math.sqrt(norm);
    for (let i = 0; i < vector.length; i++) vector[i] *= inverse;
  }
  return { vector, terms: terms.length };
}

/** FNV-1a over UTF-16 code units, then murmur3's finalizer so every bit depends on every input bit */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
