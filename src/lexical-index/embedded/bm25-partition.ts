import { Bm25Parameters, bm25Idf } from '../bm25';

/**
 * An in-memory BM25 inverted index over the chunks of one (tenant, knowledge base).
 *
 * Postings are packed into growable Int32Arrays, one int per (chunk, term): `slot << 8 | tf`
 * (tf capped at 255), so ~100k chunks of ~150 distinct terms take ~60 MB. A removed chunk
 * leaves a dead slot that searches skip; once dead slots pass a quarter of all, the partition
 * compacts itself (renumbers slots and rewrites the postings).
 */
export interface PartitionEntry {
  id: string;
  kbId: string;
  documentId: string;
  metadata: Record<string, unknown> | undefined;
}

const MAX_TF = 255;
const TF_BITS = 8;
const MAX_SLOTS = 1 << (31 - TF_BITS);
/**
 * A term's score bound is computed for an average length this much above the current one, so it
 * stays valid (a larger average only raises scores) while ingestion moves the average a little.
 */
const BOUND_AVERAGE_HEADROOM = 1.05;

class PostingList {
  data = new Int32Array(4);
  size = 0;
  /** chunks alive that hold the term */
  documentFrequency = 0;
  /**
   * The most one posting adds to a chunk's score per unit of idf, for any average length up to
   * `boundAverage` with `boundK1`/`boundB` (0 until a search needs it): MaxScore's term bound.
   */
  maxImpact = 0;
  boundAverage = 0;
  boundK1 = 0;
  boundB = 0;

  push(value: number): void {
    if (this.size === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.size++] = value;
  }
}

export class Bm25Partition {
  private readonly postings = new Map<string, PostingList>();
  private entries: (PartitionEntry | undefined)[] = [];
  /** document length per slot; 0 for a dead slot */
  private lengths = new Uint32Array(64);
  private readonly slotById = new Map<string, number>();
  private deadSlots = 0;
  private totalTerms = 0;
  private scores = new Float64Array(0);

  get size(): number {
    return this.slotById.size;
  }

  get totalLength(): number {
    return this.totalTerms;
  }

  documentFrequency(term: string): number {
    return this.postings.get(term)?.documentFrequency ?? 0;
  }

  has(id: string): boolean {
    return this.slotById.has(id);
  }

  /**
   * Adds or replaces a chunk; `frequencies` are its analyzed terms with counts. Replacing
   * without a prior `remove(id, terms)` costs a compaction: callers remove first.
   */
  put(entry: PartitionEntry, frequencies: ReadonlyMap<string, number>): void {
    this.remove(entry.id);
    let length = 0;
    for (const tf of frequencies.values()) length += tf;
    if (length === 0) length = 1; // a chunk with no terms stays countable but never matches
    const slot = this.entries.length;
    if (slot >= MAX_SLOTS) throw new Error(`a lexical partition holds at most ${MAX_SLOTS} chunks`);
    this.entries.push(entry);
    if (slot >= this.lengths.length) {
      const grown = new Uint32Array(this.lengths.length * 2);
      grown.set(this.lengths);
      this.lengths = grown;
    }
    this.lengths[slot] = length;
    this.slotById.set(entry.id, slot);
    this.totalTerms += length;
    for (const [term, tf] of frequencies) {
      let list = this.postings.get(term);
      if (!list) this.postings.set(term, (list = new PostingList()));
      const cappedTf = Math.min(tf, MAX_TF);
      list.push((slot << TF_BITS) | cappedTf);
      list.documentFrequency++;
      if (list.boundAverage > 0)
        list.maxImpact = Math.max(list.maxImpact, impact(cappedTf, length, list.boundK1, list.boundB, list.boundAverage));
    }
  }

  /**
   * Removes a chunk. `terms` are the distinct terms it was indexed with (the caller keeps them
   * in its store, this index does not, to stay small); without them the document frequencies
   * are recounted from the postings.
   */
  remove(id: string, terms?: Iterable<string>): void {
    const slot = this.slotById.get(id);
    if (slot === undefined) return;
    this.slotById.delete(id);
    this.entries[slot] = undefined;
    this.totalTerms -= this.lengths[slot];
    this.lengths[slot] = 0;
    this.deadSlots++;
    if (terms) {
      for (const term of terms) {
        const list = this.postings.get(term);
        if (list) list.documentFrequency--;
      }
      if (this.deadSlots > 1024 && this.deadSlots * 4 > this.entries.length) this.compact();
    } else {
      this.compact();
    }
  }

