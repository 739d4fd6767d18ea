import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildStemCounts, renderTable, TABLE_PATH } from '../../../../scripts/generate-static-idf';
import { MAX_STATIC_IDF, staticIdf } from '../../../../src/embeddings/offline/static-idf';
import { analyze } from '../../../../src/text/analyzer';

describe('static idf of offline-hash-v2', () => {
  it('is the committed table: regenerating it from the pinned word list and the stemmer gives the same bytes', () => {
    // a difference means the source package or the stemmer changed: offline-hash-v2 must keep the
    // committed table (stored vectors depend on it); a new table needs a new model name
    const { total, counts } = buildStemCounts();
    expect(renderTable(total, counts)).toBe(readFileSync(TABLE_PATH, 'utf8'));
  });

  it('weighs everyday words low, technical words high and unknown terms highest', () => {
    const idf = (word: string) => staticIdf(analyze(word)[0]);
    expect(idf('people')).toBeLessThan(idf('protein'));
    expect(idf('protein')).toBeLessThan(idf('interleukin'));
    expect(idf('interleukin')).toBeCloseTo(MAX_STATIC_IDF, 10);
    expect(staticIdf('冰川')).toBeCloseTo(MAX_STATIC_IDF, 10);
    expect(staticIdf('2015')).toBeCloseTo(MAX_STATIC_IDF, 10);
    expect(idf('cell')).toBeCloseTo(9.6, 1);
  });
});
