import { SUBTLEX_STEM_COUNTS, SUBTLEX_TOTAL_COUNT } from './subtlex-stem-counts';

/**
 * A static inverse document frequency for analyzed terms, from a general-language frequency list
 * (SUBTLEXus word counts, stemmed; `subtlex-stem-counts.ts`): ln((N + 1) / (count + 1)), with N
 * the list's 49.7 million words. Everyday words weigh little ("the" 3.5, "use" 7.1), technical
 * ones more ("cell" 9.6, "protein" 12.1), and every term absent from the list (rare words,
 * numbers, other scripts) the most (17.7). It is no corpus statistic, so a text's vector never
 * depends on what else was indexed. The table (40,608 stems; ~4 MB of heap as a map) is parsed
 * on first use (~60 ms).
 */
let counts: Map<string, number> | undefined;

export const MAX_STATIC_IDF = Math.log(SUBTLEX_TOTAL_COUNT + 1);

export function staticIdf(term: string): number {
  counts ??= parseCounts();
  return Math.log((SUBTLEX_TOTAL_COUNT + 1) / ((counts.get(term) ?? 0) + 1));
}

function parseCounts(): Map<string, number> {
  const parsed = new Map<string, number>();
  for (const line of SUBTLEX_STEM_COUNTS.split('\n')) {
    const space = line.indexOf(' ');
    parsed.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return parsed;
}