  /** drops dead slots: renumbers the live ones and rewrites the postings and frequencies */
  compact(): void {
    const newSlot = new Int32Array(this.entries.length).fill(-1);
    const entries: PartitionEntry[] = [];
    const lengths = new Uint32Array(Math.max(64, this.slotById.size * 2));
    this.entries.forEach((entry, slot) => {
      if (!entry) return;
      newSlot[slot] = entries.length;
      lengths[entries.length] = this.lengths[slot];
      this.slotById.set(entry.id, entries.length);
      entries.push(entry);
    });
    for (const [term, list] of this.postings) {
      let kept = 0;
      for (let i = 0; i < list.size; i++) {
        const slot = newSlot[list.data[i] >>> TF_BITS];
        if (slot >= 0) list.data[kept++] = (slot << TF_BITS) | (list.data[i] & MAX_TF);
      }
      if (kept === 0) {
        this.postings.delete(term);
      } else {
        list.size = kept;
        list.documentFrequency = kept;
      }
    }
    this.entries = entries;
    this.lengths = lengths;
    this.deadSlots = 0;
  }

  /**
   * Adds each live chunk's BM25 score for the weighted query terms, keeping the best that pass
   * `accept` in `heap`. `weight` is the term's idf; `averageLength` comes from the caller, so
   * several partitions searched together share one set of collection statistics.
   *
   * Exact top-k with MaxScore-style pruning: terms are taken rarest first; once the k-th best
   * score so far beats what all remaining terms together could add, no new chunk can enter the
   * top k, so the remaining (common, long) posting lists are only probed, by binary search, for
   * the chunks still in the race. Common words then cost almost nothing at 100k chunks. A term's
   * bound is the most any of its postings actually adds (cached per term), not the k1 + 1 limit,
   * so the pruning starts sooner.
   */
  score(
    query: readonly { term: string; weight: number }[],
    parameters: Bm25Parameters,
    averageLength: number,
    heap: TopK<PartitionEntry>,
    accept?: (entry: PartitionEntry) => boolean,
  ): void {
    const slots = this.entries.length;
    if (this.scores.length < slots) this.scores = new Float64Array(Math.max(slots, this.scores.length * 2));
    const scores = this.scores;
    const lengths = this.lengths;
    const { k1, b } = parameters;
    const lengthFactor = (k1 * b) / averageLength;
    const constantFactor = k1 * (1 - b);
    const terms: { list: PostingList; weight: number; bound: number }[] = [];
    for (const { term, weight } of query) {
      const list = this.postings.get(term);
      if (list) terms.push({ list, weight, bound: weight * this.maxImpact(list, k1, b, averageLength) });
    }
    terms.sort((x, y) => y.bound - x.bound);
    // remaining[i]: the most that terms i… can add to any chunk's score
    const remaining = new Float64Array(terms.length + 1);
    for (let i = terms.length - 1; i >= 0; i--) remaining[i] = remaining[i + 1] + terms[i].bound;

    let touched: number[] = [];
    let maxScore = 0;
    let next = 0;
    let threshold = -Infinity;
    for (; next < terms.length; next++) {
      if (next > 0 && remaining[next] < maxScore) {
        threshold = Math.max(heap.threshold(), this.kthBest(touched, heap.capacity, accept));
        if (threshold >= remaining[next]) break;
      }
      const { list, weight } = terms[next];
      const data = list.data;
      for (let i = 0; i < list.size; i++) {
        const posting = data[i];
        const slot = posting >>> TF_BITS;
        const length = lengths[slot];
        if (length === 0) continue;
        const tf = posting & MAX_TF;
        if (scores[slot] === 0) touched.push(slot);
        const score = (scores[slot] += (weight * tf * (k1 + 1)) / (tf + constantFactor + lengthFactor * length));
        if (score > maxScore) maxScore = score;
      }
    }
    while (next < terms.length) {
      // drop the chunks that can no longer reach the top k, then add term `next` to the rest
      const survivors: number[] = [];
      for (const slot of touched) {
        if (scores[slot] + remaining[next] > threshold) survivors.push(slot);
        else scores[slot] = 0;
      }
      touched = survivors;
      const { list, weight } = terms[next];
      if (touched.length * 16 < list.size) {
        for (const slot of touched) {
          const tf = findTermFrequency(list, slot);
          if (tf > 0) scores[slot] += (weight * tf * (k1 + 1)) / (tf + constantFactor + lengthFactor * lengths[slot]);
        }
      } else {
        const data = list.data;
        for (let i = 0; i < list.size; i++) {
          const slot = data[i] >>> TF_BITS;
          if (scores[slot] === 0) continue;
          const tf = data[i] & MAX_TF;
          scores[slot] += (weight * tf * (k1 + 1)) / (tf + constantFactor + lengthFactor * lengths[slot]);
        }
      }
      next++;
      threshold = Math.max(threshold, this.kthBest(touched, heap.capacity, accept));
    }
    for (const slot of touched) {
      const score = scores[slot];
      scores[slot] = 0;
      if (!heap.wouldAccept(score)) continue;
      const entry = this.entries[slot]!;
      if (accept && !accept(entry)) continue;
      heap.push(entry, score);
    }
  }

