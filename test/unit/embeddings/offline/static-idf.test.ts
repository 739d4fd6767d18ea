import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStemCounts } from '../../../../scripts/generate-static-idf';
import { ASSETS_DIR, readCompressedJsonAsset } from '../../../../src/common/assets';
import { maxStaticIdf, staticIdf, SUBTLEX_ASSET, type SubtlexStemCounts } from '../../../../src/embeddings/offline/static-idf';
import { analyze } from '../../../../src/text/analyzer';

describe('static idf of offline-hash-v2', () => {
  it('reads the committed asset, whose bytes are pinned', () => {
    // offline-hash-v2's stored vectors depend on every value: a changed file needs a new model name
    const bytes = readFileSync(join(ASSETS_DIR, SUBTLEX_ASSET));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('01b413cf01d3f2c6fc420335a3dc2d26ffef4523b9377719c2f66ec1baa3fe34');
  });

  it('is the table the generation script makes from the pinned word list and the stemmer', () => {
    // a difference means the source package or the stemmer changed: offline-hash-v2 must keep the
    // committed table (stored vectors depend on it); a new table needs a new model name
    expect(readCompressedJsonAsset<SubtlexStemCounts>(SUBTLEX_ASSET)).toEqual(buildStemCounts());
  });

  it('holds 40,608 stems of 49.7 million words, most frequent first', () => {
    const { total, stems, counts } = readCompressedJsonAsset<SubtlexStemCounts>(SUBTLEX_ASSET);
    const words = stems.split(' ');
    expect(total).toBe(49_719_560);
    expect(words).toHaveLength(40_608);
    expect(counts).toHaveLength(40_608);
    expect([words[0], counts[0]]).toEqual(['you', 2_134_713]);
    expect([words[2], counts[2]]).toEqual(['the', 1_501_908]);
    expect([words.at(-1), counts.at(-1)]).toEqual(['zymurgi', 1]);
    expect(counts.every((count, i) => i === 0 || counts[i - 1] >= count)).toBe(true);
  });

  it('weighs everyday words low, technical words high and unknown terms highest', () => {
    const idf = (word: string) => staticIdf(analyze(word)[0]);
    expect(idf('people')).toBeLessThan(idf('protein'));
    expect(idf('protein')).toBeLessThan(idf('interleukin'));
    expect(idf('interleukin')).toBeCloseTo(maxStaticIdf(), 10);
    expect(staticIdf('冰川')).toBeCloseTo(maxStaticIdf(), 10);
    expect(staticIdf('2015')).toBeCloseTo(maxStaticIdf(), 10);
    expect(maxStaticIdf()).toBeCloseTo(Math.log(49_719_561), 10);
    expect(staticIdf('the')).toBeCloseTo(3.5, 1); // a stopword, so no term of analyze()
    expect(idf('cell')).toBeCloseTo(9.6, 1);
  });
});
