import { describe, expect, it } from 'vitest';
import { fuseConvex, fuseReciprocalRank } from '../../../src/retrieval/fusion';

const hit = (id: string, score: number) => ({ id, kbId: 'kb', documentId: `doc-${id}`, score });

describe('fuseReciprocalRank', () => {
  it('sums weight / (k + rank) over both rankings and keeps each side’s score and rank', () => {
    const fused = fuseReciprocalRank([hit('a', 0.9), hit('b', 0.8)], [hit('b', 12), hit('c', 7)], { dense: 1, sparse: 1, k: 60 });
    expect(fused.map((h) => h.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0].score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[0].dense).toEqual({ score: 0.8, rank: 2 });
    expect(fused[0].sparse).toEqual({ score: 12, rank: 1 });
    expect(fused[2].dense).toBeUndefined();
  });

  it('lets the weights decide between a dense-only and a sparse-only candidate', () => {
    const dense = [hit('a', 0.9)];
    const sparse = [hit('c', 10)];
    expect(fuseReciprocalRank(dense, sparse, { dense: 1, sparse: 2, k: 60 })[0].id).toBe('c');
    expect(fuseReciprocalRank(dense, sparse, { dense: 2, sparse: 1, k: 60 })[0].id).toBe('a');
  });

  it('a zero weight removes a ranking’s influence but keeps its candidates', () => {
    const fused = fuseReciprocalRank([hit('a', 0.9), hit('b', 0.1)], [hit('b', 3)], { dense: 0, sparse: 1, k: 60 });
    expect(fused[0].id).toBe('b');
    expect(fused.find((h) => h.id === 'a')!.score).toBe(0);
  });
});

describe('fuseConvex', () => {
  it('sums dense weight × cosine and sparse weight × score / best sparse score, and keeps each side’s score and rank', () => {
    const fused = fuseConvex([hit('a', 0.8), hit('b', 0.4)], [hit('b', 12), hit('c', 7)], { dense: 0.5, sparse: 1 });
    expect(fused.map((h) => h.id)).toEqual(['b', 'c', 'a']);
    expect(fused[0].score).toBeCloseTo(0.5 * 0.4 + 1, 12);
    expect(fused[1].score).toBeCloseTo(7 / 12, 12);
    expect(fused[2].score).toBeCloseTo(0.5 * 0.8, 12);
    expect(fused[0].dense).toEqual({ score: 0.4, rank: 2 });
    expect(fused[0].sparse).toEqual({ score: 12, rank: 1 });
    expect(fused[1].dense).toBeUndefined();
  });

  it('lets a lightly weighted ranking break a near-tie of the other without overturning a clear win', () => {
    const sparse = [hit('x', 10), hit('y', 9.9), hit('z', 5)];
    const dense = [hit('y', 0.6), hit('z', 0.59), hit('x', 0.1)];
    expect(fuseConvex(dense, sparse, { dense: 0.1, sparse: 1 }).map((h) => h.id)).toEqual(['y', 'x', 'z']);
    // RRF sees ranks only: with the same weights the near-tie and the clear gap look alike
    expect(fuseReciprocalRank(dense, sparse, { dense: 0.1, sparse: 1, k: 60 }).map((h) => h.id)).toEqual(['x', 'y', 'z']);
  });

  it('gives the dense side less say when even its best match is a poor one (the cosine is not divided by the best cosine)', () => {
    const sparse = [hit('x', 10), hit('y', 9)];
    // the same dense order, once with close matches and once with poor ones
    expect(fuseConvex([hit('y', 0.9), hit('x', 0.5)], sparse, { dense: 0.5, sparse: 1 }).map((h) => h.id)).toEqual(['y', 'x']);
    expect(fuseConvex([hit('y', 0.18), hit('x', 0.1)], sparse, { dense: 0.5, sparse: 1 }).map((h) => h.id)).toEqual(['x', 'y']);
  });

  it('does not depend on how many candidates a ranking holds beyond the best one', () => {
    const dense = [hit('a', 0.9), hit('b', 0.5)];
    const sparse = [hit('b', 8), hit('a', 7.5)];
    const short = fuseConvex(dense, sparse, { dense: 0.3, sparse: 1 });
    const long = fuseConvex([...dense, hit('c', 0.1), hit('d', 0.05)], [...sparse, hit('e', 1)], { dense: 0.3, sparse: 1 });
    expect(long.slice(0, 2)).toEqual(short);
  });

  it('counts a negative cosine as 0 and copes with an empty or all-negative ranking', () => {
    const fused = fuseConvex([hit('a', 0.2), hit('b', -0.1)], [hit('b', 3)], { dense: 1, sparse: 1 });
    expect(fused.find((h) => h.id === 'b')!.score).toBeCloseTo(1, 12);
    expect(fused.find((h) => h.id === 'a')!.score).toBeCloseTo(0.2, 12);
    expect(fuseConvex([hit('a', -0.2)], [], { dense: 1, sparse: 1 })).toEqual([
      { id: 'a', kbId: 'kb', documentId: 'doc-a', score: 0, dense: { score: -0.2, rank: 1 } },
    ]);
    expect(fuseConvex([], [], { dense: 1, sparse: 1 })).toEqual([]);
  });
});