  /** the most one posting of the list adds per unit of idf at this average length (recomputed when the average outgrows the cached bound) */
  private maxImpact(list: PostingList, k1: number, b: number, averageLength: number): number {
    if (list.boundAverage < averageLength || list.boundK1 !== k1 || list.boundB !== b) {
      const boundAverage = averageLength * BOUND_AVERAGE_HEADROOM;
      let best = 0;
      const data = list.data;
      for (let i = 0; i < list.size; i++) {
        const length = this.lengths[data[i] >>> TF_BITS];
        if (length > 0) best = Math.max(best, impact(data[i] & MAX_TF, length, k1, b, boundAverage));
      }
      list.maxImpact = best;
      list.boundAverage = boundAverage;
      list.boundK1 = k1;
      list.boundB = b;
    }
    return list.maxImpact;
  }

  /** the k-th best current score among the given slots that pass `accept` (a lower bound of their final scores) */
  private kthBest(slots: readonly number[], k: number, accept?: (entry: PartitionEntry) => boolean): number {
    if (slots.length < k) return -Infinity;
    const best = new TopK<number>(k);
    for (const slot of slots) {
      const score = this.scores[slot];
      if (!best.wouldAccept(score)) continue;
      if (accept && !accept(this.entries[slot]!)) continue;
      best.push(slot, score);
    }
    return best.threshold();
  }
}

/** a posting's BM25 term score per unit of idf */
function impact(tf: number, length: number, k1: number, b: number, averageLength: number): number {
  return (tf * (k1 + 1)) / (tf + k1 * (1 - b) + (k1 * b * length) / averageLength);
}

/** tf of the chunk in `slot` in a posting list (sorted by slot), 0 when absent */
function findTermFrequency(list: PostingList, slot: number): number {
  const data = list.data;
  let low = 0;
  let high = list.size - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = data[middle] >>> TF_BITS;
    if (found === slot) return data[middle] & MAX_TF;
    if (found < slot) low = middle + 1;
    else high = middle - 1;
  }
  return 0;
}

/** the best `capacity` items by score (a min-heap) */
export class TopK<T> {
  private readonly items: { item: T; score: number }[] = [];

  constructor(readonly capacity: number) {}

  /** the score to beat once full; -Infinity before */
  threshold(): number {
    return this.items.length < this.capacity ? -Infinity : this.items[0].score;
  }

  wouldAccept(score: number): boolean {
    return this.capacity > 0 && (this.items.length < this.capacity || score > this.items[0].score);
  }

  push(item: T, score: number): void {
    const items = this.items;
    if (items.length < this.capacity) {
      items.push({ item, score });
      let i = items.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (items[parent].score <= items[i].score) break;
        [items[parent], items[i]] = [items[i], items[parent]];
        i = parent;
      }
      return;
    }
    if (score <= items[0].score) return;
    items[0] = { item, score };
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && items[left].score < items[smallest].score) smallest = left;
      if (right < items.length && items[right].score < items[smallest].score) smallest = right;
      if (smallest === i) break;
      [items[smallest], items[i]] = [items[i], items[smallest]];
      i = smallest;
    }
  }

  /** best first */
  sorted(): { item: T; score: number }[] {
    return [...this.items].sort((a, b) => b.score - a.score);
  }
}

/**
 * BM25 over several partitions as one collection (document count, average length and
 * document frequencies summed), so scores are comparable across the knowledge bases searched.
 * Each distinct query term counts once (measured on SciFact's train split: repeating a word in
 * a question does not make it more important).
 */
export function searchBm25(
  partitions: readonly Bm25Partition[],
  queryTerms: readonly string[],
  parameters: Bm25Parameters,
  topK: number,
  accept?: (entry: PartitionEntry) => boolean,
): { item: PartitionEntry; score: number }[] {
  let documentCount = 0;
  let totalLength = 0;
  for (const partition of partitions) {
    documentCount += partition.size;
    totalLength += partition.totalLength;
  }
  if (documentCount === 0 || topK <= 0) return [];
  const query: { term: string; weight: number }[] = [];
  for (const term of new Set(queryTerms)) {
    let documentFrequency = 0;
    for (const partition of partitions) documentFrequency += partition.documentFrequency(term);
    if (documentFrequency > 0) query.push({ term, weight: bm25Idf(documentCount, documentFrequency) });
  }
  const heap = new TopK<PartitionEntry>(topK);
  const averageLength = totalLength / documentCount;
  for (const partition of partitions) partition.score(query, parameters, averageLength, heap, accept);
  return heap.sorted();
}
