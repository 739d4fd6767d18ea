import { describe, expect, it } from 'vitest';
import { ValidationFailedError } from '../../../src/common/errors';
import { OfflineEmbeddingProvider } from '../../../src/embeddings/offline';

const MODEL = 'offline-hash-v1';
const provider = new OfflineEmbeddingProvider();

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, i) => sum + value * b[i], 0);
const norm = (a: Float32Array) => Math.sqrt(cosine(a, a));

async function embedOne(text: string): Promise<Float32Array> {
  return (await provider.embed(MODEL, [text])).vectors[0];
}

describe('OfflineEmbeddingProvider', () => {
  it('is the offline provider with 512-dimension vectors for offline-hash-v1', async () => {
    expect(provider.provider).toBe('offline');
    expect(await provider.dimension(MODEL)).toBe(512);
    const { vectors, inputTokens } = await provider.embed(MODEL, ['glacier melt', '冰川融化']);
    expect(vectors).toHaveLength(2);
    for (const vector of vectors) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      expect(norm(vector)).toBeCloseTo(1, 5);
    }
    expect(inputTokens).toBeGreaterThan(0);
  });

  it('is deterministic: pinned values for a fixed text', async () => {
    const vector = await embedOne('Quantum chromodynamics describes quarks and gluons.');
    expect(await embedOne('Quantum chromodynamics describes quarks and gluons.')).toEqual(vector);
    const nonZero = [...vector.entries()].filter(([, value]) => value !== 0).slice(0, 3);
    expect(nonZero.map(([index]) => index)).toMatchInlineSnapshot(`
      [
        1,
        2,
        3,
      ]
    `);
  });

  it('puts related texts closer than unrelated ones, in English', async () => {
    const query = await embedOne('How do interleukin-6 receptors signal in T cells?');
    const related = await embedOne('Interleukin 6 receptor signalling in T-cell activation and differentiation.');
    const unrelated = await embedOne('Glaciers retreat as summer temperatures rise in the Alps.');
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
  });

  it('matches spelling variants through character n-grams', async () => {
    const variant = cosine(await embedOne('mitochondrial'), await embedOne('mitochondria'));
    const other = cosine(await embedOne('mitochondrial'), await embedOne('photosynthesis'));
    expect(variant).toBeGreaterThan(0.5);
    expect(other).toBeLessThan(0.2);
  });

  it('puts related texts closer than unrelated ones, in Chinese and mixed text', async () => {
    const query = await embedOne('如何监控向量数据库的查询延迟？');
    const related = await embedOne('向量数据库的监控需要关注查询延迟和索引大小。');
    const unrelated = await embedOne('泡泡战士是一款由韩国公司开发的游戏。');
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
    const mixed = cosine(await embedOne('Kubernetes 部署 指南'), await embedOne('在Kubernetes上部署服务的指南'));
    expect(mixed).toBeGreaterThan(0.3);
  });

  it('gives a zero vector for text with no words, never NaN', async () => {
    const vector = await embedOne('  ,.;!  ');
    expect(vector.every((value) => value === 0)).toBe(true);
  });

  it('refuses an unknown model with a validation problem', async () => {
    await expect(provider.embed('offline-unknown', ['x'])).rejects.toBeInstanceOf(ValidationFailedError);
    await expect(provider.dimension('text-embedding-3-small')).rejects.toBeInstanceOf(ValidationFailedError);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(provider.embed(MODEL, ['a', 'b'], controller.signal)).rejects.toThrow();
  });
});
