import { describe, expect, it } from 'vitest';
import { fuseReciprocalRank } from '../../../src/retrieval/fusion';

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
