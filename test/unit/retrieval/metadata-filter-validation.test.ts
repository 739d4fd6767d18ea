import { describe, expect, it } from 'vitest';
import { metadataFilterProblems } from '../../../src/retrieval/metadata-filter.validation';

describe('metadataFilterProblems', () => {
  it('accepts equality on scalars and {in: [...]}', () => {
    expect(metadataFilterProblems({ lang: 'en', year: 2024, draft: false, tag: { in: ['a', 2, true] } })).toEqual([]);
  });

  it.each([
    [null, 'filters'],
    [[1], 'filters'],
    ['lang=en', 'filters'],
    [{ year: { gt: 1 } }, 'filters.year'],
    [{ year: { in: [] } }, 'filters.year.in'],
    [{ year: { in: [{}] } }, 'filters.year.in'],
    [{ year: { in: [1], nin: [2] } }, 'filters.year'],
    [{ tags: ['a'] }, 'filters.tags'],
    [{ n: Number.NaN }, 'filters.n'],
    [{ '': 1 }, 'filters.'],
  ])('names the wrong part of %j', (filter, field) => {
    expect(metadataFilterProblems(filter).map((p) => p.field)).toContain(field);
  });
});
