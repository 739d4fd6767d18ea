import { describe, expect, it } from 'vitest';
import { bm25Idf, DEFAULT_BM25_PARAMETERS } from '../../../src/lexical-index/bm25';
import { Bm25Partition, searchBm25 } from '../../../src/lexical-index/embedded/bm25-partition';

/** a seeded generator, so a failure reproduces */
function random(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** BM25 by the book, every document scored: what the pruned search must equal */
function referenceTop(docs: Map<string, Map<string, number>>, query: string[], k: number) {
  const { k1, b } = DEFAULT_BM25_PARAMETERS;
  const n = docs.size;
  let total = 0;
  for (const terms of docs.values()) for (const tf of terms.values()) total += tf;
  const average = total / n;
  const documentFrequency = new Map<string, number>();
  for (const term of new Set(query)) documentFrequency.set(term, [...docs.values()].filter((terms) => terms.has(term)).length);
  const scored = [...docs].map(([id, terms]) => {
    const length = [...terms.values()].reduce((sum, tf) => sum + tf, 0);
    let score = 0;
    for (const term of new Set(query)) {
      const tf = terms.get(term) ?? 0;
      if (tf === 0) continue;
      score += (bm25Idf(n, documentFrequency.get(term)!) * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / average));
    }
    return { id, score };
  });
  return scored
    .filter((entry) => entry.score > 0)
    .sort((x, y) => y.score - x.score)
    .slice(0, k);
}

describe('BM25 partition search (pruned top-k)', () => {
  it('returns exactly the top k of exhaustive BM25, with deletions and replacements in between', () => {
    const next = random(42);
    // Zipf-like vocabulary: a few very common terms, many rare ones
    const vocabulary = Array.from({ length: 400 }, (_, i) => `w${i}`);
    const pick = () => vocabulary[Math.floor(vocabulary.length * next() ** 3)];
    const docs = new Map<string, Map<string, number>>();
    const partition = new Bm25Partition();
    const put = (id: string) => {
      const terms = new Map<string, number>();
      const length = 5 + Math.floor(next() * 60);
      for (let i = 0; i < length; i++) {
        const term = pick();
        terms.set(term, (terms.get(term) ?? 0) + 1);
      }
      const previous = docs.get(id);
      if (previous) partition.remove(id, previous.keys());
      docs.set(id, terms);
      partition.put({ id, kbId: 'kb', documentId: id, metadata: undefined }, terms);
    };
    for (let i = 0; i < 3000; i++) put(`d${i}`);
    for (let i = 0; i < 1500; i++) {
      const id = `d${Math.floor(next() * 3000)}`;
      if (next() < 0.5 && docs.has(id)) {
        partition.remove(id, docs.get(id)!.keys());
        docs.delete(id);
      } else {
        put(id);
      }
    }
    expect(partition.size).toBe(docs.size);
    for (let q = 0; q < 40; q++) {
      const query = Array.from({ length: 2 + Math.floor(next() * 14) }, pick);
      const all = referenceTop(docs, query, docs.size);
      const scoreOf = new Map(all.map((entry) => [entry.id, entry.score]));
      for (const k of [1, 10]) {
        const actual = searchBm25([partition], query, DEFAULT_BM25_PARAMETERS, k);
        expect(actual.map((hit) => hit.score)).toEqual(all.slice(0, k).map((entry) => expect.closeTo(entry.score, 9)));
        // ties may order differently; every returned id must score what the reference says
        for (const hit of actual) expect(scoreOf.get(hit.item.id)).toBeCloseTo(hit.score, 9);
      }
    }
  });

  it('stays exact while writes between searches move the average length (cached term bounds)', () => {
    const next = random(7);
    const vocabulary = Array.from({ length: 120 }, (_, i) => `t${i}`);
    const pick = () => vocabulary[Math.floor(vocabulary.length * next() ** 2)];
    const docs = new Map<string, Map<string, number>>();
    const partition = new Bm25Partition();
    let counter = 0;
    const add = (length: number, repeat = 1) => {
      const id = `d${counter++}`;
      const terms = new Map<string, number>();
      for (let i = 0; i < length; i++) {
        const term = pick();
        terms.set(term, (terms.get(term) ?? 0) + repeat);
      }
      docs.set(id, terms);
      partition.put({ id, kbId: 'kb', documentId: id, metadata: undefined }, terms);
    };
    for (let i = 0; i < 800; i++) add(40);
    for (let round = 0; round < 30; round++) {
      // long documents raise the average (older bounds become too low), short ones with high tf lower it
      for (let i = 0; i < 40; i++) {
        if (round % 2 === 0) add(200);
        else add(3, 4);
      }
      if (round % 5 === 4) {
        for (const id of [...docs.keys()].filter((_, i) => i % 7 === round % 7).slice(0, 50)) {
          partition.remove(id, docs.get(id)!.keys());
          docs.delete(id);
        }
      }
      const query = Array.from({ length: 3 + Math.floor(next() * 8) }, pick);
      const want = referenceTop(docs, query, 10);
      const actual = searchBm25([partition], query, DEFAULT_BM25_PARAMETERS, 10);
      expect(actual.map((hit) => hit.score)).toEqual(want.map((entry) => expect.closeTo(entry.score, 9)));
    }
  });

  it('finds a chunk added after a search whose term score beats the cached bound of that term', () => {
    const docs = new Map<string, Map<string, number>>();
    const partition = new Bm25Partition();
    const put = (id: string, terms: Map<string, number>) => {
      docs.set(id, terms);
      partition.put({ id, kbId: 'kb', documentId: id, metadata: undefined }, terms);
    };
    for (let i = 0; i < 1000; i++) {
      const terms = new Map([['filler', 60]]);
      if (i < 20) terms.set('rare', 1);
      if (i >= 500 && i < 550) terms.set('medium', 1).set('filler', 120); // long chunks: a low bound for "medium"
      put(`d${i}`, terms);
    }
    const query = ['rare', 'medium'];
    expect(searchBm25([partition], query, DEFAULT_BM25_PARAMETERS, 1)[0].item.id).toBe(referenceTop(docs, query, 1)[0].id);
    // a short chunk saying "medium" ten times: far above the bound cached by the search above,
    // while the average length barely moves
    put('short', new Map([['medium', 10]]));
    const [best] = searchBm25([partition], query, DEFAULT_BM25_PARAMETERS, 1);
    expect(referenceTop(docs, query, 1)[0].id).toBe('short');
    expect(best.item.id).toBe('short');
  });

  it('a filter that rejects the best chunks still yields k accepted ones', () => {
    const partition = new Bm25Partition();
    for (let i = 0; i < 200; i++) {
      partition.put(
        { id: `d${i}`, kbId: 'kb', documentId: `d${i}`, metadata: { even: i % 2 === 0 } },
        new Map([
          ['alpha', 1 + (i % 7)],
          ['beta', 1],
        ]),
      );
    }
    const hits = searchBm25([partition], ['alpha', 'beta'], DEFAULT_BM25_PARAMETERS, 5, (entry) => entry.metadata?.even === false);
    expect(hits).toHaveLength(5);
    expect(hits.every((hit) => Number(hit.item.id.slice(1)) % 2 === 1)).toBe(true);
  });
});
