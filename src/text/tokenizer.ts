import cl100kBase from 'js-tiktoken/ranks/cl100k_base';

/**
 * Token counting with OpenAI's cl100k_base BPE (the encoding of text-embedding-3-* and
 * text-embedding-ada-002).
 *
 * tiktoken first splits text into "pieces" with a regex and encodes each piece on its own, so a
 * text's token count is the sum of its pieces' counts. We split with cl100k_base's own pattern
 * and merge each piece's bytes with js-tiktoken's rank table. js-tiktoken and gpt-tokenizer
 * rescan the whole piece for every merge, which is quadratic, and a run of letters or CJK without
 * punctuation is one piece (gpt-tokenizer took 19 s for 80k Chinese characters); our merge keeps
 * the pairs in a heap, O(n log n). A cache of piece counts makes repeated words free. The result
 * equals js-tiktoken's `encode(text).length` (tested).
 */
export const TOKENIZER_ENCODING = 'cl100k_base';

/**
 * No cl100k_base token is longer than 128 bytes (a run of spaces), so none covers more than 128
 * UTF-16 code units: a text of n code units has at least n / 128 tokens (checked in the tests).
 */
export const MAX_TOKEN_CHARS = 128;

/** A tiktoken piece: `text.slice(start, end)`, encoded to `tokens` tokens. */
export interface TokenPiece {
  start: number;
  end: number;
  tokens: number;
}

const PIECE_CACHE_LIMIT = 200_000;
/** longer pieces are rare (runs of CJK or symbols) and not worth caching */
const CACHEABLE_PIECE_LENGTH = 48;

const piecePattern = new RegExp(cl100kBase.pat_str, 'gu');
const pieceCounts = new Map<string, number>();

function countPiece(piece: string): number {
  if (piece.length > CACHEABLE_PIECE_LENGTH) return bytePairCount(piece);
  const cached = pieceCounts.get(piece);
  if (cached !== undefined) return cached;
  const count = bytePairCount(piece);
  if (pieceCounts.size >= PIECE_CACHE_LIMIT) pieceCounts.clear();
  pieceCounts.set(piece, count);
  return count;
}

/** Exact cl100k_base token count of `text` (special-token text counted as ordinary text). */
export function countTokens(text: string): number {
  let total = 0;
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(text); m !== null; m = piecePattern.exec(text)) total += countPiece(m[0]);
  return total;
}

/**
 * The token count of `text.slice(start, end)` if it is at most `limit`, else some number above
 * `limit`. Stops at the first piece past the limit and never encodes a piece too long to fit, so
 * the work is bounded by the limit rather than by the length of the range.
 */
export function countTokensUpTo(text: string, start: number, end: number, limit: number): number {
  if (end - start > limit * MAX_TOKEN_CHARS) return limit + 1;
  const slice = start === 0 && end === text.length ? text : text.slice(start, end);
  let total = 0;
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(slice); m !== null; m = piecePattern.exec(slice)) {
    if (m[0].length > (limit - total) * MAX_TOKEN_CHARS) return limit + 1;
    total += countPiece(m[0]);
    if (total > limit) return limit + 1;
  }
  return total;
}

/**
 * The tiktoken pieces of `text.slice(from, to)` with offsets into `text`. A piece too long to
 * hold at most `limit` tokens is not encoded: its `tokens` is Infinity.
 */
export function tokenPieces(text: string, from = 0, to = text.length, limit = Infinity): TokenPiece[] {
  const slice = from === 0 && to === text.length ? text : text.slice(from, to);
  const pieces: TokenPiece[] = [];
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(slice); m !== null; m = piecePattern.exec(slice)) {
    const tokens = m[0].length > limit * MAX_TOKEN_CHARS ? Infinity : countPiece(m[0]);
    pieces.push({ start: from + m.index, end: from + m.index + m[0].length, tokens });
  }
  return pieces;
}

interface MergeTables {
  /** rank by the token's bytes as a latin1 string */
  byBytes: Map<string, number>;
  /** rank of each single byte */
  byByte: Int32Array;
  /** bytes of each rank as a latin1 string */
  bytesOf: string[];
}

let mergeTables: MergeTables | undefined;

/** Built on the first piece counted here (~100k tokens, ~50 ms). */
function tables(): MergeTables {
  if (mergeTables !== undefined) return mergeTables;
  const byBytes = new Map<string, number>();
  const bytesOf: string[] = [];
  for (const line of cl100kBase.bpe_ranks.split('\n')) {
    const [, offset, ...tokens] = line.split(' ');
    if (offset === undefined) continue;
    const first = Number.parseInt(offset, 10);
    tokens.forEach((token, i) => {
      const bytes = Buffer.from(token, 'base64').toString('latin1');
      byBytes.set(bytes, first + i);
      bytesOf[first + i] = bytes;
    });
  }
  const byByte = new Int32Array(256);
  for (let b = 0; b < 256; b++) byByte[b] = byBytes.get(String.fromCharCode(b))!;
  mergeTables = { byBytes, byByte, bytesOf };
  return mergeTables;
}

