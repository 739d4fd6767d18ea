import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/text/analyzer';
import { ENGLISH_STOPWORDS, generalWords } from '../../../src/text/stopwords';

describe('stopwords', () => {
  it('drops in the analyzer the 108 function words every stored lexical index was built with', () => {
    // the `stopword` package's English list (3.1.5), now written in src/text/stopwords.ts
    const sorted = [...ENGLISH_STOPWORDS].sort();
    expect(sorted).toHaveLength(108);
    expect(createHash('sha256').update(sorted.join(' ')).digest('hex')).toBe(
      'f3b6cbd98aa986651de790b03cead6694a052f46c33050bcb78f41b1b41ddd55',
    );
    expect(analyze('The cells of the patients were counted')).toEqual(['cell', 'patient', 'count']);
  });

  it('takes them from the same source as the offline embedder’s broad list: stopwords-iso holds every one', () => {
    const { english } = generalWords();
    expect([...ENGLISH_STOPWORDS].filter((word) => !english.includes(word))).toEqual([]);
  });

  it('keeps general words that are no function words as terms: BM25 weighs them by its idf', () => {
    const { english, chinese } = generalWords();
    expect(english).toContain('area');
    expect(english.every((word) => /^[a-z]+$/.test(word))).toBe(true);
    expect(chinese).toContain('的');
    expect(analyze('area')).toEqual(['area']);
  });
});
