import { describe, expect, it } from 'vitest';
import { VectorPartition } from '../../../../src/vector-store/embedded/vector-partition';

function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

function unit(vector: Float32Array): Float32Array {
  const norm = Math.hypot(...vector);
  return vector.map((v) => v / norm);
}

/** sparse-ish unit vectors like hashed features: a few large components over small noise */
function featureVectors(count: number, dimension: number, seed: number): Float32Array[] {
  const next = seeded(seed);
  return Array.from({ length: count }, () => {
    const vector = Float32Array.from({ length: dimension }, () => 0.05 * next());
    for (let i = 0; i < 12; i++) vector[Math.floor((next() + 0.5) * dimension)] += next() + 0.5;
    return unit(vector);
  });
}

function bruteForce(rows: Float32Array[], query: Float32Array, topK: number, keep: (row: number) => boolean = () => true) {
  return rows
    .map((vector, row) => ({ row, score: vector.reduce((sum, v, i) => sum + v * query[i], 0) }))
    .filter(({ row }) => keep(row))
    .sort((a, b) => b.score - a.score)
    .slice(0, topK);
}

describe('VectorPartition scan', () => {
  const dimension = 128;
  const rows = featureVectors(3_000, dimension, 7);
  let label = 0;
  const partition = new VectorPartition(dimension, () => ++label, 1_000_000);
  rows.forEach((vector, i) => partition.upsert({ id: `c${i}`, documentId: `d${i % 50}`, vector, metadata: { shard: i % 3 } }));
  const queries = featureVectors(40, dimension, 99);

  it('returns the exact top k with full-precision scores above the int8 pre-scan size', () => {
    for (const query of queries) {
      const hits = partition.search(query, 10);
      const want = bruteForce(rows, query, 10);
      expect(hits.map((hit) => hit.id)).toEqual(want.map(({ row }) => `c${row}`));
      hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(want[i].score, 5));
    }
  });

  it('applies a metadata filter before the pre-scan', () => {
    for (const query of queries.slice(0, 10)) {
      const hits = partition.search(query, 20, { shard: 1 });
      const want = bruteForce(rows, query, 20, (row) => row % 3 === 1);
      expect(hits.map((hit) => hit.id)).toEqual(want.map(({ row }) => `c${row}`));
    }
  });

  it('re-quantizes when a row holds a larger component than any before, and keeps deletes in step', () => {
    let nextLabel = 0;
    const small = new VectorPartition(dimension, () => ++nextLabel, 1_000_000);
    // spread-out rows first: the largest component is small, so is the first int8 scale
    const flat = Array.from({ length: 1_500 }, (_, i) =>
      unit(Float32Array.from({ length: dimension }, (_, j) => 1 + Math.sin(i * 31 + j * 7) * 0.5)),
    );
    flat.forEach((vector, i) => small.upsert({ id: `f${i}`, documentId: 'd', vector }));
    const spike = new Float32Array(dimension);
    spike[5] = 1;
    small.upsert({ id: 'spike', documentId: 'd', vector: spike });
    const [best] = small.search(spike, 1);
    expect(best).toMatchObject({ id: 'spike' });
    expect(best.score).toBeCloseTo(1, 6);
    // a query near one of the flat rows still finds it: their int8 copies were rewritten at the new scale
    const target = flat[700];
    expect(small.search(target, 3)[0]).toMatchObject({ id: 'f700' });
    expect(small.remove('f700')).toBe(true);
    expect(small.search(target, 3).map((hit) => hit.id)).not.toContain('f700');
    // the row moved into the freed place is still found by its own vector
    expect(small.search(flat[1_499], 1)[0]).toMatchObject({ id: 'f1499' });
  });
});
