import { describe, expect, it } from 'vitest';
import { ValidationFailedError } from '../../../../src/common/errors';
import { DEFAULT_OFFLINE_MODEL, OfflineEmbeddingProvider } from '../../../../src/embeddings/offline';

const MODEL = 'offline-hash-v1';
const provider = new OfflineEmbeddingProvider();

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, i) => sum + value * b[i], 0);
const norm = (a: Float32Array) => Math.sqrt(cosine(a, a));
/** one number that changes when any component of the vector does */
const checksum = (a: Float32Array) => a.reduce((sum, value, i) => sum + value * (i + 1), 0);

async function embedOne(text: string, model = MODEL): Promise<Float32Array> {
  return (await provider.embed(model, [text])).vectors[0];
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
    // stored vectors stay comparable only while v1's features never change
    expect(checksum(vector)).toBeCloseTo(296.661451, 4);
    expect(checksum(await embedOne('向量数据库的监控需要关注查询延迟。'))).toBeCloseTo(268.021135, 4);
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

describe('OfflineEmbeddingProvider, offline-hash-v2 (static idf)', () => {
  const V2 = 'offline-hash-v2';
  const embedV2 = (text: string) => embedOne(text, V2);

  it('is the default offline model: 512 dimensions, unit length', async () => {
    expect(DEFAULT_OFFLINE_MODEL).toBe(V2);
    expect(await provider.dimension(V2)).toBe(512);
    const { vectors, inputTokens } = await provider.embed(V2, ['glacier melt', '冰川融化', 'Kubernetes 部署指南']);
    expect(vectors).toHaveLength(3);
    for (const vector of vectors) {
      expect(vector).toHaveLength(512);
      expect(norm(vector)).toBeCloseTo(1, 5);
    }
    expect(inputTokens).toBeGreaterThan(0);
  });

  it('is deterministic: pinned values for fixed texts, and differs from v1', async () => {
    const vector = await embedV2('Quantum chromodynamics describes quarks and gluons.');
    expect(await embedV2('Quantum chromodynamics describes quarks and gluons.')).toEqual(vector);
    expect(checksum(vector)).toBeCloseTo(195.303765, 4);
    expect(checksum(await embedV2('向量数据库的监控需要关注查询延迟。'))).toBeCloseTo(268.021137, 4);
    expect(vector).not.toEqual(await embedOne('Quantum chromodynamics describes quarks and gluons.'));
  });

  it('weighs a rare technical word above an everyday one, where v1 weighs them alike', async () => {
    // a query with an everyday and a technical word: which one-word text is it closer to?
    const margin = async (model: string) => {
      const query = await embedOne('money interleukin', model);
      return cosine(query, await embedOne('interleukin', model)) - cosine(query, await embedOne('money', model));
    };
    expect(await margin(MODEL)).toBeLessThan(0.25); // v1: the two words weigh about the same
    expect(await margin(V2)).toBeGreaterThan(0.5);
  });

  it('keeps v1’s behaviour on Chinese and mixed text (no CJK term is in the frequency list: all weigh the same)', async () => {
    const query = await embedV2('如何监控向量数据库的查询延迟？');
    const related = await embedV2('向量数据库的监控需要关注查询延迟和索引大小。');
    const unrelated = await embedV2('泡泡战士是一款由韩国公司开发的游戏。');
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
    expect(cosine(await embedV2('Kubernetes 部署 指南'), await embedV2('在Kubernetes上部署服务的指南'))).toBeGreaterThan(0.3);
    expect(cosine(await embedV2('mitochondrial'), await embedV2('mitochondria'))).toBeGreaterThan(0.5);
  });

  it('gives a zero vector for text with no words', async () => {
    expect((await embedV2('  ,.;!  ')).every((value) => value === 0)).toBe(true);
  });

  it('gives the event loop turns while it embeds a long batch (it runs on the loop that serves HTTP)', async () => {
    // the speed of one query is a benchmark figure (npm run bench:retrieve), not a unit test's
    const texts = Array.from({ length: 200 }, (_, i) => `在Kubernetes上部署服务的指南第${i}章`.repeat(40));
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    const started = performance.now();
    await provider.embed(V2, texts);
    const tookMs = performance.now() - started;
    clearInterval(ticking);
    // a batch of this size runs for well over one 10 ms slice; before slicing, no timer fired until it ended
    expect(tookMs).toBeGreaterThan(30);
    expect(turns).toBeGreaterThan(1);
  });
});
