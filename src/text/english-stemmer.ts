import porter2 from 'wink-porter2-stemmer';

/** Porter2 (Snowball English) stems, memoized: a corpus repeats its words many times */
const cache = new Map<string, string>();
const CACHE_LIMIT = 200_000;

export function stemEnglish(word: string): string {
  let stem = cache.get(word);
  if (stem === undefined) {
    stem = porter2(word);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(word, stem);
  }
  return stem;
}