/**
 * The rank two adjacent tokens merge into (-1: none), by (left rank, right rank), in a
 * direct-mapped cache: a new pair takes its slot over, so the cost per lookup stays flat however
 * many distinct pairs a text holds.
 */
const MERGE_SLOTS = 2 ** 19;
const mergeKeys = new Float64Array(MERGE_SLOTS).fill(-1);
const mergeRanks = new Int32Array(MERGE_SLOTS);
const RANK_RANGE = 2 ** 17; // cl100k_base has 100,256 ranks

function mergedRank(left: number, right: number, t: MergeTables): number {
  const key = left * RANK_RANGE + right;
  const slot = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca77)) >>> 13;
  if (mergeKeys[slot] === key) return mergeRanks[slot];
  const rank = t.byBytes.get(t.bytesOf[left] + t.bytesOf[right]) ?? -1;
  mergeKeys[slot] = key;
  mergeRanks[slot] = rank;
  return rank;
}

/** Scratch arrays of `bytePairCount`, grown as needed: one merge runs at a time. */
let bytes = new Uint8Array(0);
let next = new Int32Array(0);
let prev = new Int32Array(0);
let partRank = new Int32Array(0);
let pairRank = new Int32Array(0);
let heap = new Float64Array(0);
const utf8 = new TextEncoder();
const POSITION_RANGE = 2 ** 32;

/**
 * tiktoken's byte-pair merge (always merge the adjacent pair of lowest rank, leftmost first),
 * with the pairs in a binary heap and the parts in a linked list instead of a rescan per merge.
 * Every part is a token, so a pair's merge is looked up (and cached) by the two ranks.
 * Returns the number of tokens.
 */
function bytePairCount(piece: string): number {
  const t = tables();
  if (bytes.length < piece.length * 3 + 1) grow(piece.length * 3 + 1);
  const n = utf8.encodeInto(piece, bytes).written;
  if (n <= MAX_TOKEN_CHARS && t.byBytes.has(Buffer.from(bytes.buffer, 0, n).toString('latin1'))) return 1;
  // a part starts at every byte at first; next[i] is where the part after the one at i starts;
  // pairRank[i] is the rank of merging part i with the next (-1: none), and a heap entry
  // (rank * 2^32 + position) is stale unless it matches
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    partRank[i] = t.byByte[bytes[i]];
  }
  let size = 0;
  for (let i = 0; i < n - 1; i++) {
    const rank = mergedRank(partRank[i], partRank[i + 1], t);
    pairRank[i] = rank;
    if (rank >= 0) heap[size++] = rank * POSITION_RANGE + i;
  }
  pairRank[n - 1] = -1;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i, heap[i], size);
  let parts = n;
  while (size > 0) {
    const top = heap[0];
    const last = heap[--size];
    if (size > 0) siftDown(0, last, size);
    const i = top % POSITION_RANGE;
    const rank = (top - i) / POSITION_RANGE;
    if (pairRank[i] !== rank) continue;
    const removed = next[i];
    next[i] = next[removed];
    if (next[i] < n) prev[next[i]] = i;
    pairRank[removed] = -1;
    partRank[i] = rank;
    parts--;
    size = rankPair(i, n, size, t);
    if (prev[i] >= 0) size = rankPair(prev[i], n, size, t);
  }
  return parts;
}

/** Ranks the pair of part `at` and the next and pushes it; returns the heap's new size. */
function rankPair(at: number, n: number, size: number, t: MergeTables): number {
  const rank = next[at] < n ? mergedRank(partRank[at], partRank[next[at]], t) : -1;
  pairRank[at] = rank;
  return rank >= 0 ? siftUp(size, rank * POSITION_RANGE + at) : size;
}

function grow(length: number): void {
  bytes = new Uint8Array(length);
  next = new Int32Array(length);
  prev = new Int32Array(length);
  partRank = new Int32Array(length);
  pairRank = new Int32Array(length);
  // n pairs at first, and a merge removes one part and pushes at most two pairs
  heap = new Float64Array(3 * length);
}

/** Puts `key` into the heap of `size` entries; returns the new size. */
function siftUp(size: number, key: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= key) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = key;
  return size + 1;
}

/** Places `key` at `i` or below, in a heap of `size` entries. */
function siftDown(i: number, key: number, size: number): void {
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1] < heap[child]) child++;
    if (key <= heap[child]) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = key;
}
